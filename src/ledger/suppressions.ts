/**
 * The suppression list (sql/012): numbers an account must not text, with why, where from and when.
 *
 * Suppression is checked three times for a campaign:
 *   - as each chunk of the CSV is loaded (planRows in ledger/load-chunks.ts, with SUPPRESSED_REASON), before
 *     it is batched;
 *   - scrubSuppressed: at the start of every run, once the load's first chunk is in, one set-based UPDATE turns
 *     the `pending` recipients whose number is listed into `suppressed` (rows an earlier run loaded);
 *   - CLAIM_NOT_SUPPRESSED / suppressAtClaim: when a batch is claimed, so a number listed mid-campaign (an
 *     inbound STOP, `smsrun suppress add` from another shell, error 200 on another campaign) is never sent.
 */
import type { Queryable } from './db.js';

export interface Suppression {
  number: string;
  reason: string;
  source: string;
  created_at: Date;
}

export interface NewSuppression {
  /** E.164 without '+'. */
  number: string;
  reason: string;
  source: string;
}

/**
 * Adds numbers to an account's list. A number already listed keeps its first reason and source (the
 * earliest opt-out is the one that matters). Returns how many were new.
 */
export async function addSuppressions(db: Queryable, account: string, rows: readonly NewSuppression[]): Promise<number> {
  if (rows.length === 0) return 0;
  const added = await db.query(
    `INSERT INTO suppressions (account, number, reason, source)
     SELECT $1, u.number, u.reason, u.source FROM unnest($2::text[], $3::text[], $4::text[]) AS u(number, reason, source)
     ON CONFLICT (account, number) DO NOTHING RETURNING 1`,
    [account, rows.map((r) => r.number), rows.map((r) => r.reason), rows.map((r) => r.source)],
  );
  return added.length;
}

/** Lifts numbers from an account's list; returns how many were listed. */
export async function removeSuppressions(db: Queryable, account: string, numbers: readonly string[]): Promise<number> {
  const removed = await db.query(
    'DELETE FROM suppressions WHERE account = $1 AND number = ANY($2::text[]) RETURNING 1', [account, numbers]);
  return removed.length;
}

/** A page of an account's list in number order, after `afterNumber` (keyset paging: flat memory for any size). */
export async function suppressionPage(db: Queryable, account: string, afterNumber: string, limit: number): Promise<Suppression[]> {
  return db.query<Suppression>(
    `SELECT number, reason, source, created_at FROM suppressions WHERE account = $1 AND number > $2 ORDER BY number LIMIT $3`,
    [account, afterNumber, limit],
  );
}

/**
 * The listed ones among `numbers` (E.164 without '+'), for `plan`: which rows of a CSV would be
 * `suppressed`, with the reason. One round trip per call; call it per chunk of rows.
 */
export async function suppressedAmong(db: Queryable, account: string, numbers: readonly string[]): Promise<Suppression[]> {
  if (numbers.length === 0) return [];
  return db.query<Suppression>(
    `SELECT s.number, s.reason, s.source, s.created_at FROM suppressions s
     WHERE s.account = $1 AND s.number = ANY($2::text[])`,
    [account, numbers],
  );
}

/**
 * Whether this ledger has suppression lists (sql/012) at all: `plan` reads a ledger as it is, without
 * migrating it, and an older one has no list to consult.
 */
export async function hasSuppressionLists(db: Queryable): Promise<boolean> {
  const [row] = await db.query<{ present: boolean }>(`SELECT to_regclass('suppressions') IS NOT NULL AS present`);
  return row?.present === true;
}

/** How many numbers an account's list holds. */
export async function countSuppressions(db: Queryable, account: string): Promise<number> {
  const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM suppressions WHERE account = $1', [account]);
  return row!.n;
}

/** Suppressed recipients of a campaign (count, and the first rows), for `plan` and summaries. */
export async function suppressedRecipients(db: Queryable, campaignId: number, limit: number): Promise<{ count: number; rows: { row_no: number; line_no: number; dst: string; reason: string }[] }> {
  const [n] = await db.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM recipients WHERE campaign_id = $1 AND status = 'suppressed'`, [campaignId]);
  const rows = await db.query<{ row_no: number; line_no: number; dst: string; reason: string }>(
    `SELECT row_no, line_no, dst, reason FROM recipients WHERE campaign_id = $1 AND status = 'suppressed' ORDER BY row_no LIMIT $2`,
    [campaignId, limit]);
  return { count: n!.count, rows };
}

/**
 * The reason a scrubbed or claim-time-suppressed recipient shows in the report. The claim (ledger/sending.ts
 * `claimDue`, its `candidates` step) suppresses at claim time: no listed number is in the `dst` of a request
 * claimed after the number was listed.
 */
export const SUPPRESSED_REASON = `'on the suppression list (' || s.source || ', ' || to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC): ' || s.reason`;

/**
 * The scrub: records which account's list applies to the campaign, and turns its `pending` recipients
 * whose number is listed into `suppressed`. Set-based, on whatever rows the load wrote; safe to repeat
 * (every run does it). Never touches `sending` or later recipients: their request may have left.
 */
export async function scrubSuppressed(db: Queryable, campaignId: number, account: string): Promise<number> {
  await db.query('UPDATE campaigns SET suppression_account = $2 WHERE id = $1', [campaignId, account]);
  // `COLLATE "C"`: what recipients_dst_bytes (sql/025) answers; the same equality
  const rows = await db.query(
    `UPDATE recipients r SET status = 'suppressed', reason = ${SUPPRESSED_REASON}
     FROM suppressions s
     WHERE r.campaign_id = $1 AND r.status = 'pending' AND s.account = $2 AND s.number = r.dst COLLATE "C"
     RETURNING 1`,
    [campaignId, account],
  );
  return rows.length;
}

/**
 * The claim's guard on the campaign whose id is the SQL `campaign` (the claim's parameter: see windowOpen in
 * windows.ts for why not `b.campaign_id`): a cancelled campaign's batches are never claimed, even one that a
 * retryable answer put back to `pending` after the cancel.
 */
export function claimNotCancelled(campaign: string): string {
  return `NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.id = ${campaign} AND c.cancelled_at IS NOT NULL)`;
}

/** Plivo error 200: the recipient opted out (STOP to this sender). */
export const OPTED_OUT_ERROR = '200';

/**
 * Adds the numbers of these messages that Plivo failed with error 200 to their campaign's account list
 * (source 'error_200'), in the transaction that recorded the error. The number comes from the message
 * (Plivo's record, or the recipient linked to it).
 */
export async function suppressOptedOut(tx: Queryable, uuids: readonly string[]): Promise<number> {
  if (uuids.length === 0) return 0;
  const rows = await tx.query(
    `INSERT INTO suppressions (account, number, reason, source)
     SELECT DISTINCT ON (c.suppression_account, coalesce(m.to_number, r.dst)) c.suppression_account, coalesce(m.to_number, r.dst),
            'Plivo error 200: the recipient opted out (campaign ' || c.name || ', message ' || m.message_uuid || ')', 'error_200'
     FROM messages m JOIN campaigns c ON c.id = m.campaign_id
     LEFT JOIN recipients r ON r.campaign_id = m.campaign_id AND r.message_uuid = m.message_uuid
     WHERE m.message_uuid = ANY($1::text[]) AND m.error_code = $2
       AND c.suppression_account IS NOT NULL AND coalesce(m.to_number, r.dst) IS NOT NULL
     ON CONFLICT (account, number) DO NOTHING RETURNING 1`,
    [uuids, OPTED_OUT_ERROR],
  );
  return rows.length;
}
