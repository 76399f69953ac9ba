/**
 * Tracking's side of the ledger: which messages are due for a look, and applying what Plivo reports.
 * A message's number comes from Plivo's record (`to_number`), never from its position in the 202
 * answer; that is also when its recipient learns its message_uuid.
 */
import type { Db } from './db.js';

export interface DueMessage {
  message_uuid: string;
  submitted_at: Date;
}

export async function dueMessages(db: Db, campaignId: number, limit: number): Promise<DueMessage[]> {
  return db.query<DueMessage>(
    `SELECT message_uuid, submitted_at FROM messages
     WHERE campaign_id = $1 AND final_at IS NULL AND next_poll_at <= now()
     ORDER BY next_poll_at LIMIT $2`,
    [campaignId, limit],
  );
}

export async function trackingBacklog(db: Db, campaignId: number): Promise<{ open: number; nextAt: Date | null }> {
  const [row] = await db.query<{ open: number; nextAt: Date | null }>(
    `SELECT count(*)::int AS open, min(next_poll_at) AS "nextAt" FROM messages WHERE campaign_id = $1 AND final_at IS NULL`,
    [campaignId],
  );
  return row!;
}

/** Looks that failed (Plivo busy, record unknown yet) are tried again after `delayMs`. */
export async function postponeLookups(db: Db, uuids: readonly string[], delayMs: number): Promise<void> {
  if (uuids.length === 0) return;
  await db.query(
    `UPDATE messages SET next_poll_at = now() + make_interval(secs => $2::float8 / 1000) WHERE message_uuid = ANY($1::text[])`,
    [uuids, delayMs],
  );
}

export interface MessageUpdate {
  uuid: string;
  toNumber: string;
  /** The recipient status this record means: a final state, or 'submitted' while not final. */
  status: string;
  providerState: string;
  errorCode: string | null;
  units: number | null;
  totalRate: string | null;
  totalAmount: string | null;
  messageTime: Date | null;
  final: boolean;
  nextPollAt: Date;
}

/** Applies a set of provider records in one transaction, two set-based statements. */
export async function applyMessageUpdates(db: Db, updates: readonly MessageUpdate[]): Promise<void> {
  if (updates.length === 0) return;
  const col = <K extends keyof MessageUpdate>(k: K) => updates.map((u) => u[k]);
  await db.transaction(async (tx) => {
    await tx.query(
      `UPDATE messages m SET to_number = coalesce(m.to_number, u.to_number), state = u.state, error_code = u.error_code,
              units = u.units, total_rate = u.total_rate::numeric, total_amount = u.total_amount::numeric,
              message_time = u.message_time, updated_at = now(), polls = m.polls + 1,
              final_at = CASE WHEN u.final THEN now() END, next_poll_at = u.next_poll_at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::timestamptz[], $9::bool[], $10::timestamptz[])
            AS u(uuid, to_number, state, error_code, units, total_rate, total_amount, message_time, final, next_poll_at)
       WHERE m.message_uuid = u.uuid`,
      [col('uuid'), col('toNumber'), col('providerState'), col('errorCode'), col('units'), col('totalRate'), col('totalAmount'),
        col('messageTime'), col('final'), col('nextPollAt')],
    );
    await tx.query(
      `UPDATE recipients r SET message_uuid = m.message_uuid, status = u.status
       FROM unnest($1::text[], $2::text[]) AS u(uuid, status)
       JOIN messages m ON m.message_uuid = u.uuid
       WHERE r.batch_id = m.batch_id AND r.dst = m.to_number AND r.status IN ('submitted', 'sending')`,
      [col('uuid'), col('status')],
    );
  });
}
