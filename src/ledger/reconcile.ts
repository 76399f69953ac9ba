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
  dsts: string[];
}

/**
 * Ambiguous batches whose last attempt ended at least `quietMs` ago. The caller picks `quietMs` so that
 * the window it looks the attempt up in is wholly in the past.
 */
export async function dueAmbiguousBatches(db: Db, campaignId: number, quietMs: number): Promise<AmbiguousBatch[]> {
  return db.query<AmbiguousBatch>(
    `SELECT b.id AS "batchId", a.id AS "attemptId", b.sender, b.text, b.units, a.started_at AS "startedAt",
            coalesce(a.finished_at, a.started_at) AS "endedAt",
            array(SELECT dst FROM recipients r WHERE r.batch_id = b.id AND r.status = 'sending' ORDER BY row_no) AS dsts
     FROM batches b
     JOIN LATERAL (SELECT id, started_at, finished_at FROM attempts WHERE batch_id = b.id ORDER BY attempt_no DESC LIMIT 1) a ON true
     WHERE b.campaign_id = $1 AND b.status = 'ambiguous'
       AND coalesce(a.finished_at, a.started_at) <= now() - make_interval(secs => $2::float8 / 1000)
     ORDER BY b.id`,
    [campaignId, quietMs],
  );
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
