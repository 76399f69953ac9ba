/**
 * The write-ahead protocol of sending. For each batch:
 *   1. claimDue commits `in_flight` (batch, attempt, recipients `sending`) BEFORE the request leaves;
 *   2. the outcome is committed as soon as it is read: recordAccepted / recordRetryable /
 *      recordPermanent / recordAmbiguous.
 * A crash between 1 and 2 leaves an `in_flight` attempt that nobody owns; adoptOrphans turns it into
 * `ambiguous`, and only reconciliation (ledger/reconcile.ts) may decide to send it again.
 */
import type { Db, Queryable } from './db.js';
import { claimNotCancelled, SUPPRESSED_REASON } from './suppressions.js';
import { WINDOWS } from './senders.js';
import { windowClosesAt, windowOpen } from './windows.js';

export interface ClaimedBatch {
  id: number;
  owner: string;
  sender: string;
  text: string | null;
  attemptId: number;
  attemptNo: number;
  /** Retryable failures this batch had in a row just before this attempt (what the give-up rule counts). */
  failuresBefore: number;
  dsts: string[];
  /** When its recipients' send window closes (null without one): the messages' expiry is cut to it. */
  windowClosesAt: Date | null;
  /**
   * The account request slot the claim took (sql/014 `account_slots`), and whose: recording the answer holds it
   * again for the window from the record's time, so the window counts from when the request reached Plivo at the
   * latest, not from its slot (a request held in a loaded process arrives later than its slot).
   */
  requestSlot?: { account: string; slot: number } | undefined;
}

/** Recipients still to be sent, or whose request is in flight or being reconciled. */
export async function countUnsent(db: Queryable, campaignId: number): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM recipients WHERE campaign_id = $1 AND status IN ('pending', 'sending')`, [campaignId]);
  return row!.n;
}

export interface ClaimOptions {
  account: string;
  campaignId: number;
  owner: string;
  /** Lease on each claimed batch: longer than the lookahead plus the request timeout (see reconciler's orphan adoption). */
  leaseMs: number;
  /** At most this many batches (one per sender) in one claim. */
  max: number;
  /**
   * A sender whose time comes within this many ms is claimed now: its request then waits in the process
   * until its slot (see Claimed.slotMs), so the claim's round trip never delays a departure. @default 0
   */
  lookaheadMs?: number | undefined;
  /** The client's request timeout, stored with each attempt: its reconciliation window is sized by it (sql/008). */
  requestTimeoutMs?: number | undefined;
  /** The database clock unless given (tests). */
  now?: Date | undefined;
  /**
   * Who paces this claim's requests: one id per process (shared by the campaigns it runs). A sender another
   * pacer claimed last is taken only HANDOVER_MS after its time (sql/024). Without one, no claim is held back
   * and the senders claimed are nobody's (tests of the statement alone).
   */
  pacer?: string | undefined;
}

/**
 * A sender that another process claimed last is claimed here only once its time is this far past: that process,
 * if alive and on time, claims it up to the lookahead before its time, so such a sender is one it has dropped
 * (dead, stopped, out of work for it, or behind). Keeping a sender with one process keeps its consecutive
 * requests in one departure gate (send/departures.ts), which spaces them by when they actually left; across
 * processes nothing can, and a request held late in one process (a stalled event loop) reached the simulator
 * together with the other process's next one, on time. At a hand-over, the previous process's last request
 * has its slot at least a spacing plus this margin before the new one's: it would have to leave that late to
 * bunch. Costs a dead process's senders this long (then any process takes them), and nothing while one process
 * sends from a number.
 */
export const HANDOVER_MS = 500;

export interface Claimed extends ClaimedBatch {
  campaignId: number;
  /**
   * When the sender's budget allows this request to leave, in ms since the epoch by the database clock
   * (never before the claim's `now`). The request must not depart before it (see send/departures.ts).
   */
  slotMs: number;
  /** The batch's cost / the sender's rate, in ms: the sender's spacing, for the process's own stricter gate. */
  intervalMs: number;
  /** With an account rate (sql/016): the batch's messages / that rate, in ms, for the process's account gate. */
  accountIntervalMs?: number;
}

export interface Claim {
  batches: Claimed[];
  /**
   * Milliseconds until the next sender is due (its time, a retry's backoff, a window's opening, a request
   * slot freeing), by the database clock; null when no batch of the campaign is pending. A claim made up to
   * the lookahead before that finds it.
   */
  nextInMs: number | null;
  /** The database clock when the claim ran (its statement's start, the `now` of its slots), ms since the epoch. */
  dbNowMs: number;
  /**
   * The database clock as the claim's answer was made (clock_timestamp(), near the statement's end): with
   * dbNowMs it brackets the statement's run time, which the process takes out of the round trip it measures
   * its offset by (send/departures.ts DbClock).
   */
  dbEndMs: number;
}

/**
 * The claim, in one statement: for every sender of the campaign whose time comes within the lookahead
 * (sender_budgets.tat <= now + lookahead) and that has a batch it may send (pending, due, campaign not
 * cancelled, send window open), take its next batch (lowest id) and one free request slot of the account
 * window each; give the batch the slot greatest(tat, now), advance the sender's GCRA time to slot + cost / rate,
 * hold the account slot until the batch's slot + the window, mark the batch in flight, write its attempt
 * ahead of the request and mark its recipients `sending` (or `suppressed`, for numbers on the account's list).
 * Sender rows, batches and slots are locked FOR UPDATE SKIP LOCKED, so processes claiming at once never take
 * one sender twice, one batch twice, or one slot twice; each just takes what the others left.
 *
 * The cost is destinations × units, or destinations with the job's `rate_counts: "messages"`. There is no
 * catch-up: an idle sender's slot is the claim's now, a busy one's slots are exactly cost / rate apart, so
 * the departures the process times by them never exceed the rate (GCRA with a burst of one batch).
 */
export async function claimDue(db: Queryable, o: ClaimOptions): Promise<Claim> {
  const rows = await db.query<{
    id: number | null; campaign_id: number; sender: string; text: string | null; attempts: number; attempt_id: number;
    failures_before: number; dsts: string[] | null; closes_at: Date | null; slot_ms: number; interval_ms: number; account_interval_ms: number | null;
    request_slot: number; next_in_ms: number | null; db_now_ms: number; db_end_ms: number;
  }>(CLAIM_SQL, [o.account, o.campaignId, o.owner, o.leaseMs, o.max, o.now ?? null, o.lookaheadMs ?? 0, WINDOWS.request.holdMs,
    o.requestTimeoutMs ?? null, o.pacer ?? null, HANDOVER_MS]);
  const summary = rows.find((r) => r.id === null)!;
  const batches = rows.filter((r) => r.id !== null).map((r): Claimed => ({
    id: r.id!, campaignId: r.campaign_id, owner: o.owner, sender: r.sender, text: r.text, attemptId: r.attempt_id,
    attemptNo: r.attempts, failuresBefore: r.failures_before, dsts: r.dsts ?? [],
    windowClosesAt: r.closes_at === null ? null : new Date(r.closes_at), slotMs: r.slot_ms, intervalMs: r.interval_ms,
    ...(r.account_interval_ms === null ? {} : { accountIntervalMs: r.account_interval_ms }),
    requestSlot: { account: o.account, slot: r.request_slot },
  }));
  const empty = batches.filter((b) => b.dsts.length === 0);
  if (empty.length > 0) await closeEmptyClaims(db, empty);
  return {
    batches: batches.filter((b) => b.dsts.length > 0), nextInMs: summary.next_in_ms, dbNowMs: summary.db_now_ms,
    dbEndMs: Math.max(summary.db_now_ms, summary.db_end_ms),
  };
}

/**
 * Batches whose every recipient was suppressed at the claim: closed as `suppressed` (sql/020; not `failed`,
 * which reads as a send failure) without a request, and their attempt, which never left, is taken back.
 * Rare, so a statement of its own rather than a branch of the claim; the sender's time and the request slot
 * the claim spent on them are not given back (stricter).
 */
async function closeEmptyClaims(db: Queryable, empty: readonly ClaimedBatch[]): Promise<void> {
  await db.query(
    `WITH closed AS (
       UPDATE batches SET status = 'suppressed', last_error = 'not sent: every recipient was suppressed at the claim', lease_owner = NULL,
              lease_expires_at = NULL, attempts = attempts - 1
       WHERE id = ANY($1::int[]) AND status = 'in_flight' RETURNING id)
     DELETE FROM attempts WHERE id = ANY($2::int[]) AND batch_id IN (SELECT id FROM closed)`,
    [empty.map((b) => b.id), empty.map((b) => b.attemptId)],
  );
}

/**
 * A pending batch `b` of campaign $2 that may be claimed now (its retry time, the cancel and its send window). The
 * campaign's checks name $2, so they are one-time filters and each sender's probe walks batches_pending in id order
 * and stops at the first batch it may claim.
 */
const MAY_CLAIM = `b.status = 'pending' AND b.campaign_id = $2 AND b.next_attempt_at <= clock.now
      AND ${claimNotCancelled('$2')} AND ${windowOpen('$2')}`;

/**
 * The campaign's senders' budget rows (`sb`), one index probe each: joined through the senders array rather than
 * filtered by `sb.sender = ANY(senders)`, which compared every budget row of the account with every sender of the
 * campaign (10 000 senders: 10^8 comparisons, twice per claim).
 */
const CAMPAIGN_SENDERS = `(SELECT DISTINCT unnest(senders) AS sender FROM campaigns WHERE id = $2) cs
  JOIN sender_budgets sb ON sb.account = $1 AND sb.sender = cs.sender`;

const CLAIM_SQL = `
WITH clock AS (SELECT coalesce($6::timestamptz, now()) AS now),
-- senders of the account whose time comes within the lookahead and that have a batch to claim in this campaign;
-- a sender another process ($10, the pacer) claimed last only once its time is the hand-over margin ($11) past
due AS (
  SELECT sb.sender, sb.rate, sb.tat FROM ${CAMPAIGN_SENDERS} CROSS JOIN clock
  -- a probe of batches_pending per sender, not EXISTS: the planner, misjudging a freshly loaded campaign's
  -- batches as one row, turned the EXISTS into a semi join that read every pending batch per sender
  -- (10 000 senders: minutes per claim); a LIMIT 1 lateral cannot be flattened, so it is always a probe
  CROSS JOIN LATERAL (SELECT 1 FROM batches b WHERE b.sender = sb.sender AND ${MAY_CLAIM} LIMIT 1) ready
  WHERE sb.tat <= clock.now + make_interval(secs => $7::float8 / 1000)
    AND ($10::text IS NULL OR sb.pacer IS NULL OR sb.pacer = $10 OR sb.tat <= clock.now - make_interval(secs => $11::float8 / 1000))
  ORDER BY sb.tat LIMIT $5
  FOR UPDATE OF sb SKIP LOCKED),
-- each one's next batch
pick AS (
  SELECT d.sender, d.rate, d.tat, nb.id, nb.cost, nb.messages FROM due d CROSS JOIN LATERAL (
    SELECT b.id, CASE WHEN c.job->>'rate_counts' = 'messages' THEN b.size ELSE b.size * b.units END AS cost, b.size AS messages
    FROM batches b JOIN campaigns c ON c.id = b.campaign_id, clock
    WHERE b.sender = d.sender AND ${MAY_CLAIM}
    ORDER BY b.id LIMIT 1
    FOR UPDATE OF b SKIP LOCKED) nb),
-- the account's message budget (sql/016), when some campaign of the account sets account_rate: locked, not
-- skipped, so claims of the account take it one after another
acct AS (
  SELECT ab.rate, greatest(ab.tat, clock.now) AS at0 FROM account_budgets ab, clock
  WHERE ab.account = $1 AND ab.rate IS NOT NULL
  FOR UPDATE OF ab),
-- each batch's slot, in sender order: no earlier than its sender's time s_k nor the account's time after the
-- batches before it. That recurrence (a_k = max(s_k, a_{k-1} + m_{k-1} / rate), a_0 ≥ the account's tat) in
-- closed form: a_k = max(at0, max over j ≤ k of (s_j − P_j)) + P_k, where P_k is the messages before batch k
-- over the account rate. Without an account rate, P is 0 and a_k = s_k (the rows are in s order).
paced AS (
  SELECT q.*, greatest(coalesce((SELECT at0 FROM acct), q.s), max(q.s - q.before) OVER w) + q.before AS at
  FROM (
    SELECT pick.*, greatest(pick.tat, clock.now) AS s, make_interval(secs => coalesce(
             (sum(pick.messages) OVER w - pick.messages) / (SELECT rate FROM acct), 0)) AS before
    FROM pick, clock WINDOW w AS (ORDER BY pick.tat, pick.id)) q
  WINDOW w AS (ORDER BY q.tat, q.id)),
-- the batches whose slot comes within the lookahead (slots grow along the order, so a prefix of it)
ready AS (
  SELECT paced.* FROM paced, clock WHERE paced.at <= clock.now + make_interval(secs => $7::float8 / 1000)),
-- one free slot of the account's request window per batch (the earliest senders get them)
free AS (
  SELECT a.slot FROM account_slots a, clock WHERE a.account = $1 AND a.kind = 'request' AND a.free_at <= clock.now
  ORDER BY a.free_at, a.slot LIMIT (SELECT count(*) FROM ready)
  FOR UPDATE OF a SKIP LOCKED),
go AS (
  SELECT p.*, s.slot, make_interval(secs => p.cost / p.rate) AS spacing
  FROM (SELECT ready.*, row_number() OVER (ORDER BY tat, id) AS n FROM ready) p
  JOIN (SELECT slot, row_number() OVER (ORDER BY slot) AS n FROM free) s USING (n)),
-- the account's time after the last claimed batch, or where it stood
acct_next AS (
  SELECT coalesce((SELECT max(go.at + make_interval(secs => go.messages / acct.rate)) FROM go), acct.at0) AS tat FROM acct),
acct_advanced AS (
  UPDATE account_budgets ab SET tat = acct_next.tat FROM acct_next WHERE ab.account = $1 AND EXISTS (SELECT 1 FROM go)
  RETURNING ab.account),
advanced AS (
  UPDATE sender_budgets sb SET tat = go.at + go.spacing, pacer = $10 FROM go WHERE sb.account = $1 AND sb.sender = go.sender RETURNING sb.sender),
slots_held AS (
  UPDATE account_slots a SET free_at = go.at + make_interval(secs => $8::float8 / 1000) FROM go
  WHERE a.account = $1 AND a.kind = 'request' AND a.slot = go.slot RETURNING a.slot),
claimed AS (
  UPDATE batches b SET status = 'in_flight', attempts = b.attempts + 1, lease_owner = $3,
         lease_expires_at = clock.now + make_interval(secs => $4::float8 / 1000)
  FROM go, clock WHERE b.id = go.id
  RETURNING b.id, b.campaign_id, b.sender, b.text, b.attempts, ${windowClosesAt('b')} AS closes_at, go.slot AS request_slot,
            extract(epoch FROM go.at) * 1000 AS slot_ms, extract(epoch FROM go.spacing) * 1000 AS interval_ms,
            go.messages / (SELECT rate FROM acct) * 1000 AS account_interval_ms),
attempt AS (
  INSERT INTO attempts (batch_id, attempt_no, owner, started_at, request_timeout_ms) SELECT id, attempts, $3, clock.now, $9::int FROM claimed, clock
  RETURNING id, batch_id),
-- the claimed batches' recipients still to send, each with why it may not be sent now (null: it may)
candidates AS (
  SELECT r.campaign_id, r.row_no, r.dst, r.batch_id,
         -- THE place for per-recipient "may send now" checks: a reason not to send now, or null. Opt-outs since
         -- the load (sql/012, ledger/suppressions.ts) leave the batch as 'suppressed'.
         (SELECT ${SUPPRESSED_REASON} FROM campaigns c JOIN suppressions s ON s.account = c.suppression_account
          WHERE c.id = r.campaign_id AND s.number = r.dst LIMIT 1) AS not_now
  FROM recipients r JOIN claimed ON r.batch_id = claimed.id
  WHERE r.status IN ('pending', 'sending')),
suppressed AS (
  UPDATE recipients r SET status = 'suppressed', reason = m.not_now FROM candidates m
  WHERE m.not_now IS NOT NULL AND r.campaign_id = m.campaign_id AND r.row_no = m.row_no RETURNING r.row_no),
sending AS (
  UPDATE recipients r SET status = 'sending' FROM candidates m
  WHERE m.not_now IS NULL AND r.campaign_id = m.campaign_id AND r.row_no = m.row_no RETURNING r.batch_id, r.dst),
-- when the next claim may find work: a sender's next time (the claimed ones' new time; another process's sender's
-- time plus the hand-over margin), from now if it has a batch it may claim (one probe), else from its earliest
-- pending batch's retry time, window opening or scheduled start (a batch whose window is in its last seconds is
-- looked at again in a second). Only a sender with nothing claimable reads all its pending batches (CASE evaluates
-- that branch for it alone): taking their minimum for every waiting sender read every pending batch of the campaign
-- at each claim (a personalised list of 1 000 000 rows: 0.7 s a claim).
waiting AS (
  SELECT sb.sender,
         sb.tat + CASE WHEN $10::text IS NOT NULL AND sb.pacer <> $10 THEN make_interval(secs => $11::float8 / 1000) ELSE interval '0' END AS tat,
         CASE WHEN EXISTS (SELECT 1 FROM batches b WHERE b.sender = sb.sender AND ${MAY_CLAIM}) THEN clock.now
              ELSE (SELECT min(CASE WHEN x.at > clock.now THEN x.at ELSE clock.now + interval '1 second' END) FROM (
                SELECT greatest(b.next_attempt_at, w.opens_at, c.start_at) AS at FROM batches b
                JOIN campaigns c ON c.id = b.campaign_id
                LEFT JOIN send_windows w ON w.campaign_id = b.campaign_id AND w.time_zone = b.time_zone
                WHERE b.status = 'pending' AND b.campaign_id = $2 AND b.sender = sb.sender) x) END AS ready_at
  FROM ${CAMPAIGN_SENDERS} CROSS JOIN clock
  WHERE NOT EXISTS (SELECT 1 FROM go WHERE go.sender = sb.sender)),
next_at AS (
  SELECT least(
    (SELECT min(go.at + go.spacing) FROM go),
    (SELECT min(greatest(w.tat, w.ready_at)) FROM waiting w WHERE w.ready_at IS NOT NULL)
  ) AS at FROM clock)
SELECT c.id, c.campaign_id, c.sender, c.text, c.attempts, a.id AS attempt_id,
       (SELECT count(*) FROM attempts x WHERE x.batch_id = c.id AND x.attempt_no > coalesce(
          (SELECT max(y.attempt_no) FROM attempts y WHERE y.batch_id = c.id AND y.status <> 'failed_retryable'), 0))::int AS failures_before,
       (SELECT array_agg(s.dst) FROM sending s WHERE s.batch_id = c.id) AS dsts, c.closes_at,
       c.slot_ms::float8 AS slot_ms, c.interval_ms::float8 AS interval_ms, c.account_interval_ms::float8 AS account_interval_ms,
       c.request_slot, NULL::float8 AS next_in_ms, NULL::float8 AS db_now_ms, NULL::float8 AS db_end_ms
FROM claimed c JOIN attempt a ON a.batch_id = c.id
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       CASE WHEN next_at.at IS NOT NULL THEN greatest(0, extract(epoch FROM
         greatest(next_at.at, (SELECT min(free_at) FROM account_slots WHERE account = $1 AND kind = 'request'),
                  (SELECT tat FROM acct_next)) - clock.now) * 1000)::float8 END,
       (extract(epoch FROM clock.now) * 1000)::float8, (extract(epoch FROM clock_timestamp()) * 1000)::float8
FROM next_at, clock`;

export interface Acceptance {
  httpStatus: number;
  apiId: string;
  messageUuids: readonly string[];
  invalidNumbers: readonly string[];
}

/**
 * Each answer is recorded in one statement: a data-modifying CTE whose first step (`settled`) moves our
 * in-flight batch to its outcome and drops its lease, and whose every other step runs only if that row was
 * ours (joined to `settled`). When the batch is no longer ours in flight (a process that took us for dead
 * adopted it, and reconciliation settles it from Plivo's records) nothing is written: recording our answer
 * too would race it. That guard also makes recording idempotent, so it can be retried after a lost connection.
 * All steps read the statement's one snapshot, so no row is updated twice (the recipients' new status is
 * one CASE).
 */
const SETTLE = (set: string, n: number) => `settled AS (
  UPDATE batches SET ${set}, lease_owner = NULL, lease_expires_at = NULL
  WHERE id = $1 AND status = 'in_flight' AND lease_owner = $2 RETURNING id, campaign_id),
held AS (
  UPDATE account_slots SET free_at = greatest(free_at, now() + make_interval(secs => $${n + 2}::float8 / 1000))
  WHERE account = $${n} AND kind = 'request' AND slot = $${n + 1}::int RETURNING slot)`;

/** The parameters SETTLE's \`held\` step takes after a statement's own: the request slot to hold from now. */
function heldParams(batch: ClaimedBatch): unknown[] {
  return [batch.requestSlot?.account ?? null, batch.requestSlot?.slot ?? null, WINDOWS.request.holdMs];
}

/** Our attempt's outcome ($3 status, $4 http status, $5 error), written only with the settled batch. */
const FINISH = `finished AS (
  UPDATE attempts SET status = $3, finished_at = now(), http_status = $4, error = $5
  WHERE id = $6 AND EXISTS (SELECT 1 FROM settled) RETURNING id)`;

export async function recordAccepted(db: Queryable, batch: ClaimedBatch, a: Acceptance): Promise<void> {
  await db.query(RECORD_ACCEPTED, [batch.id, batch.owner, batch.attemptId, a.httpStatus, a.apiId, a.messageUuids, a.invalidNumbers, ...heldParams(batch)]);
}

/**
 * The 202: invalid numbers become `rejected`, the others `submitted`; one message row per uuid, linked to
 * its number only when a lone number got a lone uuid (Plivo does not return uuids in dst order). One uuid
 * per accepted number is what Plivo promises; any other count is flagged (ledger/unaccounted.ts).
 */
const RECORD_ACCEPTED = `
WITH ${SETTLE(`status = 'accepted', accepted_at = now()`, 8)},
finished AS (
  UPDATE attempts SET status = 'accepted', finished_at = now(), http_status = $4, api_id = $5, message_uuids = $6, invalid_numbers = $7
  WHERE id = $3 AND EXISTS (SELECT 1 FROM settled) RETURNING started_at),
sending AS (
  SELECT r.campaign_id, r.row_no, r.dst, r.dst = ANY($7::text[]) AS invalid FROM recipients r, settled
  WHERE r.batch_id = settled.id AND r.status = 'sending'),
counts AS (
  SELECT count(*) FILTER (WHERE NOT invalid)::int AS numbers, (SELECT count(DISTINCT u)::int FROM unnest($6::text[]) u) AS uuids,
         CASE WHEN count(*) FILTER (WHERE NOT invalid) = 1 AND cardinality($6::text[]) = 1 THEN min(dst) FILTER (WHERE NOT invalid) END AS lone
  FROM sending),
marked AS (
  UPDATE recipients r SET
    status = CASE WHEN s.invalid THEN 'rejected' ELSE 'submitted' END,
    reason = CASE WHEN s.invalid THEN 'Plivo reported the number as invalid (invalid_number in its 202 answer)' ELSE r.reason END,
    message_uuid = CASE WHEN r.dst = counts.lone THEN ($6::text[])[1] ELSE r.message_uuid END
  FROM sending s, counts WHERE r.campaign_id = s.campaign_id AND r.row_no = s.row_no RETURNING r.row_no),
messages_in AS (
  INSERT INTO messages (message_uuid, campaign_id, batch_id, to_number, sent_after)
  SELECT u, settled.campaign_id, settled.id, counts.lone, finished.started_at FROM unnest($6::text[]) AS u, settled, counts, finished
  ON CONFLICT (message_uuid) DO NOTHING RETURNING 1),
flagged AS (
  INSERT INTO unaccounted_batches (batch_id, campaign_id, cause, numbers, uuids)
  SELECT settled.id, settled.campaign_id, 'uuid_count', counts.numbers, counts.uuids FROM settled, counts WHERE counts.numbers <> counts.uuids
  ON CONFLICT (batch_id) DO NOTHING RETURNING 1)
INSERT INTO events (campaign_id, kind, detail)
SELECT settled.campaign_id, 'uuid_count_mismatch', jsonb_build_object('batch', settled.id, 'numbers', counts.numbers, 'uuids', counts.uuids)
FROM settled, counts WHERE counts.numbers <> counts.uuids`;

/** Not accepted, safe to send again after `delayMs`. */
export async function recordRetryable(db: Queryable, batch: ClaimedBatch, error: string, delayMs: number, httpStatus?: number): Promise<void> {
  await db.query(
    `WITH ${SETTLE(`status = 'pending', last_error = $5, next_attempt_at = now() + make_interval(secs => $7::float8 / 1000)`, 8)}, ${FINISH}
     UPDATE recipients r SET status = 'pending' FROM settled WHERE r.batch_id = settled.id AND r.status = 'sending'`,
    [batch.id, batch.owner, 'failed_retryable', httpStatus ?? null, error, batch.attemptId, delayMs, ...heldParams(batch)],
  );
}

/** Plivo refused the request for good (400, 403...): its recipients fail with the API's reason. */
export async function recordPermanent(db: Queryable, batch: ClaimedBatch, error: string, httpStatus: number): Promise<void> {
  await db.query(
    `WITH ${SETTLE(`status = 'failed', last_error = $5`, 8)}, ${FINISH}
     UPDATE recipients r SET status = 'failed', reason = $7 FROM settled WHERE r.batch_id = settled.id AND r.status = 'sending'`,
    [batch.id, batch.owner, 'failed_permanent', httpStatus, error, batch.attemptId, `Plivo refused the request (HTTP ${httpStatus}): ${error}`, ...heldParams(batch)],
  );
}

/**
 * The request may have been accepted: only reconciliation may decide what happens next. `apiId` when Plivo's
 * API itself answered (its api_id in the body): stored, it ends the attempt's reconciliation window at the answer.
 */
export async function recordAmbiguous(db: Queryable, batch: ClaimedBatch, error: string, httpStatus?: number, apiId?: string): Promise<void> {
  await db.query(
    `WITH ${SETTLE(`status = 'ambiguous', last_error = $5`, 8)},
     finished AS (
       UPDATE attempts SET status = $3, finished_at = now(), http_status = $4, error = $5, api_id = $7
       WHERE id = $6 AND EXISTS (SELECT 1 FROM settled) RETURNING id)
     SELECT 1`,
    [batch.id, batch.owner, 'ambiguous', httpStatus ?? null, error, batch.attemptId, apiId ?? null, ...heldParams(batch)],
  );
}

/**
 * A claim whose commit was never confirmed (the connection dropped during it) may or may not have
 * committed; if it did, its requests never left, but nothing can prove that to a later run. Our in-flight
 * batches other than `sending` (the ones whose request we know about) are such claims: treat them as
 * ambiguous, and reconciliation will find them absent and send them.
 */
export async function settleUnconfirmedClaims(db: Db, owner: string, campaignIds: readonly number[], sending: readonly number[]): Promise<void> {
  await db.transaction(async (tx) => {
    const rows = await tx.query<{ id: number }>(
      `UPDATE batches SET status = 'ambiguous', last_error = 'the commit of its claim was not confirmed (ledger connection lost)',
              lease_owner = NULL, lease_expires_at = NULL
       WHERE campaign_id = ANY($3::int[]) AND status = 'in_flight' AND lease_owner = $1 AND id <> ALL($2::int[]) RETURNING id`,
      [owner, sending, campaignIds],
    );
    await tx.query(`UPDATE attempts SET status = 'ambiguous', finished_at = now(), error = 'claim not confirmed'
                    WHERE batch_id = ANY($1::int[]) AND status = 'in_flight'`, [rows.map((r) => r.id)]);
  });
}

/** Owners of other processes' in-flight batches (candidates for a liveness check). */
export async function inFlightOwners(db: Db, campaignId: number, owner: string): Promise<string[]> {
  const rows = await db.query<{ owner: string }>(
    `SELECT DISTINCT lease_owner AS owner FROM batches WHERE campaign_id = $1 AND status = 'in_flight' AND lease_owner <> $2`,
    [campaignId, owner]);
  return rows.map((r) => r.owner);
}


/**
 * In-flight attempts whose owner is gone become ambiguous: the owner is known dead (`deadOwners`, see
 * ledger/runners.ts), or its lease has expired.
 */
export async function adoptOrphans(db: Db, campaignId: number, owner: string, deadOwners: readonly string[]): Promise<number> {
  return db.transaction(async (tx) => {
    const batches = await tx.query<{ id: number }>(
      `UPDATE batches SET status = 'ambiguous', last_error = 'the process sending it stopped before recording the answer',
              lease_owner = NULL, lease_expires_at = NULL
       WHERE campaign_id = $1 AND status = 'in_flight' AND lease_owner <> $2
         AND (lease_owner = ANY($3::text[]) OR lease_expires_at < now())
       RETURNING id`,
      [campaignId, owner, deadOwners],
    );
    const ids = batches.map((b) => b.id);
    await tx.query(
      `UPDATE attempts SET status = 'ambiguous', finished_at = now(), error = 'orphaned: its process stopped mid-request'
       WHERE batch_id = ANY($1::int[]) AND status = 'in_flight'`,
      [ids],
    );
    return ids.length;
  });
}
