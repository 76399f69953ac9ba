/**
 * Read-only queries behind `status`, the run summary, `export` and the HTML report. Everything a report shows
 * is aggregated here, in SQL, so a report of a 1 000 000-row campaign reads a few hundred rows, not a million;
 * `reportChunk` and `copyReport` are the row-by-row ones. The summary's counts come from the tallies the ledger
 * keeps per campaign and sender as it is written (campaignTally, sql/026).
 */
import { once } from 'node:events';
import type { CopyOut, Db, Queryable, Tx } from './db.js';
import { campaignTally } from './tallies.js';

export interface StatusCount {
  status: string;
  count: number;
  units: number;
}

export interface CostSummary {
  /** Sum of total_amount Plivo reported so far. */
  spent: string;
  /** Units of messages whose amount is known, and their amount: the average price per unit. */
  pricedUnits: number;
  pricedAmount: string;
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
function reportRowsSql(page: string, more: { columns: string; joins: string } = { columns: '', joins: '' }): string {
  return `WITH page AS MATERIALIZED (${page}),
     ids AS MATERIALIZED (SELECT coalesce(array_agg(DISTINCT batch_id), '{}') AS batch_ids FROM page WHERE batch_id IS NOT NULL)
     SELECT r.row_no AS row, r.line_no AS line, coalesce(r.dst, r.raw_dst) AS dst, r.raw_dst, r.sender AS src,
            ${REPORT_STATUS} AS status, r.message_uuid, m.error_code, coalesce(m.units, r.units) AS units,
            m.total_amount::text AS total_amount,
            ${iso(`coalesce(m.submitted_at, CASE WHEN r.status NOT IN ('pending', 'sending') THEN b.accepted_at END)`)} AS submitted_at,
            ${iso('m.final_at')} AS final_at, coalesce(r.reason, m.final_reason) AS reason, r.fields, r.text, r.time_zone,
            b.id AS batch_id, b.status AS batch_status, b.attempts AS batch_attempts, b.last_error AS batch_error${more.columns}
     FROM page r
     LEFT JOIN (SELECT m.* FROM messages m, ids WHERE m.batch_id = ANY(ids.batch_ids)) m ON m.message_uuid = r.message_uuid
     LEFT JOIN (SELECT b.* FROM batches b, ids WHERE b.id = ANY(ids.batch_ids)) b ON b.id = r.batch_id${more.joins}
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
  `CASE WHEN ${c} = '' THEN NULL WHEN ascii(${c}) IN (${FORMULA_CODES.join(', ')}) THEN '''' || ${c} ELSE ${c} END`;
/**
 * The first characters csvText prefixes, as the code points ascii() gives (=, +, -, @, tab, CR, and ＝ ＋ － ＠):
 * one integer compared per cell, where `left(c, 1) IN (…)` took a substring and made ten text comparisons (the
 * check of 16 text cells was about 5 of the 27 ms a range of 5 000 rows took).
 */
const FORMULA_CODES = [...'=+-@\t\r\uFF1D\uFF0B\uFF0D\uFF20'].map((ch) => ch.codePointAt(0)!);

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
 * each read like a reportChunk chunk (its messages and batches through its batch ids). COPY takes no parameters,
 * so the values go in as transaction-local settings (set_config).
 *
 * Two transactions take the ranges in turn, on one snapshot (REPEATABLE READ, the first's exported to the second):
 * while node writes one range, the other connection's backend computes the next, so the two no longer wait for
 * each other (one connection spent about as long computing as node spent writing, one after the other), and the
 * export reads one consistent state of the campaign. With a pool of one connection, one transaction does it all.
 * Resolves with the rows written; undefined on a ledger without COPY TO STDOUT (PGlite).
 */
export async function copyReport(db: Db, o: ReportCopy, out: NodeJS.WritableStream): Promise<number | undefined> {
  if (db.kind !== 'postgres') return undefined;
  return db.transaction(async (first) => {
    if (!first.copyOut) return undefined;
    await first.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const [range] = await first.query<{ last: number | null }>(`SELECT max(row_no) AS last FROM recipients WHERE campaign_id = $1`, [o.campaignId]);
    await setReportCopy(first, o);
    if ((db.poolSize ?? 1) < 2) return copyRanges([first], o, range?.last ?? 0, out);
    const [{ snapshot } = { snapshot: '' }] = await first.query<{ snapshot: string }>('SELECT pg_export_snapshot() AS snapshot');
    // SET TRANSACTION SNAPSHOT takes no parameter: the id is Postgres's own, checked to be only that.
    if (!/^[0-9A-F]+-[0-9A-F]+-[0-9]+$/i.test(snapshot)) throw new Error(`copyReport: unexpected snapshot id '${snapshot}'`);
    return db.transaction(async (second) => {
      await second.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      await second.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
      await setReportCopy(second, o);
      return copyRanges([first, second], o, range?.last ?? 0, out);
    });
  });
}

/**
 * COPYs the ranges of row numbers up to `last` into `out`, in order, range k on `txs[k % txs.length]`: the next
 * range's COPY is sent before this one is read, so its rows are computed meanwhile. Each stream is read to its
 * end, also when writing fails (its transaction then ends cleanly).
 */
async function copyRanges(txs: readonly Tx[], o: ReportCopy, last: number, out: NodeJS.WritableStream): Promise<number> {
  const copy = `COPY (${reportCopySelect(o)}) TO STDOUT WITH (FORMAT csv)`;
  const ranges = Math.ceil(last / o.rowsPerCopy);
  const start = async (k: number): Promise<CopyOut> => {
    const tx = txs[k % txs.length]!;
    await setReportRange(tx, k * o.rowsPerCopy, (k + 1) * o.rowsPerCopy);
    return tx.copyOut!(copy);
  };
  let written = 0;
  let next: Promise<CopyOut> | undefined = ranges > 0 ? start(0) : undefined;
  try {
    for (let k = 0; k < ranges; k++) {
      const stream: CopyOut = await next!;
      next = txs.length > 1 && k + 1 < ranges ? start(k + 1) : undefined;
      // Not pipeline(…, { end: false }): each call would leave its listeners on `out`, which outlives it.
      for await (const chunk of stream) if (!out.write(chunk)) await once(out, 'drain');
      written += stream.rowCount;
      if (txs.length === 1 && k + 1 < ranges) next = start(k + 1);
    }
    return written;
  } finally {
    // A COPY sent but not read holds its connection: read it to its end so that its transaction can end.
    await next?.then(async (stream) => { for await (const chunk of stream) void chunk; }).catch(() => undefined);
  }
}

/** The settings reportCopySelect reads, for this transaction. */
export async function setReportCopy(tx: Queryable, o: ReportCopy): Promise<void> {
  const set = (name: string, value: string) => tx.query('SELECT set_config($1, $2, true)', [`smsrun.report_${name}`, value]);
  await set('campaign', String(o.campaignId));
  await set('meanings', JSON.stringify(o.meanings));
  await set('unlisted_before', o.unlisted[0]);
  await set('unlisted_after', o.unlisted[1]);
  if (o.statuses) await set('only', o.statuses.join(','));
}

/** The rows (from, to] that reportCopySelect reads next. */
export async function setReportRange(tx: Queryable, from: number, to: number): Promise<void> {
  await tx.query(`SELECT set_config('smsrun.report_from', $1, true), set_config('smsrun.report_to', $2, true)`, [String(from), String(to)]);
}

/**
 * The query copyReport copies: the report's cells for the row numbers in (report_from, report_to], computed
 * from transaction settings (setReportCopy, setReportRange), since COPY takes no parameters.
 */
export function reportCopySelect(o: Pick<ReportCopy, 'cells' | 'statuses'>): string {
  const inner = o.cells.map((c, i) => `${c.sql} AS c${i}`).join(', ');
  const outer = o.cells.map((c, i) => (c.kind === 'text' ? csvText(`c${i}`) : `c${i}`)).join(', ');
  const only = o.statuses ? `WHERE x.status = ANY(string_to_array(current_setting('smsrun.report_only'), ','))` : '';
  // The meanings are joined before the rows are sorted, so that the cells' ORDER BY needs no second sort.
  const rows = reportRowsSql(`SELECT ${PAGE_COLUMNS}, text FROM recipients
    WHERE campaign_id = current_setting('smsrun.report_campaign')::int
      AND row_no > current_setting('smsrun.report_from')::int AND row_no <= current_setting('smsrun.report_to')::int`, {
    columns: `, CASE WHEN m.error_code <> '' THEN coalesce(em.meaning,
                  current_setting('smsrun.report_unlisted_before') || m.error_code || current_setting('smsrun.report_unlisted_after')) END AS error_meaning`,
    joins: '\n     LEFT JOIN meanings em ON em.code = m.error_code',
  });
  // OFFSET 0 keeps the cells a subquery, so the outer CASE reads each computed cell instead of computing it again.
  return `WITH meanings AS MATERIALIZED (SELECT key AS code, value AS meaning FROM jsonb_each_text(current_setting('smsrun.report_meanings')::jsonb))
    SELECT ${outer} FROM (
      SELECT ${inner} FROM (${rows}) x
      ${only} ORDER BY x.row OFFSET 0) cells`;
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
  /** Recipients in requests made (each batch as it was cut), and their units: what the sender's rate had to pace. */
  requested: number;
  requestedUnits: number;
  /** Batches sent at least once: the requests the account's request limit had to pace. */
  requests: number;
  /**
   * The most recipients, and units, of one of those requests (its first may leave at once: summary.ts): the
   * largest seen, also when its claim was taken back (sql/026), which only lowers the bound summary.ts draws.
   */
  largestRequest: number;
  largestRequestUnits: number;
}

/** Per sender, from the campaign's tally (campaignTally). */
export async function senderStats(db: Queryable, campaignId: number): Promise<SenderStats[]> {
  return (await campaignTally(db, campaignId)).senders;
}

export interface CampaignTiming {
  /** When Plivo accepted the last batch. */
  lastAcceptedAt: Date | null;
  /** Runs (processes) that worked on the campaign. */
  runs: number;
}

/** When the first request left and the latest final state are in the tally (campaignTally); the latest acceptance is kept beside them (sql/026). */
export async function campaignTiming(db: Queryable, campaignId: number): Promise<CampaignTiming> {
  const [row] = await db.query<CampaignTiming>(
    `SELECT (SELECT max(last_accepted_at) FROM sender_tallies WHERE campaign_id = $1) AS "lastAcceptedAt",
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
