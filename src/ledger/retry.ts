/**
 * `smsrun retry` (sql/012): a new campaign of some of a campaign's recipients, linked to it by `retry_of`.
 * The rows are copied as loaded (row and line numbers, number, rendered text, CSV fields), so the retry's
 * report lines up with the original CSV, then dealt to senders and batched as a load is.
 *
 * Nobody already reached is texted again: a number is left out when any campaign of the family (the
 * first campaign and every retry made from it, at any depth) has it delivered, `sent` (handed to the
 * carrier: maybe delivered), or on its way (`pending`, `sending`, `submitted`: another retry not run yet,
 * or a request not settled).
 */
import type { Db } from './db.js';
import { finalizeLoad, insertCampaign } from './load.js';
import type { CampaignRow } from './campaigns.js';

/** Statuses a retry may take: final, and never handed to a carrier. */
export const RETRYABLE_STATUSES = ['failed', 'undelivered', 'expired', 'rejected', 'cancelled'] as const;
export const DEFAULT_RETRY_STATUSES = ['failed', 'undelivered', 'expired'] as const;
const REACHED_OR_ON_ITS_WAY = ['delivered', 'sent', 'submitted', 'sending', 'pending'];

export interface RetryResult {
  campaignId: number;
  /** Recipients of the new campaign, per status they had in the original. */
  byStatus: Record<string, number>;
  /** Recipients with a chosen status left out because the family reached (or is reaching) their number. */
  leftOut: number;
}

export async function createRetryCampaign(
  db: Db, original: CampaignRow, o: { name: string; statuses: readonly string[]; batchSize: number },
): Promise<RetryResult | undefined> {
  return db.transaction(async (tx) => {
    const [root] = await tx.query<{ id: number }>(
      `WITH RECURSIVE up(id, retry_of) AS (SELECT id, retry_of FROM campaigns WHERE id = $1
         UNION ALL SELECT c.id, c.retry_of FROM campaigns c JOIN up ON c.id = up.retry_of)
       SELECT id FROM up WHERE retry_of IS NULL`,
      [original.id],
    );
    const campaignId = await insertCampaign(tx, {
      name: o.name,
      job: { ...original.job, name: o.name },
      jobFile: original.job_file,
      csvFile: original.csv_file,
      csvSha256: original.csv_sha256,
      contentHash: `retry of ${original.name}: ${original.content_hash}`,
      senders: original.senders,
      // A sandbox campaign's retry is a sandbox campaign (sql/007): `smsrun resume NEW --sandbox` sends it.
      sandbox: original.sandbox,
    });
    await tx.query('UPDATE campaigns SET retry_of = $2 WHERE id = $1', [campaignId, original.id]);
    // `d.dst COLLATE "C"`: what recipients_dst_bytes (sql/025) answers; the same equality
    const copied = await tx.query<{ status: string; n: number }>(
      `WITH RECURSIVE family(id) AS (SELECT $3::int UNION SELECT c.id FROM campaigns c JOIN family f ON c.retry_of = f.id),
       chosen AS (
         SELECT r.* FROM recipients r
         WHERE r.campaign_id = $2 AND r.status = ANY($4::text[]) AND r.dst IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM recipients d WHERE d.campaign_id IN (SELECT id FROM family) AND d.campaign_id <> $1
                           AND d.dst COLLATE "C" = r.dst AND d.status = ANY($5::text[]))),
       -- time_zone too: the batches take their zone from it, and a batch without one has no send window.
       copied AS (
         INSERT INTO recipients (campaign_id, row_no, line_no, raw_dst, dst, text, units, status, reason, fields, time_zone)
         SELECT $1, row_no, line_no, raw_dst, dst, text, units, 'pending', NULL, fields, time_zone FROM chosen
         RETURNING 1)
       SELECT status, count(*)::int AS n FROM chosen GROUP BY status`,
      [campaignId, original.id, root!.id, o.statuses, REACHED_OR_ON_ITS_WAY],
    );
    const [chosen] = await tx.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM recipients WHERE campaign_id = $1 AND status = ANY($2::text[]) AND dst IS NOT NULL`,
      [original.id, o.statuses],
    );
    const total = copied.reduce((sum, c) => sum + c.n, 0);
    if (total === 0) {
      // Nothing to send: leave no empty campaign behind.
      await tx.query('DELETE FROM campaigns WHERE id = $1', [campaignId]);
      return undefined;
    }
    await finalizeLoad(tx, campaignId, original.senders, o.batchSize, original.csv_columns ?? undefined);
    return { campaignId, byStatus: Object.fromEntries(copied.map((c) => [c.status, c.n])), leftOut: chosen!.n - total };
  });
}

/** The next free `<name>-retryN`. */
export async function nextRetryName(db: Db, name: string): Promise<string> {
  const rows = await db.query<{ name: string }>(`SELECT name FROM campaigns WHERE name LIKE $1`, [`${name.replace(/[\\%_]/g, '\\$&')}-retry%`]);
  const taken = new Set(rows.map((r) => r.name));
  let n = 1;
  while (taken.has(`${name}-retry${n}`)) n++;
  return `${name}-retry${n}`;
}
