/**
 * Recipients that tracking cannot link to a message, and how their fate is settled from Plivo's records
 * (sql/005, `unaccounted_batches`). The tracker side is src/track/unaccounted.ts.
 *
 * A recipient learns its message_uuid from the first record or callback that gives the message's number
 * (ledger/tracking.ts). Two things can leave a `submitted` recipient with no message for ever:
 * - a 202 whose uuids are fewer (or more) than the numbers it accepted: flagged here, as an event and a
 *   row, when the 202 is recorded (cause 'uuid_count');
 * - every message of the batch whose number was unknown is final (given up unread, say) and some
 *   recipients are still unlinked (cause 'unlinked', found by `enrollUnlinked`).
 * Such a recipient is never guessed at. Its number is looked up in Plivo's records; what is found is
 * linked, and a number absent from two looks a minute apart is `failed` with the reason.
 */
import type { Db, Queryable } from './db.js';

/**
 * Called in recordAccepted's transaction: a 202 holding `uuids` message_uuids for `numbers` accepted numbers
 * (dst less invalid_number). When they differ, the batch is flagged: an event and a row to account for.
 */
export async function flagUuidCount(tx: Queryable, batchId: number, numbers: number, uuids: number): Promise<void> {
  if (numbers === uuids) return;
  await tx.query(
    `INSERT INTO unaccounted_batches (batch_id, campaign_id, cause, numbers, uuids)
     SELECT id, campaign_id, 'uuid_count', $2, $3 FROM batches WHERE id = $1
     ON CONFLICT (batch_id) DO NOTHING`,
    [batchId, numbers, uuids],
  );
  await tx.query(
    `INSERT INTO events (campaign_id, kind, detail)
     SELECT campaign_id, 'uuid_count_mismatch', jsonb_build_object('batch', id, 'numbers', $2::int, 'uuids', $3::int) FROM batches WHERE id = $1`,
    [batchId, numbers, uuids],
  );
}

/**
 * Flags the accepted batches (of the campaign, or only these) that have `submitted` recipients without a
 * message while none of their messages whose number is unknown is still open: tracking cannot link them
 * any more. Returns how many were flagged. Driven by the unlinked recipients: once every message is final
 * (when the tracker calls it for the whole campaign) those are the only `submitted` ones left.
 */
export async function enrollUnlinked(db: Queryable, campaignId: number, batchIds: readonly number[] | null = null): Promise<number> {
  const unlinked = batchIds === null
    ? 'SELECT DISTINCT batch_id FROM recipients WHERE campaign_id = $1 AND status = \'submitted\' AND message_uuid IS NULL'
    : 'SELECT DISTINCT batch_id FROM recipients WHERE batch_id = ANY($2::int[]) AND status = \'submitted\' AND message_uuid IS NULL';
  const rows = await db.query(
    `INSERT INTO unaccounted_batches (batch_id, campaign_id, cause)
     SELECT b.id, b.campaign_id, 'unlinked' FROM batches b
     WHERE b.id IN (${unlinked}) AND b.campaign_id = $1 AND b.status = 'accepted'
       AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.batch_id = b.id AND m.final_at IS NULL AND m.to_number IS NULL)
     ON CONFLICT (batch_id) DO NOTHING
     RETURNING 1`,
    batchIds === null ? [campaignId] : [campaignId, batchIds],
  );
  return rows.length;
}

export interface UnaccountedBatch {
  batchId: number;
  sender: string;
  cause: 'uuid_count' | 'unlinked';
  /** For 'uuid_count': the numbers the 202 accepted and the uuids it held. */
  numbers: number | null;
  uuids: number | null;
  looks: number;
  /** The accepted attempt's request: Plivo's message_time for its messages lies between these, clocks aside. */
  startedAt: Date;
  endedAt: Date;
  /** Numbers of its recipients still `submitted` without a message. */
  dsts: string[];
}

/** Unsettled batches whose next look is due and whose 202 is at least `minAgeMs` old. */
export async function dueUnaccounted(db: Queryable, campaignId: number, minAgeMs: number): Promise<UnaccountedBatch[]> {
  return db.query<UnaccountedBatch>(
    `SELECT u.batch_id AS "batchId", b.sender, u.cause, u.numbers, u.uuids, u.looks, a.started_at AS "startedAt", coalesce(a.finished_at, a.started_at) AS "endedAt",
            array(SELECT r.dst FROM recipients r WHERE r.batch_id = u.batch_id AND r.status = 'submitted' AND r.message_uuid IS NULL
                  ORDER BY r.row_no) AS dsts
     FROM unaccounted_batches u
     JOIN batches b ON b.id = u.batch_id
     JOIN LATERAL (SELECT started_at, finished_at FROM attempts WHERE batch_id = b.id AND status = 'accepted'
                   ORDER BY attempt_no DESC LIMIT 1) a ON true
     WHERE u.campaign_id = $1 AND u.settled_at IS NULL AND u.next_look_at <= now()
       AND b.accepted_at <= now() - make_interval(secs => $2::float8 / 1000)
     ORDER BY u.batch_id`,
    [campaignId, minAgeMs],
  );
}

/** Of these uuids, the batch each one's message belongs to (absent: not ours). */
export async function batchesOf(db: Queryable, uuids: readonly string[]): Promise<Map<string, number>> {
  const rows = await db.query<{ message_uuid: string; batch_id: number }>(
    'SELECT message_uuid, batch_id FROM messages WHERE message_uuid = ANY($1::text[])', [uuids]);
  return new Map(rows.map((r) => [r.message_uuid, r.batch_id]));
}

/**
 * Of these numbers, those an unsettled batch (ambiguous or in flight, in any campaign of the ledger) from
 * `sender` may have sent to: a record of Plivo's to such a number may be that batch's, so it is not
 * attributed elsewhere until that batch is settled.
 */
export async function contestedNumbers(db: Queryable, sender: string, dsts: readonly string[]): Promise<Set<string>> {
  const rows = await db.query<{ dst: string }>(
    `SELECT DISTINCT r.dst FROM batches b JOIN recipients r ON r.batch_id = b.id
     WHERE b.status IN ('ambiguous', 'in_flight') AND b.sender = $1 AND r.status = 'sending' AND r.dst = ANY($2::text[])`,
    [sender, dsts],
  );
  return new Set(rows.map((r) => r.dst));
}

/**
 * Records messages found in Plivo's records for a batch, with their numbers; applying their records
 * (applyProviderUpdates) then links their recipients.
 */
export async function adoptMessages(db: Queryable, batchId: number, found: readonly { uuid: string; dst: string }[]): Promise<void> {
  if (found.length === 0) return;
  await db.query(
    `INSERT INTO messages (message_uuid, campaign_id, batch_id, to_number, sent_after, submitted_at)
     SELECT f.uuid, b.campaign_id, b.id, f.dst, a.started_at, coalesce(a.finished_at, now())
     FROM unnest($2::text[], $3::text[]) AS f(uuid, dst), batches b
     JOIN LATERAL (SELECT started_at, finished_at FROM attempts WHERE batch_id = b.id AND status = 'accepted'
                   ORDER BY attempt_no DESC LIMIT 1) a ON true
     WHERE b.id = $1
     ON CONFLICT (message_uuid) DO NOTHING`,
    [batchId, found.map((f) => f.uuid), found.map((f) => f.dst)],
  );
}

export interface LookResult {
  /** Numbers that no record showed, with nothing left in doubt. */
  absent: readonly string[];
  /** A number absent now is failed for good if the first look was at least this long ago. */
  confirmMs: number;
  /** The reason a failed recipient is given. */
  reason: string;
}

/**
 * Records a look at a batch. A number absent from a look `confirmMs` or more after the first look is
 * `failed` with `reason` (Plivo's records lag its 202 by an undocumented delay, hence two looks). The
 * batch is settled once no recipient of it is left unlinked; else it is looked at again `confirmMs` later.
 */
export async function recordUnaccountedLook(db: Db, batchId: number, look: LookResult): Promise<{ failed: number; settled: boolean }> {
  return db.transaction(async (tx) => {
    const [row] = await tx.query<{ confirmed: boolean }>(
      `UPDATE unaccounted_batches SET looks = looks + 1, first_look_at = coalesce(first_look_at, now()),
              next_look_at = now() + make_interval(secs => $2::float8 / 1000)
       WHERE batch_id = $1
       RETURNING first_look_at <= now() - make_interval(secs => $2::float8 / 1000) AS confirmed`,
      [batchId, look.confirmMs],
    );
    const failed = row?.confirmed && look.absent.length > 0
      ? await tx.query(
        `UPDATE recipients SET status = 'failed', reason = $3
         WHERE batch_id = $1 AND status = 'submitted' AND message_uuid IS NULL AND dst = ANY($2::text[]) RETURNING 1`,
        [batchId, look.absent, look.reason])
      : [];
    const settled = await tx.query(
      `UPDATE unaccounted_batches SET settled_at = now()
       WHERE batch_id = $1 AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.batch_id = $1 AND r.status = 'submitted' AND r.message_uuid IS NULL)
       RETURNING 1`,
      [batchId],
    );
    return { failed: failed.length, settled: settled.length > 0 };
  });
}

/** A look that could not be made (the List API failing): tried again after `delayMs`. */
export async function postponeUnaccounted(db: Queryable, batchId: number, delayMs: number): Promise<void> {
  await db.query(
    `UPDATE unaccounted_batches SET next_look_at = now() + make_interval(secs => $2::float8 / 1000) WHERE batch_id = $1`,
    [batchId, delayMs],
  );
}

export interface UnaccountedSummary {
  /** Recipients still `submitted` without a message in unsettled batches. */
  recipients: number;
  /** When the next of those batches is due for a look. */
  nextAt: Date | null;
}

export async function unaccountedBacklog(db: Queryable, campaignId: number): Promise<UnaccountedSummary> {
  const [row] = await db.query<UnaccountedSummary>(
    `SELECT coalesce(sum((SELECT count(*) FROM recipients r WHERE r.batch_id = u.batch_id AND r.status = 'submitted'
                                                               AND r.message_uuid IS NULL)), 0)::int AS recipients,
            min(u.next_look_at) AS "nextAt"
     FROM unaccounted_batches u WHERE u.campaign_id = $1 AND u.settled_at IS NULL`,
    [campaignId],
  );
  return row!;
}

export interface UuidCountMismatch {
  batchId: number;
  numbers: number;
  uuids: number;
  /** Recipients of it still without a message (being looked up). */
  unaccounted: number;
  /** Recipients of it failed because Plivo had no record for their number. */
  failed: number;
}

/** The campaign's batches whose 202 held a different count of uuids than of numbers (for `status`). */
export async function uuidCountMismatches(db: Queryable, campaignId: number): Promise<UuidCountMismatch[]> {
  return db.query<UuidCountMismatch>(
    `SELECT u.batch_id AS "batchId", u.numbers, u.uuids,
            (SELECT count(*)::int FROM recipients r WHERE r.batch_id = u.batch_id AND r.status = 'submitted' AND r.message_uuid IS NULL) AS unaccounted,
            (SELECT count(*)::int FROM recipients r WHERE r.batch_id = u.batch_id AND r.status = 'failed' AND r.message_uuid IS NULL) AS failed
     FROM unaccounted_batches u WHERE u.campaign_id = $1 AND u.cause = 'uuid_count' ORDER BY u.batch_id`,
    [campaignId],
  );
}
