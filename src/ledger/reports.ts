/**
 * Read-only queries behind `status`, the run summary, `export` and the HTML report. Everything a report shows
 * is aggregated here, in SQL, so a report of a 1 000 000-row campaign reads a few hundred rows, not a million;
 * `reportChunk` is the one row-by-row query, read a chunk at a time.
 */
import type { Db, Queryable } from './db.js';

export interface StatusCount {
  status: string;
  count: number;
  units: number;
}

export async function statusCounts(db: Queryable, campaignId: number): Promise<StatusCount[]> {
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
}

/** In one pass over the campaign's messages (units not sent yet are in statusCounts). */
export async function costSummary(db: Queryable, campaignId: number): Promise<CostSummary> {
  const [row] = await db.query<CostSummary>(
    `SELECT coalesce(sum(total_amount), 0)::text AS spent,
            coalesce(sum(units) FILTER (WHERE total_rate IS NOT NULL), 0)::int AS "pricedUnits",
            coalesce(sum(total_rate * units) FILTER (WHERE total_rate IS NOT NULL), 0)::text AS "pricedAmount"
     FROM messages WHERE campaign_id = $1`,
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

/**
 * The status a report shows for a recipient: Plivo's state of its message while it is `submitted` (queued,
 * sent), else the recipient's own (final states, and smsrun's: pending, sending, invalid, duplicate...).
 */
const REPORT_STATUS = `CASE WHEN r.status = 'submitted' THEN coalesce(m.state, 'queued') ELSE r.status END`;

export interface ReportRow {
  row: number;
  line: number;
  /** The number as sent; for a row whose number is not usable, the value as written. */
  dst: string | null;
  /** The number as written in the CSV. */
  raw_dst: string | null;
  src: string | null;
  status: string;
  message_uuid: string | null;
  error_code: string | null;
  units: number | null;
  total_amount: string | null;
  /** A Date, or (from reportChunk) the same instant as ISO 8601 text: Postgres formats it faster than a Date is parsed. */
  submitted_at: Date | string | null;
  final_at: Date | string | null;
  reason: string | null;
  /** The row's CSV fields (null for campaigns loaded before the ledger kept them). */
  fields: string[] | null;
  /** The rendered text, when asked for. */
  text: string | null;
  /** The zone(s) the send window was read in for this recipient (sql/013); null without a window. */
  time_zone: string | null;
  /** The recipient's batch, for the reason of a row not sent yet. */
  batch_id: number | null;
  batch_status: string | null;
  batch_attempts: number | null;
  batch_error: string | null;
}

export interface ReportFilter {
  /** Only rows whose report status is one of these. */
  statuses?: readonly string[] | undefined;
  /** Read the rendered text (it is left out otherwise). */
  text?: boolean | undefined;
}

export interface ReportChunk {
  /** The chunk's rows that pass the filter. */
  rows: ReportRow[];
  /** The last CSV row the chunk read (the next chunk starts after it); null when there was none left. */
  last: number | null;
}

/**
 * One row per CSV row, in CSV order, `limit` rows of the campaign at a time (keyset pagination on the
 * primary key: flat memory, same SQL on both engines). A submitted recipient's status is Plivo's state of its
 * message (queued, sent...).
 *
 * The chunk's messages and batches are read through the chunk's batch ids (messages_batch, batches_pkey), not
 * looked up one uuid at a time: uuids are random, so a lookup per row read a random page of `messages` per
 * row (a million random reads for a million rows), while a batch's messages were written together and sit
 * side by side. This relies on a recipient's message being of the recipient's batch, which holds wherever
 * a uuid is linked (sending, reconciliation and tracking all match on the batch).
 * The status filter is applied to the chunk here, so that a chunk with no matching row still moves on.
 */
export async function reportChunk(db: Queryable, campaignId: number, afterRow: number, limit: number, filter: ReportFilter = {}): Promise<ReportChunk> {
  const rows = await db.query<ReportRow>(
    reportRowsSql(`SELECT ${PAGE_COLUMNS}, CASE WHEN $4 THEN text END AS text
                   FROM recipients WHERE campaign_id = $1 AND row_no > $2 ORDER BY row_no LIMIT $3`),
    [campaignId, afterRow, limit, filter.text === true],
  );
  const last = rows.at(-1)?.row ?? null;
  const wanted = filter.statuses ? new Set(filter.statuses) : null;
  return { rows: wanted ? rows.filter((r) => wanted.has(r.status)) : rows, last };
}

const PAGE_COLUMNS = 'row_no, line_no, dst, raw_dst, sender, status, reason, batch_id, message_uuid, units, fields, time_zone';

/**
 * The report rows (ReportRow's columns, in CSV order) of a page of recipients: `page` selects PAGE_COLUMNS and
 * `text`. Its messages and batches are read through the page's batch ids (see reportChunk).
 */
function reportRowsSql(page: string): string {
  return `WITH page AS MATERIALIZED (${page}),
     ids AS MATERIALIZED (SELECT coalesce(array_agg(DISTINCT batch_id), '{}') AS batch_ids FROM page WHERE batch_id IS NOT NULL)
     SELECT r.row_no AS row, r.line_no AS line, coalesce(r.dst, r.raw_dst) AS dst, r.raw_dst, r.sender AS src,
            ${REPORT_STATUS} AS status, r.message_uuid, m.error_code, coalesce(m.units, r.units) AS units,
            m.total_amount::text AS total_amount,
            ${iso(`coalesce(m.submitted_at, CASE WHEN r.status NOT IN ('pending', 'sending') THEN b.accepted_at END)`)} AS submitted_at,
            ${iso('m.final_at')} AS final_at, coalesce(r.reason, m.final_reason) AS reason, r.fields, r.text, r.time_zone,
            b.id AS batch_id, b.status AS batch_status, b.attempts AS batch_attempts, b.last_error AS batch_error
     FROM page r
     LEFT JOIN (SELECT m.* FROM messages m, ids WHERE m.batch_id = ANY(ids.batch_ids)) m ON m.message_uuid = r.message_uuid
     LEFT JOIN (SELECT b.* FROM batches b, ids WHERE b.id = ANY(ids.batch_ids)) b ON b.id = r.batch_id
     ORDER BY r.row_no`;
}

/** A report cell as SQL over `x`, a row of reportRowsSql plus `x.error_meaning`: text, or a whole number. */
export interface CellSql {
  sql: string;
  kind: 'text' | 'int';
}

/**
 * smsrun's own report columns as SQL: the values report/columns.ts computes in JavaScript (except `--mask`,
 * which only the JavaScript path does), for the COPY export. test/report.copy.test.ts holds the two paths to
 * the same bytes.
 */
export const REPORT_CELLS = {
  row: { sql: 'x.row', kind: 'int' },
  line: { sql: 'x.line', kind: 'int' },
  dst: { sql: 'x.dst', kind: 'text' },
  src: { sql: 'x.src', kind: 'text' },
  status: { sql: 'x.status', kind: 'text' },
  message_uuid: { sql: 'x.message_uuid', kind: 'text' },
  error_code: { sql: 'x.error_code', kind: 'text' },
  error_meaning: { sql: 'x.error_meaning', kind: 'text' },
  units: { sql: 'x.units', kind: 'int' },
  total_amount: { sql: 'x.total_amount', kind: 'text' },
  submitted_at: { sql: 'x.submitted_at', kind: 'text' },
  final_at: { sql: 'x.final_at', kind: 'text' },
  // report/columns.ts's reasonFor: the ledger's reason, else what a row not sent yet is waiting for
  reason: {
    sql: `CASE WHEN x.reason <> '' THEN x.reason
               WHEN x.status = 'sending' AND x.batch_id IS NOT NULL THEN
                 CASE WHEN x.batch_status = 'ambiguous'
                      THEN 'batch ' || x.batch_id || ': the request may or may not have been accepted'
                           || CASE WHEN x.batch_error <> '' THEN ' (' || x.batch_error || ')' ELSE '' END
                           || '; ''smsrun resume'' checks Plivo''s records before anything is sent again'
                      ELSE 'batch ' || x.batch_id || ': request in flight' END
               WHEN x.status = 'pending' THEN
                 CASE WHEN x.batch_attempts <> 0 AND x.batch_error <> ''
                      THEN 'not sent yet: batch ' || coalesce(x.batch_id::text, 'null') || ' will be tried again (last attempt: ' || x.batch_error || ')'
                      ELSE 'not sent yet' END END`,
    kind: 'text',
  },
  text: { sql: 'x.text', kind: 'text' },
  time_zone: { sql: 'x.time_zone', kind: 'text' },
} as const satisfies Record<string, CellSql>;

/** The user's CSV column `index` (from 0) as SQL over `x`. */
export function fieldCell(index: number): CellSql {
  if (!Number.isSafeInteger(index) || index < 0) throw new TypeError(`fieldCell: index must be a whole number ≥ 0, got ${index}`);
  return { sql: `x.fields[${index + 1}]`, kind: 'text' };
}

/**
 * A text cell as report/export.ts's csvLine writes it, before COPY's own CSV quoting (which quotes exactly the
 * cells csvLine quotes: those with a comma, a double quote, CR or LF): an empty cell is written as nothing, and a
 * cell a spreadsheet would run (=, +, -, @, tab, CR or their full-width forms first) gets a leading '.
 */
const csvText = (c: string) =>
  `CASE WHEN ${c} = '' THEN NULL WHEN left(${c}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r', '＝', '＋', '－', '＠') THEN '''' || ${c} ELSE ${c} END`;

export interface ReportCopy {
  campaignId: number;
  cells: readonly CellSql[];
  /** Only rows whose report status is one of these. */
  statuses?: readonly string[] | undefined;
  /** Plivo error code → its meaning (plivo/error-codes.ts), for `error_meaning`. */
  meanings: Readonly<Record<string, string>>;
  /** The sentence for a code not in `meanings`, as the text before the code and after it. */
  unlisted: readonly [string, string];
  /** Row numbers per COPY statement. */
  rowsPerCopy: number;
}

/**
 * The report's data rows as CSV (no header), written to `out` by `COPY (SELECT …) TO STDOUT WITH (FORMAT csv)`:
 * Postgres computes every cell and node only pipes the bytes. One COPY per range of `rowsPerCopy` row numbers,
 * each read like a reportChunk chunk (its messages and batches through its batch ids), all in one transaction.
 * COPY takes no parameters, so the values go in as transaction-local settings (set_config).
 * Resolves with the rows written; undefined on a ledger without COPY TO STDOUT (PGlite).
 */
export async function copyReport(db: Db, o: ReportCopy, out: NodeJS.WritableStream): Promise<number | undefined> {
  if (db.kind !== 'postgres') return undefined;
  const inner = o.cells.map((c, i) => `${c.sql} AS c${i}`).join(', ');
  const outer = o.cells.map((c, i) => (c.kind === 'text' ? csvText(`c${i}`) : `c${i}`)).join(', ');
  const only = o.statuses ? `WHERE x.status = ANY(string_to_array(current_setting('smsrun.report_only'), ','))` : '';
  const rows = reportRowsSql(`SELECT ${PAGE_COLUMNS}, text FROM recipients
    WHERE campaign_id = current_setting('smsrun.report_campaign')::int
      AND row_no > current_setting('smsrun.report_from')::int AND row_no <= current_setting('smsrun.report_to')::int`);
  // OFFSET 0 keeps the cells a subquery, so the outer CASE reads each computed cell instead of computing it again.
  const copy = `COPY (
    WITH meanings AS MATERIALIZED (SELECT key AS code, value AS meaning FROM jsonb_each_text(current_setting('smsrun.report_meanings')::jsonb))
    SELECT ${outer} FROM (
      SELECT ${inner} FROM (
        SELECT y.*, CASE WHEN y.error_code <> '' THEN coalesce(em.meaning,
                      current_setting('smsrun.report_unlisted_before') || y.error_code || current_setting('smsrun.report_unlisted_after')) END AS error_meaning
        FROM (${rows}) y LEFT JOIN meanings em ON em.code = y.error_code) x
      ${only} ORDER BY x.row OFFSET 0) cells) TO STDOUT WITH (FORMAT csv)`;
  return db.transaction(async (tx) => {
    if (!tx.copyTo) return undefined;
    const [range] = await tx.query<{ last: number | null }>(`SELECT max(row_no) AS last FROM recipients WHERE campaign_id = $1`, [o.campaignId]);
    const set = (name: string, value: string) => tx.query('SELECT set_config($1, $2, true)', [`smsrun.report_${name}`, value]);
    await set('campaign', String(o.campaignId));
    await set('meanings', JSON.stringify(o.meanings));
    await set('unlisted_before', o.unlisted[0]);
    await set('unlisted_after', o.unlisted[1]);
    if (o.statuses) await set('only', o.statuses.join(','));
    let written = 0;
    for (let from = 0; from < (range?.last ?? 0); from += o.rowsPerCopy) {
      await set('from', String(from));
      await set('to', String(from + o.rowsPerCopy));
      written += await tx.copyTo(copy, out);
    }
    return written;
  });
}

/** A timestamptz as Date.prototype.toISOString writes it (UTC, milliseconds truncated). */
const iso = (t: string) => `to_char(${t} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** The rows of one chunk (see reportChunk). */
export async function reportPage(db: Queryable, campaignId: number, afterRow: number, limit: number, filter: ReportFilter = {}): Promise<ReportRow[]> {
  return (await reportChunk(db, campaignId, afterRow, limit, filter)).rows;
}

/** Report statuses present in the campaign (for checking `--only`). */
export async function reportStatuses(db: Queryable, campaignId: number): Promise<string[]> {
  const rows = await db.query<{ status: string }>(
    `SELECT DISTINCT ${REPORT_STATUS} AS status FROM recipients r LEFT JOIN messages m ON m.message_uuid = r.message_uuid
     WHERE r.campaign_id = $1`,
    [campaignId],
  );
  return rows.map((r) => r.status);
}

export interface SenderStats {
  sender: string;
  /** Recipients dealt to this sender. */
  assigned: number;
  /** Messages Plivo accepted (with a message_uuid). */
  accepted: number;
  delivered: number;
  undelivered: number;
  /** Final `failed`: by Plivo or the carrier (with a uuid), or refused requests (without). */
  failed: number;
  rejected: number;
  /** Final `sent`: no receipt before the cut-off, or marked sent by an operator. */
  sent: number;
  /** Accepted, outcome not known yet. */
  open: number;
  /** Not sent yet: pending or in an unsettled request. */
  unsent: number;
  /** Units Plivo billed (its count where known, else smsrun's) and what it charged. */
  units: number;
  amount: string;
  /** Recipients in requests made, and their units: what the sender's rate had to pace. */
  requested: number;
  requestedUnits: number;
  /** Batches sent at least once: the requests the account's request limit had to pace. */
  requests: number;
}

/**
 * Per sender: one pass over the campaign's recipients and one over its messages, each grouped by batch (a
 * few thousand groups), joined by batch. Not a join of recipients to messages row by row: on a million rows
 * that join and its sort took seconds. Units and amount are those of the messages of the sender's batches
 * (what Plivo billed, linked to a recipient yet or not); a message's units not known yet are its batch's.
 */
export async function senderStats(db: Queryable, campaignId: number): Promise<SenderStats[]> {
  return db.query<SenderStats>(
    `WITH r AS (
       SELECT sender, batch_id,
              count(*) AS assigned,
              count(message_uuid) AS accepted,
              count(*) FILTER (WHERE status = 'delivered') AS delivered,
              count(*) FILTER (WHERE status = 'undelivered') AS undelivered,
              count(*) FILTER (WHERE status = 'failed') AS failed,
              count(*) FILTER (WHERE status = 'rejected') AS rejected,
              count(*) FILTER (WHERE status = 'sent') AS sent,
              count(*) FILTER (WHERE status = 'submitted') AS open,
              count(*) FILTER (WHERE status IN ('pending', 'sending')) AS unsent,
              coalesce(sum(units), 0) AS units
       FROM recipients WHERE campaign_id = $1 AND sender IS NOT NULL GROUP BY sender, batch_id),
     m AS (
       SELECT m.batch_id, sum(coalesce(m.units, b.units)) AS units, sum(m.total_amount) AS amount
       FROM messages m JOIN batches b ON b.id = m.batch_id WHERE m.campaign_id = $1 GROUP BY m.batch_id)
     SELECT r.sender,
            sum(r.assigned)::int AS assigned,
            sum(r.accepted)::int AS accepted,
            sum(r.delivered)::int AS delivered,
            sum(r.undelivered)::int AS undelivered,
            sum(r.failed)::int AS failed,
            sum(r.rejected)::int AS rejected,
            sum(r.sent)::int AS sent,
            sum(r.open)::int AS open,
            sum(r.unsent)::int AS unsent,
            coalesce(sum(m.units), 0)::int AS units,
            coalesce(sum(m.amount), 0)::text AS amount,
            coalesce(sum(r.assigned) FILTER (WHERE b.attempts > 0), 0)::int AS requested,
            coalesce(sum(r.units) FILTER (WHERE b.attempts > 0), 0)::int AS "requestedUnits",
            count(DISTINCT b.id) FILTER (WHERE b.attempts > 0)::int AS requests
     FROM r
     LEFT JOIN batches b ON b.id = r.batch_id
     LEFT JOIN m ON m.batch_id = r.batch_id
     GROUP BY r.sender ORDER BY r.sender`,
    [campaignId],
  );
}

export interface CampaignTiming {
  /** When the first request of the campaign left. */
  firstRequestAt: Date | null;
  /** When Plivo accepted the last batch. */
  lastAcceptedAt: Date | null;
  /** The latest delivery or final state known (Plivo's time where it gave one). */
  lastFinalAt: Date | null;
  /** Runs (processes) that worked on the campaign. */
  runs: number;
}

export async function campaignTiming(db: Queryable, campaignId: number): Promise<CampaignTiming> {
  const [row] = await db.query<CampaignTiming>(
    `SELECT (SELECT min(a.started_at) FROM attempts a JOIN batches b ON b.id = a.batch_id WHERE b.campaign_id = $1) AS "firstRequestAt",
            (SELECT max(accepted_at) FROM batches WHERE campaign_id = $1) AS "lastAcceptedAt",
            (SELECT max(coalesce(provider_updated_at, final_at)) FROM messages WHERE campaign_id = $1 AND final_at IS NOT NULL) AS "lastFinalAt",
            (SELECT count(*)::int FROM runners WHERE campaign_id = $1) AS runs`,
    [campaignId],
  );
  return row!;
}

/**
 * When a message was delivered: Plivo's time of its last state change where known (a callback's report time,
 * an MDR's message_updated_time), else when smsrun saw it final.
 */
const DELIVERED_AT = 'coalesce(m.provider_updated_at, m.final_at)';

export interface SeriesPoint {
  sender: string;
  kind: 'accepted' | 'delivered';
  /** Bucket number from `start`, each `bucketSeconds` long. */
  bucket: number;
  count: number;
}

/** The span a time series covers: from the first request to the last acceptance or delivery. */
export async function seriesSpan(db: Queryable, campaignId: number): Promise<{ start: Date | null; end: Date | null }> {
  const [row] = await db.query<{ start: Date | null; end: Date | null }>(
    `SELECT min(m.sent_after) AS start, greatest(max(m.sent_after), max(${DELIVERED_AT}) FILTER (WHERE m.state = 'delivered')) AS "end"
     FROM messages m WHERE m.campaign_id = $1`,
    [campaignId],
  );
  return row!;
}

/** Messages accepted (at the time their request left) and delivered, per sender and time bucket. */
export async function sendSeries(db: Queryable, campaignId: number, start: Date, bucketSeconds: number): Promise<SeriesPoint[]> {
  const bucket = (t: string) => `greatest(0, floor(extract(epoch FROM ${t} - $2::timestamptz) / $3))::int`;
  return db.query<SeriesPoint>(
    `SELECT b.sender, 'accepted' AS kind, ${bucket('m.sent_after')} AS bucket, count(*)::int AS count
     FROM messages m JOIN batches b ON b.id = m.batch_id WHERE m.campaign_id = $1 GROUP BY 1, 2, 3
     UNION ALL
     SELECT b.sender, 'delivered' AS kind, ${bucket(DELIVERED_AT)} AS bucket, count(*)::int AS count
     FROM messages m JOIN batches b ON b.id = m.batch_id WHERE m.campaign_id = $1 AND m.state = 'delivered' GROUP BY 1, 2, 3
     ORDER BY 1, 2, 3`,
    [campaignId, start, bucketSeconds],
  );
}

export interface LatencyStats {
  /** Delivered messages per latency bucket: counts[i] is between edges[i-1] and edges[i] seconds. */
  counts: number[];
  p50: number | null;
  p90: number | null;
  p99: number | null;
  delivered: number;
}

/**
 * Delivery latency: from Plivo accepting the message to its delivery. Both ends on Plivo's clock when it gave
 * both (message_time, and the callback's or MDR's update time), else on smsrun's (answer recorded, final seen).
 * Negative values (clock skew) count as 0.
 */
export async function deliveryLatency(db: Queryable, campaignId: number, edges: readonly number[]): Promise<LatencyStats> {
  const latency = `greatest(0, extract(epoch FROM CASE WHEN m.provider_updated_at IS NOT NULL AND m.message_time IS NOT NULL
                     THEN m.provider_updated_at - m.message_time ELSE ${DELIVERED_AT} - m.submitted_at END))::float8`;
  const [buckets, [pct]] = await Promise.all([
    db.query<{ bucket: number; count: number }>(
      `SELECT width_bucket(${latency}, $2::float8[]) AS bucket, count(*)::int AS count
       FROM messages m WHERE m.campaign_id = $1 AND m.state = 'delivered' GROUP BY 1`,
      [campaignId, [...edges]],
    ),
    db.query<{ p: number[] | null; n: number }>(
      `SELECT percentile_cont(ARRAY[0.5, 0.9, 0.99]::float8[]) WITHIN GROUP (ORDER BY ${latency}) AS p, count(*)::int AS n
       FROM messages m WHERE m.campaign_id = $1 AND m.state = 'delivered'`,
      [campaignId],
    ),
  ]);
  const counts = Array.from({ length: edges.length + 1 }, () => 0);
  for (const b of buckets) counts[b.bucket] = b.count;
  const p = pct?.p ?? null;
  return { counts, p50: p?.[0] ?? null, p90: p?.[1] ?? null, p99: p?.[2] ?? null, delivered: pct?.n ?? 0 };
}

export interface ErrorCodeCount {
  code: string;
  /** The message state it came with (undelivered, failed...). */
  state: string;
  count: number;
}

/** Plivo error codes of the campaign's messages (not 000), most frequent first. */
export async function errorCodeCounts(db: Queryable, campaignId: number): Promise<ErrorCodeCount[]> {
  return db.query<ErrorCodeCount>(
    `SELECT m.error_code AS code, m.state, count(*)::int AS count FROM messages m
     WHERE m.campaign_id = $1 AND m.error_code IS NOT NULL AND m.error_code <> '000'
     GROUP BY 1, 2 ORDER BY 3 DESC, 1`,
    [campaignId],
  );
}

/** Requests Plivo refused (failed without a message_uuid), by reason, most frequent first. */
export async function refusalCounts(db: Queryable, campaignId: number, limit: number): Promise<{ reason: string; count: number }[]> {
  return db.query<{ reason: string; count: number }>(
    `SELECT coalesce(reason, '') AS reason, count(*)::int AS count FROM recipients
     WHERE campaign_id = $1 AND status = 'failed' AND message_uuid IS NULL
     GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $2`,
    [campaignId, limit],
  );
}

/**
 * Rows that need someone's attention: every status but those of a message Plivo took (submitted, delivered,
 * undelivered, sent, and failed with a message_uuid: those are in the error codes). So not sent yet, in an
 * unsettled request, invalid, duplicate, rejected, refused by Plivo, and any status added later.
 */
const NEEDS_ATTENTION = `(r.status NOT IN ('submitted', 'delivered', 'undelivered', 'sent', 'failed') OR (r.status = 'failed' AND r.message_uuid IS NULL))`;

export async function attentionCounts(db: Queryable, campaignId: number): Promise<{ status: string; count: number }[]> {
  return db.query<{ status: string; count: number }>(
    `SELECT r.status, count(*)::int AS count FROM recipients r WHERE r.campaign_id = $1 AND ${NEEDS_ATTENTION} GROUP BY 1 ORDER BY 1`,
    [campaignId],
  );
}

/** The first `limit` rows of one attention status, in CSV order. */
export async function attentionRows(db: Queryable, campaignId: number, status: string, limit: number): Promise<ReportRow[]> {
  return db.query<ReportRow>(
    `SELECT r.row_no AS row, r.line_no AS line, coalesce(r.dst, r.raw_dst) AS dst, r.raw_dst, r.sender AS src, r.status,
            r.message_uuid, NULL AS error_code, r.units, NULL AS total_amount, b.accepted_at AS submitted_at, NULL AS final_at,
            r.reason, NULL AS fields, NULL AS text, r.time_zone,
            b.id AS batch_id, b.status AS batch_status, b.attempts AS batch_attempts, b.last_error AS batch_error
     FROM recipients r LEFT JOIN batches b ON b.id = r.batch_id
     WHERE r.campaign_id = $1 AND r.status = $2 AND ${NEEDS_ATTENTION}
     ORDER BY r.row_no LIMIT $3`,
    [campaignId, status, limit],
  );
}
