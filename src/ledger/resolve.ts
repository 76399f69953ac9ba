/**
 * Operator decisions on ambiguous batches: the escape hatch for a batch that reconciliation cannot settle
 * (Plivo's List API down for longer than a run is willing to wait). Having checked Plivo's console, the
 * operator says either
 *   resend     the request was NOT accepted: the batch is `pending` again and the next run sends it;
 *   mark-sent  it WAS accepted: its recipients become final `sent`, with no message_uuid, so delivery is
 *              never tracked.
 * A wrong decision is exactly the failure smsrun otherwise prevents (a second text, or none), so it is
 * never taken automatically. Each decision is one transaction, with an `operator_resolved` event saying
 * who decided what (the event row's `at` says when). Only `ambiguous` batches qualify: an `in_flight` one
 * may belong to a live run, which will record Plivo's answer itself.
 */
import type { Db, Queryable } from './db.js';
import { recordEvent } from './campaigns.js';
import { BatchNotResolvableError, UnknownBatchError } from './errors.js';
import { ambiguousBatches, type AmbiguousBatchInfo } from './reports.js';

export type Decision = 'resend' | 'mark-sent';

export const MARKED_SENT_REASON = 'marked sent by the operator; no message_uuid, so delivery cannot be tracked';

export interface CampaignRef {
  id: number;
  name: string;
}

export interface Resolution {
  batchId: number;
  sender: string;
  decision: Decision;
  /** Recipients moved: to `pending` (resend) or to `sent` (mark-sent). */
  recipients: number;
}

/** The campaign's batches an operator may resolve now: the ambiguous ones, in id order. */
export async function resolvableBatches(db: Queryable, campaignId: number): Promise<AmbiguousBatchInfo[]> {
  return (await ambiguousBatches(db, campaignId)).filter((b) => b.status === 'ambiguous');
}

/** Throws for the first of these batches that is not the campaign's or not ambiguous; changes nothing. */
export async function checkResolvable(db: Queryable, campaign: CampaignRef, batchIds: readonly number[]): Promise<void> {
  const rows = await db.query<{ id: number; status: string }>(
    'SELECT id, status FROM batches WHERE campaign_id = $1 AND id = ANY($2::int[])', [campaign.id, batchIds]);
  const status = new Map(rows.map((r) => [r.id, r.status]));
  for (const id of batchIds) {
    const s = status.get(id);
    if (s === undefined) throw new UnknownBatchError(campaign.name, id);
    if (s !== 'ambiguous') throw new BatchNotResolvableError(campaign.name, id, s);
  }
}

/** Applies the operator's decision to one ambiguous batch, in one transaction, with its event. */
export async function resolveBatch(
  db: Db, campaign: CampaignRef, batchId: number, decision: Decision, meta: { by: string; note?: string | undefined },
): Promise<Resolution> {
  return db.transaction(async (tx) => {
    // The row lock keeps a concurrent decision on the same batch out until this one is committed.
    const [batch] = await tx.query<{ status: string; sender: string }>(
      'SELECT status, sender FROM batches WHERE id = $1 AND campaign_id = $2 FOR UPDATE', [batchId, campaign.id]);
    if (!batch) throw new UnknownBatchError(campaign.name, batchId);
    if (batch.status !== 'ambiguous') throw new BatchNotResolvableError(campaign.name, batchId, batch.status);

    const [attempt] = await tx.query<{ id: number }>(
      `UPDATE attempts SET status = $2, error = coalesce(error, '') || $3
       WHERE id = (SELECT id FROM attempts WHERE batch_id = $1 ORDER BY attempt_no DESC LIMIT 1)
       RETURNING id`,
      [batchId, decision === 'resend' ? 'absent' : 'accepted', ` | operator: ${decision}`],
    );
    const moved = decision === 'resend' ? await markForResend(tx, batchId) : await markSent(tx, batchId);
    await recordEvent(tx, campaign.id, 'operator_resolved', {
      batch: batchId, attempt: attempt?.id ?? null, decision, recipients: moved, note: meta.note ?? null, by: meta.by,
    });
    return { batchId, sender: batch.sender, decision, recipients: moved };
  });
}

/** Not accepted: the batch is pending again, due now, like a batch reconciliation found absent. */
async function markForResend(tx: Queryable, batchId: number): Promise<number> {
  await tx.query(
    `UPDATE batches SET status = 'pending', next_attempt_at = now(), lease_owner = NULL, lease_expires_at = NULL WHERE id = $1`,
    [batchId]);
  const rows = await tx.query(
    `UPDATE recipients SET status = 'pending' WHERE batch_id = $1 AND status = 'sending' RETURNING row_no`, [batchId]);
  return rows.length;
}

/** Accepted, but with no uuids to track: the recipients are final `sent`, and the reason says why. */
async function markSent(tx: Queryable, batchId: number): Promise<number> {
  await tx.query(
    `UPDATE batches SET status = 'accepted', accepted_at = now(), lease_owner = NULL, lease_expires_at = NULL WHERE id = $1`,
    [batchId]);
  const rows = await tx.query(
    `UPDATE recipients SET status = 'sent', reason = $2 WHERE batch_id = $1 AND status = 'sending' RETURNING row_no`,
    [batchId, MARKED_SENT_REASON]);
  return rows.length;
}
