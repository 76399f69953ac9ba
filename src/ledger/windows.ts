/**
 * Send windows in the ledger (sql/013): the claim-time predicate, and the openings it reads.
 *
 * windowOpen is the one rule "nobody is texted outside their window or before the campaign's start",
 * written as a predicate on a batch aliased `b`, so any claim statement can carry it unchanged.
 */
import type { Queryable } from './db.js';

/** Plivo's least message_expiry: a batch is not claimed with less of its window left than this. */
export const MIN_EXPIRY_SECONDS = 5;

/**
 * `campaign` is the SQL of the batch's campaign id: the statement's parameter (every caller is about one campaign),
 * not `b.campaign_id`. Against a parameter the campaign's own check is uncorrelated, so Postgres makes it a one-time
 * filter; against `b.campaign_id` it anti-joined every batch with campaigns, and its estimate (one batch left) made
 * the claim read and sort all of a sender's pending batches for each probe (docs/decisions.md, "the claim's probe").
 */
export function windowOpen(campaign: string): string {
  return `(
  (b.time_zone IS NULL OR EXISTS (SELECT 1 FROM send_windows w
     WHERE w.campaign_id = b.campaign_id AND w.time_zone = b.time_zone
       AND w.opens_at <= now() AND now() < w.closes_at - interval '${MIN_EXPIRY_SECONDS} seconds'))
  AND NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.id = ${campaign} AND c.start_at > now()))`;
}

/** When the window of batch `alias`'s zone closes (NULL without a window): its messages' expiry is cut to it. */
export function windowClosesAt(alias: string): string {
  return `(SELECT w.closes_at FROM send_windows w WHERE w.campaign_id = ${alias}.campaign_id AND w.time_zone = ${alias}.time_zone)`;
}

/** The zone keys of batches still to send whose opening is missing or over, and the ledger's clock. */
export async function zonesToRefresh(db: Queryable, campaignId: number): Promise<{ zones: string[]; now: Date }> {
  const rows = await db.query<{ time_zone: string | null; now: Date }>(
    `SELECT z.time_zone, now() AS now FROM (SELECT DISTINCT time_zone FROM batches WHERE campaign_id = $1 AND status = 'pending' AND time_zone IS NOT NULL) z
     LEFT JOIN send_windows w ON w.campaign_id = $1 AND w.time_zone = z.time_zone
     WHERE w.closes_at IS NULL OR w.closes_at - interval '${MIN_EXPIRY_SECONDS} seconds' <= now()
     UNION ALL SELECT NULL, now()`,
    [campaignId],
  );
  return { zones: rows.flatMap((r) => (r.time_zone === null ? [] : [r.time_zone])), now: rows[0]!.now };
}

export interface Opening {
  zone: string;
  opensAt: Date;
  closesAt: Date;
}

export async function saveOpenings(db: Queryable, campaignId: number, openings: readonly Opening[]): Promise<void> {
  if (openings.length === 0) return;
  await db.query(
    `INSERT INTO send_windows (campaign_id, time_zone, opens_at, closes_at)
     SELECT $1, u.zone, u.opens_at, u.closes_at FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS u(zone, opens_at, closes_at)
     ON CONFLICT (campaign_id, time_zone) DO UPDATE SET opens_at = excluded.opens_at, closes_at = excluded.closes_at`,
    [campaignId, openings.map((o) => o.zone), openings.map((o) => o.opensAt.toISOString()), openings.map((o) => o.closesAt.toISOString())],
  );
}

/**
 * When sending can next start: the scheduled start, or the earliest opening among zones with batches to
 * send, whichever is later (`zone` null when it is the scheduled start). Null when a batch may be sent now
 * or nothing is left.
 */
export async function nextSendingAt(db: Queryable, campaignId: number): Promise<{ at: Date; zone: string | null } | null> {
  const [row] = await db.query<{ open_now: boolean; start_at: Date | null; opens_at: Date | null; zone: string | null; pending: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM batches b WHERE b.campaign_id = $1 AND b.status = 'pending' AND ${windowOpen('$1')}) AS open_now,
            EXISTS (SELECT 1 FROM batches WHERE campaign_id = $1 AND status = 'pending') AS pending,
            (SELECT start_at FROM campaigns WHERE id = $1) AS start_at, o.opens_at, o.time_zone AS zone
     FROM (SELECT 1) one LEFT JOIN LATERAL (
       SELECT w.opens_at, w.time_zone FROM send_windows w
       WHERE w.campaign_id = $1 AND EXISTS (SELECT 1 FROM batches b WHERE b.campaign_id = $1 AND b.time_zone = w.time_zone AND b.status = 'pending')
       ORDER BY w.opens_at LIMIT 1) o ON true`,
    [campaignId],
  );
  if (!row || row.open_now || !row.pending) return null;
  const start = row.start_at ? new Date(row.start_at).getTime() : 0;
  const opens = row.opens_at ? new Date(row.opens_at).getTime() : 0;
  if (opens > start) return { at: new Date(opens), zone: row.zone };
  return start > Date.now() ? { at: new Date(start), zone: null } : null;
}

export async function setStartAt(db: Queryable, campaignId: number, at: Date): Promise<void> {
  await db.query('UPDATE campaigns SET start_at = $2 WHERE id = $1', [campaignId, at.toISOString()]);
}
