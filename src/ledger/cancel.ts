/**
 * `smsrun cancel` (sql/012): a campaign stopped for good. Its `cancelled_at` is set once; every claim
 * checks it (claimNotCancelled in suppressions.ts), so nothing of the campaign is sent after the commit,
 * whichever process holds its senders. Recipients not sent yet become `cancelled`; recipients whose request
 * is in flight or ambiguous are left to the run that records the answer, or to reconciliation: those that
 * turn out never sent come back `pending`, and the next sweep (every run of a cancelled campaign ends with
 * one) cancels them too.
 */
import type { Db, Queryable } from './db.js';

export interface CancelResult {
  /** When the campaign was cancelled (the first cancel's time, on a repeat). */
  cancelledAt: Date;
  /** True when this call cancelled it; false when it already was. */
  fresh: boolean;
  /** Recipients turned `cancelled` by this call. */
  recipients: number;
  /** Recipients whose request is in flight or being reconciled: they may have been sent. */
  unsettled: number;
}

export async function cancelCampaign(db: Db, campaignId: number, by: string): Promise<CancelResult> {
  return db.transaction(async (tx) => {
    const [was] = await tx.query<{ cancelled_at: Date | null }>('SELECT cancelled_at FROM campaigns WHERE id = $1 FOR UPDATE', [campaignId]);
    const [row] = await tx.query<{ cancelled_at: Date }>(
      'UPDATE campaigns SET cancelled_at = coalesce(cancelled_at, now()) WHERE id = $1 RETURNING cancelled_at', [campaignId]);
    const recipients = await sweepCancelled(tx, campaignId, row!.cancelled_at);
    const [unsettled] = await tx.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM recipients WHERE campaign_id = $1 AND status = 'sending'`, [campaignId]);
    const fresh = was?.cancelled_at == null;
    if (fresh || recipients > 0) {
      await tx.query('INSERT INTO events (campaign_id, kind, detail) VALUES ($1, $2, $3)',
        [campaignId, 'cancelled', JSON.stringify({ by, recipients })]);
    }
    return { cancelledAt: row!.cancelled_at, fresh, recipients, unsettled: unsettled!.n };
  });
}

/** Pending batches → `cancelled` (final, never claimed again; sql/021), pending recipients → `cancelled`. Idempotent. */
export async function sweepCancelled(tx: Queryable, campaignId: number, at: Date): Promise<number> {
  // Batches before recipients, the order every writer of the sending protocol locks them in (claim, records):
  // a batch being claimed right now is waited for, then found in flight and left to its run.
  await tx.query(
    `UPDATE batches SET status = 'cancelled', last_error = 'not sent: the campaign was cancelled'
     WHERE campaign_id = $1 AND status = 'pending'`,
    [campaignId],
  );
  const rows = await tx.query(
    `UPDATE recipients SET status = 'cancelled',
            reason = 'not sent: the campaign was cancelled (smsrun cancel, ' || to_char($2::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC)'
     WHERE campaign_id = $1 AND status = 'pending' RETURNING 1`,
    [campaignId, at],
  );
  return rows.length;
}

/** When the campaign was cancelled, or null. */
export async function cancelledAt(db: Queryable, campaignId: number): Promise<Date | null> {
  const [row] = await db.query<{ cancelled_at: Date | null }>('SELECT cancelled_at FROM campaigns WHERE id = $1', [campaignId]);
  return row?.cancelled_at ?? null;
}
