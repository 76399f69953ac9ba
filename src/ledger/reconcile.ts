/**
 * Reconciliation of ambiguous attempts against the provider's own records. The ledger side: which
 * batches are due (their request can no longer be in progress) and how a verdict is recorded.
 * Found messages become `submitted` with their uuid; provably absent recipients are sent again,
 * in their original batch when none was found, or split into a new batch when some were.
 */
import type { Db } from './db.js';

export interface AmbiguousBatch {
  batchId: number;
  attemptId: number;
  sender: string;
  text: string | null;
  units: number;
  /** When the batch was claimed: its request cannot have left before. */
  startedAt: Date;
  /** When the attempt was found ambiguous (answer lost, or its process found dead): its request had left by then. */
  endedAt: Date;
  /** The request timeout the attempt ran under (sql/008), or the fallback for older attempts. */
  requestTimeoutMs: number;
  /** Plivo's API answered it (its api_id is stored): its window ends at `endedAt` (src/send/window.ts). */
  answered: boolean;
  /** When a first listing that missed some of its messages began; null if none has yet. */
  absentSeenAt: Date | null;
  dsts: string[];
}

/** For attempts written before sql/008: the larger of the current timeout and smsrun's default. */
const OLD_ATTEMPT_TIMEOUT_MS = 30_000;

/**
 * T' of src/send/window.ts for attempt alias `a`, in ms: how long after it was found ambiguous Plivo may still
 * have queued its messages. 0 when Plivo's API answered it (api_id stored), else its request timeout. `$n` is
 * the current request timeout (for attempts written before sql/008).
 */
function tailMs(a: string, currentTimeoutParam: string): string {
  return `(CASE WHEN ${a}.api_id IS NOT NULL THEN 0 ELSE coalesce(${a}.request_timeout_ms, greatest(${currentTimeoutParam}::int, ${OLD_ATTEMPT_TIMEOUT_MS})) END)`;
}

/**
 * Ambiguous batches due for a listing at ledger time `now`: their window, widened by `skewMs`, has
 * closed (src/send/window.ts: E + T' + 2K ≤ now), and a first miss, if any, is at least `confirmMs` old.
 */
export async function dueAmbiguousBatches(
  db: Db, campaignId: number, o: { now: Date; skewMs: number; requestTimeoutMs: number; confirmMs: number },
): Promise<AmbiguousBatch[]> {
  return db.query<AmbiguousBatch>(
    `SELECT b.id AS "batchId", a.id AS "attemptId", b.sender, b.text, b.units, a.started_at AS "startedAt",
            coalesce(a.finished_at, a.started_at) AS "endedAt", a.timeout AS "requestTimeoutMs", a.answered, a.absent_seen_at AS "absentSeenAt",
            array(SELECT dst FROM recipients r WHERE r.batch_id = b.id AND r.status = 'sending' ORDER BY row_no) AS dsts
     FROM batches b
     JOIN LATERAL (SELECT id, started_at, finished_at, absent_seen_at, api_id IS NOT NULL AS answered,
                          coalesce(request_timeout_ms, greatest($4::int, ${OLD_ATTEMPT_TIMEOUT_MS})) AS timeout, ${tailMs('x', '$4')} AS tail
                   FROM attempts x WHERE batch_id = b.id ORDER BY attempt_no DESC LIMIT 1) a ON true
     WHERE b.campaign_id = $1 AND b.status = 'ambiguous'
       AND coalesce(a.finished_at, a.started_at) + make_interval(secs => (a.tail + 2 * $3::float8) / 1000) <= $2::timestamptz
       AND (a.absent_seen_at IS NULL OR a.absent_seen_at <= $2::timestamptz - make_interval(secs => $5::float8 / 1000))
     ORDER BY b.id`,
    [campaignId, o.now, o.skewMs, o.requestTimeoutMs, o.confirmMs],
  );
}

/** The ledger's clock (ms), for measuring clock skew. */
export async function ledgerClock(db: Db): Promise<number> {
  const [row] = await db.query<{ t: Date }>('SELECT clock_timestamp() AS t');
  return row!.t.getTime();
}

/**
 * Notes the first listing that missed some of the batch's messages (it began at `at`). Nothing is sent
 * again before a second listing, at least a minute later, misses them too. False if the batch moved on.
 */
export async function recordFirstMiss(db: Db, batch: AmbiguousBatch, at: Date): Promise<boolean> {
  const rows = await db.query(
    `UPDATE attempts a SET absent_seen_at = $3
     FROM batches b
     WHERE a.id = $2 AND b.id = $1 AND a.batch_id = b.id AND b.status = 'ambiguous' AND a.absent_seen_at IS NULL
     RETURNING a.id`,
    [batch.batchId, batch.attemptId, at],
  );
  return rows.length === 1;
}

/** How many of the batch's attempts were ambiguous and then proven absent (sent again). */
export async function absentAttempts(db: Db, batchId: number): Promise<number> {
  const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM attempts WHERE batch_id = $1 AND status = 'absent'`, [batchId]);
  return row!.n;
}

/** A listed record that a batch wants: its destination (no '+') and Plivo's time for it. */
export interface Candidate {
  dst: string;
  time: Date;
}

/**
 * For each candidate record, the OTHER unsettled batches (of any campaign) that could own it: same
 * sender, the same number still `sending`, and the record's time no earlier than their attempt's window
 * starts. No later edge: an attempt in flight has its window still open, and an ambiguous one may have been
 * taken by Plivo late, after its first window (src/send/window.ts), until its confirming listing settles it.
 * Plivo's records carry no text, so such a record is attributed to nobody until only one batch can own it.
 * Keyed by `dst|time-in-ms`.
 */
export async function rivalBatches(
  db: Db, batch: AmbiguousBatch, candidates: readonly Candidate[], o: { skewMs: number },
): Promise<Map<string, number[]>> {
  if (candidates.length === 0) return new Map();
  const rows = await db.query<{ dst: string; t: Date; batch_id: number }>(
    `SELECT f.dst, f.t, b.id AS batch_id
     FROM unnest($3::text[], $4::timestamptz[]) AS f(dst, t)
     JOIN recipients r ON r.dst = f.dst AND r.status = 'sending'
     JOIN batches b ON b.id = r.batch_id
     JOIN attempts a ON a.batch_id = b.id AND a.status IN ('in_flight', 'ambiguous')
     WHERE b.sender = $2 AND b.id <> $1 AND b.status IN ('in_flight', 'ambiguous')
       AND f.t >= a.started_at - make_interval(secs => ($5::float8 + 1000) / 1000)`,
    [batch.batchId, batch.sender, candidates.map((c) => c.dst), candidates.map((c) => c.time), o.skewMs],
  );
  const out = new Map<string, number[]>();
  for (const r of rows) {
    const key = `${r.dst}|${r.t.getTime()}`;
    out.set(key, [...(out.get(key) ?? []), r.batch_id]);
  }
  return out;
}

/** Batches whose fate is not known yet: in flight (ours or another process's) or ambiguous. */
export async function countUnsettledBatches(db: Db, campaignId: number): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM batches WHERE campaign_id = $1 AND status IN ('ambiguous', 'in_flight')`, [campaignId]);
  return row!.n;
}

/** Of these uuids, the ones the ledger already attributes to some recipient (not to be matched twice). */
export async function knownUuids(db: Db, uuids: readonly string[]): Promise<Set<string>> {
  const rows = await db.query<{ message_uuid: string }>(
    'SELECT message_uuid FROM messages WHERE message_uuid = ANY($1::text[])', [uuids]);
  return new Set(rows.map((r) => r.message_uuid));
}

export interface FoundMessage {
  uuid: string;
  dst: string;
}

/**
 * Records a verdict, unless the batch has moved on since it was looked up (an operator resolved it, or
 * another process reconciled it first): then nothing is written and the result is 'stale'.
 */
export async function recordReconciled(db: Db, batch: AmbiguousBatch, found: readonly FoundMessage[]): Promise<'accepted' | 'absent' | 'split' | 'stale'> {
  const verdict = found.length === 0 ? 'absent' : found.length >= batch.dsts.length ? 'accepted' : 'split';
  return db.transaction(async (tx) => {
    const current = await tx.query(
      `SELECT 1 FROM batches b WHERE b.id = $1 AND b.status = 'ambiguous'
         AND $2 = (SELECT id FROM attempts WHERE batch_id = b.id ORDER BY attempt_no DESC LIMIT 1)
       FOR UPDATE`,
      [batch.batchId, batch.attemptId],
    );
    if (current.length === 0) return 'stale';
    await tx.query(
      `UPDATE attempts SET status = $2, error = coalesce(error, '') || $3 WHERE id = $1`,
      [batch.attemptId, verdict === 'absent' ? 'absent' : 'accepted',
        ` | reconciled: ${found.length} of ${batch.dsts.length} found in Plivo's records`],
    );
    if (verdict === 'absent') {
      await tx.query(`UPDATE batches SET status = 'pending', next_attempt_at = now() WHERE id = $1`, [batch.batchId]);
      await tx.query(`UPDATE recipients SET status = 'pending' WHERE batch_id = $1 AND status = 'sending'`, [batch.batchId]);
      return verdict;
    }
    await tx.query(
      `INSERT INTO messages (message_uuid, campaign_id, batch_id, to_number, sent_after)
       SELECT f.uuid, b.campaign_id, b.id, f.dst, (SELECT started_at FROM attempts WHERE id = $4)
       FROM unnest($2::text[], $3::text[]) AS f(uuid, dst), batches b WHERE b.id = $1
       ON CONFLICT (message_uuid) DO NOTHING`,
      [batch.batchId, found.map((f) => f.uuid), found.map((f) => f.dst), batch.attemptId],
    );
    await tx.query(
      `UPDATE recipients r SET status = 'submitted', message_uuid = f.uuid
       FROM unnest($2::text[], $3::text[]) AS f(uuid, dst)
       WHERE r.batch_id = $1 AND r.status = 'sending' AND r.dst = f.dst`,
      [batch.batchId, found.map((f) => f.uuid), found.map((f) => f.dst)],
    );
    await tx.query(`UPDATE batches SET status = 'accepted', accepted_at = now() WHERE id = $1`, [batch.batchId]);
    if (verdict === 'split') {
      // The absent ones go out again in a batch of their own.
      await tx.query(
        `WITH absent AS (SELECT row_no FROM recipients WHERE batch_id = $1 AND status = 'sending'),
         nb AS (INSERT INTO batches (campaign_id, sender, text, units, size)
                SELECT campaign_id, sender, text, units, (SELECT count(*) FROM absent) FROM batches WHERE id = $1
                RETURNING id)
         UPDATE recipients SET status = 'pending', batch_id = (SELECT id FROM nb)
         WHERE batch_id = $1 AND status = 'sending'`,
        [batch.batchId],
      );
    }
    return verdict;
  });
}
