/** Read-only queries behind `status`, the run summary and `export`. */
import type { Db, Queryable } from './db.js';

export interface StatusCount {
  status: string;
  count: number;
  units: number;
}

export async function statusCounts(db: Db, campaignId: number): Promise<StatusCount[]> {
  return db.query<StatusCount>(
    `SELECT status, count(*)::int AS count, coalesce(sum(units), 0)::int AS units
     FROM recipients WHERE campaign_id = $1 GROUP BY status ORDER BY status`,
    [campaignId],
  );
}

export interface CostSummary {
  /** Sum of total_amount Plivo reported so far. */
  spent: string;
  /** Units of messages whose amount is known, and their amount: the average price per unit. */
  pricedUnits: number;
  pricedAmount: string;
  /** Units not sent yet (pending, sending). */
  unsentUnits: number;
}

export async function costSummary(db: Db, campaignId: number): Promise<CostSummary> {
  const [row] = await db.query<CostSummary>(
    `SELECT coalesce((SELECT sum(total_amount) FROM messages WHERE campaign_id = $1), 0)::text AS spent,
            coalesce((SELECT sum(units) FROM messages WHERE campaign_id = $1 AND total_rate IS NOT NULL), 0)::int AS "pricedUnits",
            coalesce((SELECT sum(total_rate * units) FROM messages WHERE campaign_id = $1 AND total_rate IS NOT NULL), 0)::text AS "pricedAmount",
            coalesce((SELECT sum(units) FROM recipients WHERE campaign_id = $1 AND status IN ('pending', 'sending')), 0)::int AS "unsentUnits"`,
    [campaignId],
  );
  return row!;
}

export interface AmbiguousBatchInfo {
  id: number;
  sender: string;
  /** `ambiguous` (awaiting reconciliation, or an operator's decision) or `in_flight` (a run may own it). */
  status: 'ambiguous' | 'in_flight';
  /** Recipients still `sending`. */
  size: number;
  /** When its latest attempt started. */
  since: Date;
  last_error: string | null;
}

/** Batches whose fate is not known yet, in id order: ambiguous, or in flight (ours or another process's). */
export async function ambiguousBatches(db: Queryable, campaignId: number): Promise<AmbiguousBatchInfo[]> {
  return db.query<AmbiguousBatchInfo>(
    `SELECT b.id, b.sender, b.status, (SELECT count(*)::int FROM recipients r WHERE r.batch_id = b.id AND r.status = 'sending') AS size,
            (SELECT max(started_at) FROM attempts a WHERE a.batch_id = b.id) AS since, b.last_error
     FROM batches b WHERE b.campaign_id = $1 AND b.status IN ('ambiguous', 'in_flight') ORDER BY b.id`,
    [campaignId],
  );
}

export interface ReportRow {
  row: number;
  line: number;
  dst: string | null;
  src: string | null;
  status: string;
  message_uuid: string | null;
  error_code: string | null;
  units: number | null;
  total_amount: string | null;
  submitted_at: Date | null;
  final_at: Date | null;
  reason: string | null;
}

/**
 * One row per CSV row, in CSV order, a page at a time (keyset pagination: flat memory, same SQL on both
 * engines). A submitted recipient's status is Plivo's state of its message (queued, sent...).
 */
export async function reportPage(db: Db, campaignId: number, afterRow: number, limit: number): Promise<ReportRow[]> {
  return db.query<ReportRow>(
    `SELECT r.row_no AS row, r.line_no AS line, coalesce(r.dst, r.raw_dst) AS dst, r.sender AS src,
            CASE WHEN r.status = 'submitted' THEN coalesce(m.state, 'queued') ELSE r.status END AS status,
            r.message_uuid, m.error_code, coalesce(m.units, r.units) AS units, m.total_amount::text AS total_amount,
            coalesce(m.submitted_at, b.accepted_at) AS submitted_at, m.final_at, coalesce(r.reason, m.final_reason) AS reason
     FROM recipients r
     LEFT JOIN messages m ON m.message_uuid = r.message_uuid
     LEFT JOIN batches b ON b.id = r.batch_id AND r.status NOT IN ('pending', 'sending', 'invalid', 'duplicate')
     WHERE r.campaign_id = $1 AND r.row_no > $2
     ORDER BY r.row_no LIMIT $3`,
    [campaignId, afterRow, limit],
  );
}
