/**
 * The write-ahead protocol of sending. For each batch:
 *   1. claimBatch commits `in_flight` (batch, attempt, recipients `sending`) BEFORE the request leaves;
 *   2. the outcome is committed as soon as it is read: recordAccepted / recordRetryable /
 *      recordPermanent / recordAmbiguous.
 * A crash between 1 and 2 leaves an `in_flight` attempt that nobody owns; adoptOrphans turns it into
 * `ambiguous`, and only reconciliation (ledger/reconcile.ts) may decide to send it again.
 */
import type { Db, Queryable } from './db.js';
import { CLAIM_NOT_CANCELLED, SUPPRESS_AT_CLAIM } from './suppressions.js';
import { flagUuidCount } from './unaccounted.js';
import { WINDOW_OPEN, windowClosesAt } from './windows.js';

export interface ReadyBatch {
  id: number;
  size: number;
  units: number;
}

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
}

/** The largest batch's cost (units, or destinations) and size: the limiters' burst. 1 for an empty campaign. */
export async function largestBatch(db: Queryable, campaignId: number, countUnits: boolean): Promise<{ cost: number; size: number }> {
  const [row] = await db.query<{ cost: number; size: number }>(
    `SELECT coalesce(max(size * (CASE WHEN $2 THEN units ELSE 1 END)), 1)::int AS cost, coalesce(max(size), 1)::int AS size
     FROM batches WHERE campaign_id = $1`,
    [campaignId, countUnits],
  );
  return row!;
}

/** Recipients still to be sent, or whose request is in flight or being reconciled. */
export async function countUnsent(db: Queryable, campaignId: number): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM recipients WHERE campaign_id = $1 AND status IN ('pending', 'sending')`, [campaignId]);
  return row!.n;
}

/** The next batch this sender may send now, after `afterId` (the caller's cursor), without claiming it. */
export async function nextReadyBatch(db: Queryable, campaignId: number, sender: string, afterId: number): Promise<ReadyBatch | undefined> {
  const [row] = await db.query<ReadyBatch>(
    `SELECT id, size, units FROM batches b
     WHERE campaign_id = $1 AND sender = $2 AND status = 'pending' AND next_attempt_at <= now() AND id > $3 AND ${WINDOW_OPEN}
     ORDER BY id LIMIT 1`,
    [campaignId, sender, afterId],
  );
  return row;
}

export interface SenderBacklog {
  /** Batches that will become ready later (retry backoff), with the earliest time. */
  waiting: number;
  nextAt: Date | null;
  /** Batches in flight or ambiguous (ours or another process's): the sender is not done until they settle. */
  unsettled: number;
}

export async function senderBacklog(db: Queryable, campaignId: number, sender: string): Promise<SenderBacklog> {
  const [row] = await db.query<SenderBacklog>(
    // A batch waiting for its window (or the campaign's start) is ready no sooner than that opens.
    `SELECT count(*) FILTER (WHERE status = 'pending')::int AS waiting,
            min(greatest(next_attempt_at, w.opens_at, c.start_at)) FILTER (WHERE status = 'pending') AS "nextAt",
            count(*) FILTER (WHERE status IN ('in_flight', 'ambiguous'))::int AS unsettled
     FROM batches b JOIN campaigns c ON c.id = b.campaign_id
     LEFT JOIN send_windows w ON w.campaign_id = b.campaign_id AND w.time_zone = b.time_zone
     WHERE b.campaign_id = $1 AND b.sender = $2`,
    [campaignId, sender],
  );
  return row!;
}

/**
 * Claims one batch and writes its attempt ahead of the request, in one transaction. Returns undefined
 * when another process got there first (the row is locked or no longer pending), or when we no longer
 * hold the lease of its sender: only the lease owner sends from a sender, so its rate is never doubled.
 */
/** `requestTimeoutMs` is stored with the attempt: its reconciliation window is sized by it (sql/008). */
export async function claimBatch(db: Db, batchId: number, owner: string, leaseMs: number, requestTimeoutMs?: number): Promise<ClaimedBatch | undefined> {
  return db.transaction(async (tx) => {
    const [batch] = await tx.query<{ id: number; sender: string; text: string | null; attempts: number; closes_at: Date | null }>(
      `UPDATE batches SET status = 'in_flight', attempts = attempts + 1, lease_owner = $2,
              lease_expires_at = now() + make_interval(secs => $3::float8 / 1000)
       WHERE id = (SELECT b.id FROM batches b
                   JOIN sender_leases l ON l.campaign_id = b.campaign_id AND l.sender = b.sender
                   WHERE b.id = $1 AND b.status = 'pending' AND l.owner = $2 AND l.expires_at > now()
                     AND ${CLAIM_NOT_CANCELLED} AND ${WINDOW_OPEN}
                   FOR UPDATE OF b SKIP LOCKED)
       RETURNING id, sender, text, attempts, campaign_id, ${windowClosesAt('batches')} AS closes_at`,
      [batchId, owner, leaseMs],
    );
    if (!batch) return undefined;
    // Opt-outs since the load (sql/012, ledger/suppressions.ts): listed numbers leave the batch before its
    // request is written; a batch left with nobody is closed without a request.
    await tx.query(SUPPRESS_AT_CLAIM, [batchId]);
    if (!(await hasRecipientsToSend(tx, batchId))) {
      await tx.query(
        `UPDATE batches SET status = 'failed', last_error = 'not sent: every recipient suppressed or cancelled', lease_owner = NULL,
                lease_expires_at = NULL, attempts = attempts - 1 WHERE id = $1`, [batchId]);
      return undefined;
    }
    await tx.query(
      `UPDATE sender_leases SET last_claim_at = now() WHERE campaign_id = (SELECT campaign_id FROM batches WHERE id = $1) AND sender = $2`,
      [batchId, batch.sender],
    );
    // Retryable failures in a row just before this attempt: an absent, ambiguous or accepted one ends a streak.
    const [streak] = await tx.query<{ failures: number }>(
      `SELECT count(*)::int AS failures FROM attempts
       WHERE batch_id = $1 AND attempt_no > coalesce((SELECT max(attempt_no) FROM attempts WHERE batch_id = $1 AND status <> 'failed_retryable'), 0)`,
      [batchId],
    );
    const [attempt] = await tx.query<{ id: number }>(
      'INSERT INTO attempts (batch_id, attempt_no, owner, request_timeout_ms) VALUES ($1, $2, $3, $4) RETURNING id',
      [batchId, batch.attempts, owner, requestTimeoutMs ?? null],
    );
    const recipients = await tx.query<{ dst: string }>(
      `UPDATE recipients SET status = 'sending' WHERE batch_id = $1 AND status IN ('pending', 'sending')
       RETURNING dst`,
      [batchId],
    );
    return { id: batch.id, owner, sender: batch.sender, text: batch.text, attemptId: attempt!.id, attemptNo: batch.attempts, failuresBefore: streak!.failures, dsts: recipients.map((r) => r.dst),
      windowClosesAt: batch.closes_at === null ? null : new Date(batch.closes_at) };
  });
}

async function hasRecipientsToSend(tx: Queryable, batchId: number): Promise<boolean> {
  const rows = await tx.query(`SELECT 1 FROM recipients WHERE batch_id = $1 AND status IN ('pending', 'sending') LIMIT 1`, [batchId]);
  return rows.length > 0;
}

export interface Acceptance {
  httpStatus: number;
  apiId: string;
  messageUuids: readonly string[];
  invalidNumbers: readonly string[];
}

export async function recordAccepted(db: Db, batch: ClaimedBatch, a: Acceptance): Promise<void> {
  await db.transaction(async (tx) => {
    if (!(await settle(tx, batch, `status = 'accepted', accepted_at = now()`))) return;
    await finishAttempt(tx, batch.attemptId, 'accepted', { httpStatus: a.httpStatus, apiId: a.apiId, uuids: a.messageUuids, invalid: a.invalidNumbers });
    await tx.query(
      `UPDATE recipients SET status = 'rejected', reason = 'Plivo reported the number as invalid (invalid_number in its 202 answer)'
       WHERE batch_id = $1 AND status = 'sending' AND dst = ANY($2::text[])`,
      [batch.id, a.invalidNumbers],
    );
    const submitted = await tx.query<{ row_no: number; dst: string }>(
      `UPDATE recipients SET status = 'submitted' WHERE batch_id = $1 AND status = 'sending' RETURNING row_no, dst`,
      [batch.id],
    );
    // Plivo does not return uuids in dst order; only a lone pair can be matched without asking it.
    const lone = submitted.length === 1 && a.messageUuids.length === 1 ? submitted[0]!.dst : null;
    await insertMessages(tx, batch, a.messageUuids, lone);
    // One uuid per accepted number is what Plivo promises; any other count is flagged and accounted for.
    await flagUuidCount(tx, batch.id, submitted.length, new Set(a.messageUuids).size);
  });
}

/** Messages whose number is not known yet get it from the provider's records when tracking first reads them. */
async function insertMessages(tx: Queryable, batch: ClaimedBatch, uuids: readonly string[], loneDst: string | null): Promise<void> {
  await tx.query(
    `INSERT INTO messages (message_uuid, campaign_id, batch_id, to_number, sent_after)
     SELECT u, b.campaign_id, b.id, $3, (SELECT started_at FROM attempts WHERE id = $4) FROM unnest($2::text[]) AS u, batches b WHERE b.id = $1
     ON CONFLICT (message_uuid) DO NOTHING`,
    [batch.id, uuids, loneDst, batch.attemptId],
  );
  if (loneDst !== null) {
    await tx.query(`UPDATE recipients SET message_uuid = $2 WHERE batch_id = $1 AND dst = $3`, [batch.id, uuids[0], loneDst]);
  }
}

/** Not accepted, safe to send again after `delayMs`. */
export async function recordRetryable(db: Db, batch: ClaimedBatch, error: string, delayMs: number, httpStatus?: number): Promise<void> {
  await db.transaction(async (tx) => {
    if (!(await settle(tx, batch, `status = 'pending', last_error = $3, next_attempt_at = now() + make_interval(secs => $4::float8 / 1000)`, [error, delayMs]))) return;
    await finishAttempt(tx, batch.attemptId, 'failed_retryable', { httpStatus, error });
    await tx.query(`UPDATE recipients SET status = 'pending' WHERE batch_id = $1 AND status = 'sending'`, [batch.id]);
  });
}

/** Plivo refused the request for good (400, 403...): its recipients fail with the API's reason. */
export async function recordPermanent(db: Db, batch: ClaimedBatch, error: string, httpStatus: number): Promise<void> {
  await db.transaction(async (tx) => {
    if (!(await settle(tx, batch, `status = 'failed', last_error = $3`, [error]))) return;
    await finishAttempt(tx, batch.attemptId, 'failed_permanent', { httpStatus, error });
    await tx.query(
      `UPDATE recipients SET status = 'failed', reason = $2 WHERE batch_id = $1 AND status = 'sending'`,
      [batch.id, `Plivo refused the request (HTTP ${httpStatus}): ${error}`],
    );
  });
}

/**
 * The request may have been accepted: only reconciliation may decide what happens next. `apiId` when Plivo's
 * API itself answered (its api_id in the body): stored, it ends the attempt's reconciliation window at the answer.
 */
export async function recordAmbiguous(db: Db, batch: ClaimedBatch, error: string, httpStatus?: number, apiId?: string): Promise<void> {
  await db.transaction(async (tx) => {
    if (!(await settle(tx, batch, `status = 'ambiguous', last_error = $3`, [error]))) return;
    await finishAttempt(tx, batch.attemptId, 'ambiguous', { httpStatus, error, ...(apiId ? { apiId } : {}) });
  });
}

/**
 * Moves our in-flight batch to its outcome and drops its lease. False (and nothing is written) when the
 * batch is no longer ours in flight: a process that took us for dead adopted it, and reconciliation
 * settles it from Plivo's records; recording our answer too would race it. Also makes recording
 * idempotent, so it can be retried after a lost connection.
 */
async function settle(tx: Queryable, batch: ClaimedBatch, set: string, extra: readonly unknown[] = []): Promise<boolean> {
  const rows = await tx.query(
    `UPDATE batches SET ${set}, lease_owner = NULL, lease_expires_at = NULL
     WHERE id = $1 AND status = 'in_flight' AND lease_owner = $2 RETURNING id`,
    [batch.id, batch.owner, ...extra],
  );
  return rows.length === 1;
}

/**
 * A claim whose commit was never confirmed (the connection dropped during it) may or may not have
 * committed; if it did, its request never left, but nothing can prove that to a later run. Treat it as
 * ambiguous: reconciliation will find it absent and send it.
 */
export async function settleUnconfirmedClaim(db: Db, batchId: number, owner: string): Promise<void> {
  await db.transaction(async (tx) => {
    const rows = await tx.query(
      `UPDATE batches SET status = 'ambiguous', last_error = 'the commit of its claim was not confirmed (ledger connection lost)',
              lease_owner = NULL, lease_expires_at = NULL
       WHERE id = $1 AND status = 'in_flight' AND lease_owner = $2 RETURNING id`,
      [batchId, owner],
    );
    if (rows.length === 1) {
      await tx.query(`UPDATE attempts SET status = 'ambiguous', finished_at = now(), error = 'claim not confirmed' WHERE batch_id = $1 AND status = 'in_flight'`, [batchId]);
    }
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

async function finishAttempt(
  tx: Queryable,
  attemptId: number,
  status: string,
  f: { httpStatus?: number | undefined; apiId?: string; uuids?: readonly string[]; invalid?: readonly string[]; error?: string },
): Promise<void> {
  await tx.query(
    `UPDATE attempts SET status = $2, finished_at = now(), http_status = $3, api_id = $4,
            message_uuids = $5, invalid_numbers = $6, error = $7
     WHERE id = $1`,
    [attemptId, status, f.httpStatus ?? null, f.apiId ?? null, f.uuids ?? null, f.invalid ?? null, f.error ?? null],
  );
}
