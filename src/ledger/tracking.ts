/**
 * Tracking's side of the ledger: which messages are due for a look, and applying what Plivo reports,
 * whether read (GET, List) or pushed (status callbacks).
 *
 * Invariants:
 * - A message's number comes from Plivo's record (`to_number`), never from its position in the 202
 *   answer. The first report that gives it links the recipient (same batch, same number, no uuid yet) to
 *   the message, whether or not the report is news, and the recipient takes the message's status.
 * - Updates are applied by rank (sql/003): queued < sent < final by smsrun's own cut-off (`sent` past the
 *   receipt cut-off, `queued` or unknown past the expiry) < Plivo's final states. A report that ranks
 *   lower than what the ledger holds is older news and is ignored, so callbacks replayed, duplicated or
 *   out of order, and polls racing callbacks, all end in the same state. Among callbacks of one rank, the
 *   higher `Sequence` wins.
 * - A recipient's status follows its message: `submitted` while open, then the final state (`read`
 *   counts as `delivered`; `queued` given up past the expiry is `expired`; `sent` past the cut-off stays
 *   `sent`). RECIPIENT_STATUS is the one place that says so.
 * - A callback for a message the ledger does not know yet (its 202 is not recorded, or its batch is being
 *   reconciled) waits in `callback_inbox`, and is applied once the message is recorded. It is never
 *   taken as evidence that a batch was accepted.
 */
import type { Db, Queryable } from './db.js';
import { FINAL_STATES } from '../plivo/types.js';
import { OPTED_OUT_ERROR, suppressOptedOut } from './suppressions.js';

export type UpdateSource = 'get' | 'list' | 'callback';

/** What Plivo says about one message, from a record or a callback. */
export interface ProviderUpdate {
  uuid: string;
  /** Without '+'; null when the source did not say. */
  toNumber: string | null;
  state: string;
  /** Final: a final state, or smsrun's own cut-off (`sent` past the receipt cut-off, `queued` past the expiry). */
  final: boolean;
  /** Why it is final without a final state from Plivo (a cut-off); shown as the report's reason. */
  reason?: string | null;
  errorCode: string | null;
  units: number | null;
  totalRate: string | null;
  totalAmount: string | null;
  messageTime: Date | null;
  /** Plivo's time of the state change, when the source says (message_updated_time, callback times). */
  providerUpdatedAt: Date | null;
  /** The callback's Sequence; null for a poll. */
  sequence: number | null;
  via: UpdateSource;
  /** For polls: when to look again if not final. */
  nextPollAt: Date | null;
  /** From a callback's url: the campaign and batch smsrun sent it in. */
  campaignId?: number | null;
  batchId?: number | null;
}

export interface ApplyResult {
  /** Messages that became final with this call. */
  finals: number;
  /** Callbacks for messages not recorded yet, kept in the inbox. */
  waiting: number;
  /** Updates that were about our messages (a List page also returns other traffic of the account). */
  matched: number;
}

/** A report's rank (sql/003, sql/005): final in a state Plivo would move on from is smsrun's own cut-off, 2. */
const rank = (final: string, state: string) =>
  `CASE WHEN ${final} THEN (CASE WHEN ${state} IN ('queued', 'sent') THEN 2 ELSE 3 END) WHEN ${state} = 'sent' THEN 1 ELSE 0 END`;
const RANK_NEW = rank('u.final', 'u.state');
const RANK_OLD = rank('m.final_at IS NOT NULL', 'm.state');

/** The recipient status a message's row means (see the file's invariants). */
export const RECIPIENT_STATUS = `CASE WHEN m.final_at IS NULL THEN 'submitted' WHEN m.state = 'read' THEN 'delivered'
  WHEN m.state = 'queued' THEN 'expired' ELSE m.state END`;

/** Applies provider reports in one transaction (three set-based statements); see the file's invariants. */
export async function applyProviderUpdates(db: Db, updates: readonly ProviderUpdate[]): Promise<ApplyResult> {
  if (updates.length === 0) return { finals: 0, waiting: 0, matched: 0 };
  return db.transaction((tx) => applyIn(tx, updates));
}

async function applyIn(tx: Queryable, updates: readonly ProviderUpdate[]): Promise<ApplyResult> {
  // Lock the rows first, in one order: the statement below judges news from its snapshot, so a
  // concurrent writer (the receiver and the tracker, two webhooks) must commit before we read.
  await tx.query('SELECT 1 FROM messages WHERE message_uuid = ANY($1::text[]) ORDER BY message_uuid FOR UPDATE', [updates.map((u) => u.uuid)]);
  const col = <K extends keyof ProviderUpdate>(k: K) => updates.map((u) => u[k] ?? null);
  const params = [col('uuid'), col('toNumber'), col('state'), col('final'), col('reason'), col('errorCode'), col('units'),
    col('totalRate'), col('totalAmount'), col('messageTime'), col('providerUpdatedAt'), col('sequence'), col('via'), col('nextPollAt'),
    col('campaignId'), col('batchId')];
  const input = `unnest($1::text[], $2::text[], $3::text[], $4::bool[], $5::text[], $6::text[], $7::int[], $8::numeric[], $9::numeric[],
      $10::timestamptz[], $11::timestamptz[], $12::int[], $13::text[], $14::timestamptz[], $15::int[], $16::int[])
    AS u(uuid, to_number, state, final, reason, error_code, units, total_rate, total_amount, message_time, provider_updated_at,
         seq, via, next_poll_at, campaign_id, batch_id)`;
  // Per message, the best report of this call (highest rank, then highest sequence), and whether it is news.
  const [result] = await tx.query<{ finals: number; matched: number }>(
    `WITH best AS (
       SELECT DISTINCT ON (u.uuid) u.*, ${RANK_NEW} AS rank FROM ${input}
       ORDER BY u.uuid, ${RANK_NEW} DESC, u.seq DESC NULLS LAST),
     judged AS (
       SELECT u.*, (u.rank > ${RANK_OLD} OR (u.rank = ${RANK_OLD} AND u.rank < 3 AND (u.seq IS NULL OR u.seq > m.callback_seq))) AS news,
              m.final_at IS NULL AS was_open
       FROM best u JOIN messages m ON m.message_uuid = u.uuid),
     changed AS (
       UPDATE messages m SET
         to_number = coalesce(m.to_number, j.to_number),
         state = CASE WHEN j.news THEN j.state ELSE m.state END,
         error_code = CASE WHEN j.news THEN coalesce(j.error_code, m.error_code) ELSE m.error_code END,
         units = CASE WHEN j.news THEN coalesce(j.units, m.units) ELSE m.units END,
         total_rate = CASE WHEN j.news THEN coalesce(j.total_rate, m.total_rate) ELSE m.total_rate END,
         total_amount = CASE WHEN j.news THEN coalesce(j.total_amount, m.total_amount) ELSE m.total_amount END,
         message_time = coalesce(j.message_time, m.message_time),
         provider_updated_at = CASE WHEN j.news THEN coalesce(j.provider_updated_at, m.provider_updated_at) ELSE m.provider_updated_at END,
         updated_at = now(),
         final_at = CASE WHEN j.news AND j.final THEN coalesce(m.final_at, now()) ELSE m.final_at END,
         final_via = CASE WHEN j.news AND j.final THEN j.via ELSE m.final_via END,
         final_reason = CASE WHEN j.news THEN CASE WHEN j.final THEN j.reason END ELSE m.final_reason END,
         callback_seq = greatest(m.callback_seq, coalesce(j.seq, 0)),
         polls = m.polls + CASE WHEN j.via = 'callback' THEN 0 ELSE 1 END,
         next_poll_at = coalesce(j.next_poll_at, m.next_poll_at)
       FROM judged j WHERE m.message_uuid = j.uuid
       RETURNING m.message_uuid, m.batch_id, m.to_number, ${RECIPIENT_STATUS} AS recipient_status, j.news, j.final AND j.was_open AS became_final),
     recipients_done AS (
       -- Linked on first sight (news or not), then kept in step with its message.
       UPDATE recipients r SET message_uuid = c.message_uuid, status = c.recipient_status
       FROM changed c
       WHERE r.batch_id = c.batch_id AND r.dst = c.to_number
         AND r.status NOT IN ('pending', 'invalid', 'duplicate')
         AND (r.message_uuid IS NULL OR (r.message_uuid = c.message_uuid AND r.status <> c.recipient_status))
       RETURNING 1)
     SELECT count(*) FILTER (WHERE became_final AND news)::int AS finals, count(*)::int AS matched FROM changed`,
    params,
  );
  // Error 200 (the recipient opted out): the number joins the account's suppression list (sql/012).
  await suppressOptedOut(tx, updates.filter((u) => u.errorCode === OPTED_OUT_ERROR).map((u) => u.uuid));
  // Callbacks for messages not recorded yet wait for them (every sequence, deduplicated).
  const waiting = await tx.query(
    `INSERT INTO callback_inbox (message_uuid, sequence, campaign_id, batch_id, state, to_number, error_code, units,
                                 total_rate, total_amount, message_time, provider_updated_at)
     SELECT u.uuid, coalesce(u.seq, 0), u.campaign_id, u.batch_id, u.state, u.to_number, u.error_code, u.units, u.total_rate, u.total_amount,
            u.message_time, u.provider_updated_at
     FROM ${input}
     WHERE u.via = 'callback' AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.message_uuid = u.uuid)
     ON CONFLICT (message_uuid, sequence) DO NOTHING
     RETURNING 1`,
    params,
  );
  return { finals: result?.finals ?? 0, waiting: waiting.length, matched: result?.matched ?? 0 };
}

const INBOX_KEEP_DAYS = 7;

/** Applies (and removes) the inbox's callbacks whose messages are now recorded; prunes the ones never claimed. */
export async function applyWaitingCallbacks(db: Db): Promise<ApplyResult> {
  return db.transaction(async (tx) => {
    await tx.query(`DELETE FROM callback_inbox WHERE received_at < now() - make_interval(days => $1)`, [INBOX_KEEP_DAYS]);
    const rows = await tx.query<{
      message_uuid: string; sequence: number; state: string; to_number: string | null; error_code: string | null; units: number | null;
      total_rate: string | null; total_amount: string | null; message_time: Date | null; provider_updated_at: Date | null;
    }>(
      `DELETE FROM callback_inbox i USING messages m WHERE i.message_uuid = m.message_uuid
       RETURNING i.message_uuid, i.sequence, i.state, i.to_number, i.error_code, i.units, i.total_rate::text, i.total_amount::text,
                 i.message_time, i.provider_updated_at`,
    );
    if (rows.length === 0) return { finals: 0, waiting: 0, matched: 0 };
    return applyIn(tx, rows.map((r) => ({
      uuid: r.message_uuid, toNumber: r.to_number, state: r.state, final: isFinalState(r.state),
      errorCode: r.error_code, units: r.units, totalRate: r.total_rate, totalAmount: r.total_amount, messageTime: r.message_time,
      providerUpdatedAt: r.provider_updated_at, sequence: r.sequence, via: 'callback', nextPollAt: null,
    })));
  });
}

export function isFinalState(state: string): boolean {
  return (FINAL_STATES as ReadonlySet<string>).has(state);
}

export interface DueMessage {
  message_uuid: string;
  sent_after: Date;
  submitted_at: Date;
  /** When its look became due. */
  due_since: Date;
  /** Its message_expiry in seconds: the job's, else Plivo's default (10 800, 3 h). */
  expiry_s: number;
  /** When a message still `queued`, or unknown to Plivo (404), is given up on: its expiry plus the margin after its 202. */
  give_up_at: Date;
}

/** Plivo's message_expiry when a request gives none (seconds). */
export const PLIVO_DEFAULT_EXPIRY_S = 10_800;

export interface DueRule {
  /** A message is first looked at this long after its request left. */
  firstLookMs: number;
  /**
   * With callbacks, a message is looked at only once its callbacks had this long to finish it (Plivo
   * retries a failed callback for about 7 minutes), whatever the schedule says.
   */
  callbackGraceMs: number | null;
  /** How long past its expiry a message that Plivo still holds `queued` (or does not know) is waited for. */
  giveUpMarginMs: number;
}

/** Open messages whose next look is due, oldest request first. */
export async function dueMessages(db: Queryable, campaignId: number, rule: DueRule, limit: number): Promise<DueMessage[]> {
  return db.query<DueMessage>(
    `SELECT m.message_uuid, m.sent_after, m.submitted_at,
            CASE WHEN m.polls = 0 THEN greatest(m.next_poll_at, m.sent_after + make_interval(secs => $2::float8 / 1000)) ELSE m.next_poll_at END AS due_since,
            e.expiry_s, m.submitted_at + make_interval(secs => e.expiry_s + $5::float8 / 1000) AS give_up_at
     FROM messages m
     CROSS JOIN (SELECT coalesce((job->>'message_expiry')::float8, $6)::float8 AS expiry_s FROM campaigns WHERE id = $1) e
     WHERE m.campaign_id = $1 AND m.final_at IS NULL AND m.next_poll_at <= now()
       AND (m.polls > 0 OR m.sent_after <= now() - make_interval(secs => $2::float8 / 1000))
       AND ($3::float8 IS NULL OR m.sent_after <= now() - make_interval(secs => $3::float8 / 1000))
     ORDER BY m.sent_after LIMIT $4`,
    [campaignId, rule.firstLookMs, rule.callbackGraceMs, limit, rule.giveUpMarginMs, PLIVO_DEFAULT_EXPIRY_S],
  );
}

/** When each of our messages sent in [from, to] left, in order: how many records a List window will hold. */
export async function sendTimes(db: Queryable, campaignId: number, from: Date, to: Date, limit: number): Promise<number[]> {
  const rows = await db.query<{ t: Date }>(
    `SELECT sent_after AS t FROM messages WHERE campaign_id = $1 AND sent_after BETWEEN $2 AND $3 ORDER BY sent_after LIMIT $4`,
    [campaignId, from, to, limit],
  );
  return rows.map((r) => r.t.getTime());
}

export interface TrackingBacklog {
  open: number;
  /** When the next open message will be due (its schedule, not counting the first-look rule). */
  nextAt: Date | null;
}

export async function trackingBacklog(db: Queryable, campaignId: number): Promise<TrackingBacklog> {
  const [row] = await db.query<TrackingBacklog>(
    `SELECT count(*)::int AS open, min(next_poll_at) AS "nextAt"
     FROM messages WHERE campaign_id = $1 AND final_at IS NULL`,
    [campaignId],
  );
  return row!;
}

/** Looks that failed (Plivo busy, record unknown yet) are tried again, each after its own delay. */
export async function postponeLookups(db: Queryable, lookups: readonly { uuid: string; delayMs: number }[]): Promise<void> {
  if (lookups.length === 0) return;
  await db.query(
    `UPDATE messages m SET next_poll_at = now() + make_interval(secs => l.delay_ms / 1000), polls = polls + 1
     FROM unnest($1::text[], $2::float8[]) AS l(uuid, delay_ms) WHERE m.message_uuid = l.uuid`,
    [lookups.map((l) => l.uuid), lookups.map((l) => l.delayMs)],
  );
}

/**
 * Open messages that Plivo does not know (404) past their give-up time become final, `expired`, with the
 * reason; their recipients follow if linked. Returns the batches of the messages that became final (an
 * unlinked recipient of theirs is for ledger/unaccounted.ts).
 */
export async function giveUpUnknown(db: Db, gone: readonly { uuid: string; reason: string }[]): Promise<number[]> {
  if (gone.length === 0) return [];
  return db.transaction(async (tx) => {
    const rows = await tx.query<{ batch_id: number }>(
      `UPDATE messages m SET final_at = now(), final_via = 'get', final_reason = g.reason, updated_at = now(), polls = polls + 1
       FROM unnest($1::text[], $2::text[]) AS g(uuid, reason)
       WHERE m.message_uuid = g.uuid AND m.final_at IS NULL
       RETURNING m.batch_id`,
      [gone.map((g) => g.uuid), gone.map((g) => g.reason)],
    );
    await tx.query(
      `UPDATE recipients r SET status = ${RECIPIENT_STATUS} FROM messages m
       WHERE m.message_uuid = ANY($1::text[]) AND r.message_uuid = m.message_uuid AND r.batch_id = m.batch_id`,
      [gone.map((g) => g.uuid)],
    );
    return rows.map((r) => r.batch_id);
  });
}

/**
 * When each of the account's first `limit` List slots (sql/014 `account_slots`, kind 'list') comes free, in
 * milliseconds from now by the database clock (0: free now), soonest first. Tracking plans its listings with
 * it: slots another run holds free only when their minute is over.
 */
export async function listSlotsFreeIn(db: Queryable, account: string, limit: number): Promise<number[]> {
  const rows = await db.query<{ ms: number }>(
    `SELECT greatest(0, extract(epoch FROM free_at - now()) * 1000)::float8 AS ms FROM account_slots
     WHERE account = $1 AND kind = 'list' AND slot < $2 ORDER BY free_at, slot`,
    [account, limit],
  );
  return rows.map((r) => r.ms);
}
