/**
 * Loading a campaign into the ledger, chunk by chunk (see campaign/load.ts for the stream that feeds it).
 *
 * Each chunk is one transaction, and one round trip per statement whatever its size:
 *   1. the campaign row is locked and the chunk checked to follow exactly the rows already committed
 *      (`loaded_rows`, `load_chain`): two loaders, or a resumed one, never load a row twice or skip one;
 *   2. its rows are COPYed into `load_stage`, a temporary table (no WAL, no index);
 *   3. settleStaged: duplicates marked (first valid row in file order wins, across chunks) — the place for
 *      any other set-based verdict on the new rows before they are written (a suppression scrub);
 *   4. valid rows dealt to senders and cut into batches, in the staging table;
 *   5. `batches` and `recipients` written once each, every column final: no UPDATE pass over the campaign.
 * A chunk's partial batches (fewer than batch_size rows of one sender and text) wait for the next chunk,
 * once, so batches stay full when a sender's text spans chunks; the last chunk cuts everything.
 *
 * insertRecipients + finalizeLoad below are the whole-list path the tests' fixtures use.
 */
import type { Queryable, Tx } from './db.js';
import { CampaignConflictError } from './errors.js';

export interface NewCampaign {
  name: string;
  job: unknown;
  jobFile: string;
  csvFile: string;
  csvSha256: string;
  contentHash: string;
  senders: readonly string[];
}

export interface RecipientRow {
  rowNo: number;
  lineNo: number;
  /** The number as the CSV wrote it. */
  rawDst: string | null;
  /** The E.164 number without `+`, as Plivo is sent it: what duplicates are judged on. */
  dst: string | null;
  text: string | null;
  units: number | null;
  /** `skipped`: a landline, with the job's `landlines: "skip"`. */
  status: 'pending' | 'invalid' | 'skipped';
  reason: string | null;
  /** The number's country and type, for `plan`; not kept in the ledger. */
  country: string | null;
  numberType: string | null;
  /** The row's CSV fields as read, in header order, for the report's user columns. */
  fields?: readonly string[] | null;
}

/** Serialises loaders of one campaign name until the end of the transaction. */
export async function lockCampaignName(tx: Queryable, name: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('smsrun-load:' || $1, 0))`, [name]);
}

export async function insertCampaign(tx: Queryable, c: NewCampaign): Promise<number> {
  const [row] = await tx.query<{ id: number }>(
    `INSERT INTO campaigns (name, job, job_file, csv_file, csv_sha256, content_hash, senders)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
    [c.name, JSON.stringify(c.job), c.jobFile, c.csvFile, c.csvSha256, c.contentHash, c.senders],
  );
  return row!.id;
}

/**
 * One round trip per chunk: arrays unnested server-side (the same statement on Postgres and PGlite). A row's
 * fields travel as one array literal each (`{"a","b"}`), cast to text[] per row: rows may have different
 * numbers of fields, which a two-dimensional array cannot hold.
 */
export async function insertRecipients(tx: Queryable, campaignId: number, rows: readonly RecipientRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO recipients (campaign_id, row_no, line_no, raw_dst, dst, text, units, status, reason, fields)
     SELECT $1, u.row_no, u.line_no, u.raw_dst, u.dst, u.text, u.units, u.status, u.reason, u.fields::text[]
     FROM unnest($2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[], $10::text[])
       AS u(row_no, line_no, raw_dst, dst, text, units, status, reason, fields)`,
    [
      campaignId,
      rows.map((r) => r.rowNo),
      rows.map((r) => r.lineNo),
      rows.map((r) => r.rawDst),
      rows.map((r) => r.dst),
      rows.map((r) => r.text),
      rows.map((r) => r.units),
      rows.map((r) => r.status),
      rows.map((r) => r.reason),
      rows.map((r) => (r.fields ? arrayLiteral(r.fields) : null)),
    ],
  );
}

/** A Postgres array literal of strings: every element quoted, `"` and `\` escaped. */
export function arrayLiteral(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}

/**
 * After every row is in: mark repeated numbers, give each valid recipient a sender, and cut batches.
 *
 * Sender assignment deals valid recipients round-robin in (units, row) order, so every sender gets the
 * same number of recipients (±1) AND the same mix of long and short texts: no sender ends up with all
 * the 3-unit messages and finishes last. It depends only on the CSV, so it is the same on every run.
 *
 * Batches group a sender's recipients by rendered text, at most `batchSize` each, numbered in CSV order.
 */
export async function finalizeLoad(tx: Queryable, campaignId: number, senders: readonly string[], batchSize: number,
  csvColumns?: readonly string[]): Promise<void> {
  // The planner's statistics still describe `recipients` as it was before this load (empty, on a new
  // ledger): it then estimates one pending row, and runs the duplicate search below as a nested loop that
  // re-aggregates the whole campaign for every row, rows² work (20 000 rows took 2.5 minutes, 1 000 000
  // would take days). ANALYZE sees this transaction's own rows. It holds a lock that only another ANALYZE
  // (or VACUUM) waits for, until this load commits: two loads at once take turns at this point.
  await tx.query('ANALYZE recipients');
  await tx.query(
    `UPDATE recipients r SET status = 'duplicate', reason = 'same number as row ' || f.first_row || ': sent once'
     FROM (SELECT dst, min(row_no) AS first_row FROM recipients
           WHERE campaign_id = $1 AND status = 'pending' GROUP BY dst HAVING count(*) > 1) f
     WHERE r.campaign_id = $1 AND r.status = 'pending' AND r.dst = f.dst AND r.row_no > f.first_row`,
    [campaignId],
  );
  // Each pending recipient's sender (dealt round-robin in (units, row) order), then its chunk within its
  // (sender, text) group: one batch per chunk, named by its first row. The batch is found by that integer,
  // a hash join; joining on the text itself needs `IS NOT DISTINCT FROM` (an MMS may have no text), which
  // cannot be hashed: with personalised texts every chunk is number 0, so that join compared rows²/senders
  // pairs. Sender and batch are then written in one pass over `recipients`, not two (each UPDATE rewrites
  // every row and its index entries: two thirds of a 1 000 000-row load's time went there).
  await tx.query(
    `CREATE TEMP TABLE load_chunks ON COMMIT DROP AS
     SELECT row_no, sender, text, units, min(row_no) OVER (PARTITION BY sender, text, chunk) AS first_row
     FROM (SELECT row_no, sender, text, units,
                  (row_number() OVER (PARTITION BY sender, text ORDER BY row_no) - 1) / $3 AS chunk
           FROM (SELECT row_no, text, units,
                        ($2::text[])[((row_number() OVER (ORDER BY units, row_no) - 1) % cardinality($2::text[])) + 1] AS sender
                 FROM recipients WHERE campaign_id = $1 AND status = 'pending') dealt) chunked`,
    [campaignId, senders, batchSize],
  );
  // Batch ids drawn in CSV order, so batches go out in the order a reader of the CSV would expect.
  await tx.query(
    `CREATE TEMP TABLE load_groups ON COMMIT DROP AS
     SELECT nextval('batches_id_seq')::int AS id, g.* FROM (
       SELECT first_row, min(sender) AS sender, min(text) AS text, max(units) AS units, count(*) AS size
       FROM load_chunks GROUP BY first_row ORDER BY first_row) g`,
  );
  await tx.query(
    `INSERT INTO batches (id, campaign_id, sender, text, units, size)
     SELECT id, $1, sender, text, units, size FROM load_groups ORDER BY id`,
    [campaignId],
  );
  await tx.query(
    `UPDATE recipients r SET sender = c.sender, batch_id = g.id
     FROM load_chunks c JOIN load_groups g ON g.first_row = c.first_row
     WHERE r.campaign_id = $1 AND r.row_no = c.row_no`,
    [campaignId],
  );
  await tx.query(
    `UPDATE campaigns SET total_rows = (SELECT count(*) FROM recipients WHERE campaign_id = $1), csv_columns = $2 WHERE id = $1`,
    [campaignId, csvColumns ?? null],
  );
}


/** The staging table's columns, in the order `copyRow` writes them. */
const STAGE_COLUMNS = 'row_no, line_no, raw_dst, dst, text, units, status, reason, fields';

/** One recipient row as a line of COPY's text format. */
export function copyRow(r: RecipientRow): string {
  return [
    String(r.rowNo), String(r.lineNo), copyText(r.rawDst), copyText(r.dst), copyText(r.text),
    r.units === null ? '\\N' : String(r.units), r.status, copyText(r.reason), r.fields ? copyText(arrayLiteral(r.fields)) : '\\N',
  ].join('\t') + '\n';
}

function copyText(v: string | null): string {
  if (v === null) return '\\N';
  return /[\\\t\n\r]/.test(v) ? v.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]!) : v;
}
const COPY_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

export interface LoadingCampaign extends NewCampaign {
  /** The hash chain before any row: the job's content keys and the CSV header. */
  chain: string;
}

/**
 * The campaign row a streamed load starts with (`loading`, no rows yet), in the first chunk's transaction.
 * Returns the id of the campaign of that name, whoever created it.
 */
export async function createLoadingCampaign(tx: Queryable, c: LoadingCampaign): Promise<number> {
  await lockCampaignName(tx, c.name);
  const [existing] = await tx.query<{ id: number }>('SELECT id FROM campaigns WHERE name = $1', [c.name]);
  if (existing) return existing.id;
  const [row] = await tx.query<{ id: number }>(
    `INSERT INTO campaigns (name, job, job_file, csv_file, csv_sha256, content_hash, senders, loading, loaded_rows, load_chain)
     VALUES ($1, $2, $3, $4, $5, $6, $7, true, 0, $8) RETURNING id`,
    [c.name, JSON.stringify(c.job), c.jobFile, c.csvFile, c.csvSha256, c.contentHash, c.senders, c.chain],
  );
  return row!.id;
}

export interface ChunkWrite {
  campaignId: number;
  /** Rows firstRow..lastRow (lastRow = firstRow - 1: no rows, the end of the file). */
  firstRow: number;
  lastRow: number;
  /** The rows, in COPY text format (copyRow). */
  copy: string;
  chainBefore: string;
  chainAfter: string;
  senders: readonly string[];
  batchSize: number;
  /** With `rate_counts: units`: a batch's cost is destinations × units, capped by max_batch_cost. */
  countUnits: boolean;
  /** The cap the first chunk proposes (ignored once the campaign has one). */
  maxBatchCost: number;
  expectedRows: number;
  csvColumns: readonly string[];
  /** On the last chunk: the whole file's hashes, which replace the provisional ones. */
  final?: { csvSha256: string; contentHash: string };
}

/**
 * `written`; `ahead` when the ledger already holds these rows (another loader committed them: skip them);
 * `complete` when the campaign's load is already over.
 */
export type ChunkOutcome = { kind: 'written' } | { kind: 'ahead'; loadedRows: number } | { kind: 'complete' };

/** Upper bound of a chunk's size, so that its partial batches are found in the previous chunk's rows. */
export const MAX_CHUNK_ROWS = 50_000;

export async function writeChunk(tx: Tx, w: ChunkWrite): Promise<ChunkOutcome> {
  const [c] = await tx.query<{ loading: boolean; loaded_rows: number | null; load_chain: string | null; dealt: number; max_batch_cost: number | null; name: string }>(
    'SELECT name, loading, loaded_rows, load_chain, dealt, max_batch_cost FROM campaigns WHERE id = $1 FOR UPDATE', [w.campaignId]);
  if (!c!.loading) return { kind: 'complete' };
  const loaded = c!.loaded_rows ?? 0;
  if (loaded >= w.firstRow && !(w.final && loaded > w.lastRow)) return { kind: 'ahead', loadedRows: loaded };
  if (loaded !== w.firstRow - 1 || c!.load_chain !== w.chainBefore) {
    throw new CampaignConflictError(
      `campaign '${c!.name}' was partly loaded (${loaded} rows) from a CSV whose first rows differ from the file now ` +
      `(${loaded > w.lastRow ? `it has only ${w.lastRow} rows` : `the rows up to ${w.firstRow - 1} do not match`}). ` +
      'Some of it may already be sent: restore the file it was loaded from to finish the load, or give the job a new "name".');
  }
  const cap = c!.max_batch_cost ?? w.maxBatchCost;
  await stageRows(tx, w.copy);
  await settleStaged(tx, w.campaignId);
  const dealt = await dealSenders(tx, c!.dealt, w.senders);
  await cutAndWrite(tx, w, cap);
  await tx.query(
    `UPDATE campaigns SET loaded_rows = $2::int, total_rows = $2::int, load_chain = $3, dealt = $4::int, max_batch_cost = $5::int,
       expected_rows = greatest($6::int, $2::int), csv_columns = coalesce(csv_columns, $7::text[]), loading = NOT $8::boolean,
       csv_sha256 = coalesce($9::text, csv_sha256), content_hash = coalesce($10::text, content_hash)
     WHERE id = $1`,
    [w.campaignId, Math.max(w.lastRow, loaded), w.chainAfter, c!.dealt + dealt, cap, w.expectedRows, w.csvColumns,
      w.final !== undefined, w.final?.csvSha256 ?? null, w.final?.contentHash ?? null],
  );
  if (w.final) {
    await tx.query(`INSERT INTO events (campaign_id, kind, detail) VALUES ($1, 'load_finished', $2)`,
      [w.campaignId, JSON.stringify({ rows: Math.max(w.lastRow, loaded) })]);
  }
  // The sending queries are planned from these statistics; PGlite has no autovacuum to refresh them.
  if (w.final || loaded === 0) await tx.query('ANALYZE recipients');
  return { kind: 'written' };
}

async function stageRows(tx: Tx, copy: string): Promise<void> {
  // Temporary: never written to the WAL, no index. ON COMMIT DELETE ROWS empties it for the next chunk
  // on the same connection.
  await tx.query(`CREATE TEMP TABLE IF NOT EXISTS load_stage (
    row_no integer PRIMARY KEY, line_no integer NOT NULL, raw_dst text, dst text, text text, units integer,
    status text NOT NULL, reason text, fields text[], sender text) ON COMMIT DELETE ROWS`);
  if (copy !== '') await tx.copyFrom(`load_stage (${STAGE_COLUMNS})`, copy);
  await tx.query('ANALYZE load_stage');
}

/**
 * The set-based verdicts on a chunk's rows once they are in `load_stage`, before anything is written.
 *
 * Duplicates: a valid row whose number a valid row earlier in the file has (in this chunk, or committed
 * before it) is `duplicate`; the first valid row wins, in file order. An earlier row counts whatever it
 * became since (sending starts while the load goes on); one that was invalid or skipped does not.
 *
 * A suppression scrub belongs here too: an UPDATE of `load_stage` setting status (and reason) of the rows
 * whose number is suppressed, after the duplicates, before senders are dealt.
 */
export async function settleStaged(tx: Queryable, campaignId: number): Promise<void> {
  await tx.query(
    `UPDATE load_stage s SET status = 'duplicate', reason = 'same number as row ' || d.first_row || ': sent once'
     FROM (SELECT s.row_no, least(min(s.row_no) OVER (PARTITION BY s.dst),
                   (SELECT min(r.row_no) FROM recipients r
                    WHERE r.campaign_id = $1 AND r.dst = s.dst AND r.status NOT IN ('invalid', 'skipped', 'duplicate'))) AS first_row
           FROM load_stage s WHERE s.status = 'pending') d
     WHERE s.row_no = d.row_no AND d.first_row < s.row_no`,
    [campaignId],
  );
}

/**
 * Each valid row's sender: dealt round-robin in (units, row) order within the chunk, going on from where the
 * previous chunk stopped, so every sender gets the same number of recipients (±1) and the same mix of long
 * and short texts. It depends only on the CSV, so a resumed load deals the same.
 */
async function dealSenders(tx: Queryable, dealtBefore: number, senders: readonly string[]): Promise<number> {
  const rows = await tx.query<{ n: number }>(
    `WITH dealt AS (
       UPDATE load_stage s SET sender = ($2::text[])[((d.k + $1::int - 1) % cardinality($2::text[])) + 1]
       FROM (SELECT row_no, row_number() OVER (ORDER BY units, row_no) AS k FROM load_stage WHERE status = 'pending') d
       WHERE s.row_no = d.row_no RETURNING 1)
     SELECT count(*)::int AS n FROM dealt`,
    [dealtBefore, senders],
  );
  return rows[0]!.n;
}

/**
 * Cuts batches from the chunk's valid rows and the previous chunk's rows left without a batch, then writes
 * `batches` and `recipients`. A batch holds one sender's rows of one text, at most batch_size of them and
 * (counting units) at most the cost cap; ids are drawn in CSV order. Integrity is checked for the set:
 * the rows given a batch are exactly as many as the new batches' sizes add up to.
 */
async function cutAndWrite(tx: Tx, w: ChunkWrite, cap: number): Promise<void> {
  await tx.query(
    `CREATE TEMP TABLE load_cut ON COMMIT DROP AS
     WITH candidates AS (
       SELECT row_no, sender, text, units, false AS carried FROM load_stage WHERE status = 'pending'
       UNION ALL
       SELECT row_no, sender, text, units, true FROM recipients
       WHERE campaign_id = $1 AND row_no >= $2::int AND row_no < $3::int AND status = 'pending' AND batch_id IS NULL),
     limited AS (
       SELECT *, CASE WHEN $6::boolean THEN greatest(1, least($4::int, $7::int / greatest(coalesce(units, 1), 1))) ELSE $4::int END AS lim FROM candidates),
     numbered AS (
       SELECT *, (row_number() OVER (PARTITION BY sender, text ORDER BY row_no) - 1) / lim AS piece FROM limited),
     grouped AS (
       SELECT *, min(row_no) OVER w AS first_row, count(*) OVER w AS size, bool_or(carried) OVER w AS has_carried
       FROM numbered WINDOW w AS (PARTITION BY sender, text, piece))
     SELECT row_no, sender, text, units, carried, first_row FROM grouped WHERE size >= lim OR has_carried OR $5::boolean`,
    [w.campaignId, Math.max(1, w.firstRow - MAX_CHUNK_ROWS), w.firstRow, w.batchSize, w.final !== undefined, w.countUnits, cap],
  );
  await tx.query(
    `CREATE TEMP TABLE load_batches ON COMMIT DROP AS
     SELECT nextval('batches_id_seq')::int AS id, g.* FROM (
       SELECT first_row, min(sender) AS sender, min(text) AS text, max(units) AS units, count(*)::int AS size
       FROM load_cut GROUP BY first_row ORDER BY first_row) g`,
  );
  const [batches] = await tx.query<{ rows: number }>(
    `WITH b AS (INSERT INTO batches (id, campaign_id, sender, text, units, size)
                SELECT id, $1, sender, text, units, size FROM load_batches ORDER BY id RETURNING size)
     SELECT coalesce(sum(size), 0)::int AS rows FROM b`,
    [w.campaignId],
  );
  const [inserted] = await tx.query<{ batched: number }>(
    `WITH r AS (
       INSERT INTO recipients (campaign_id, row_no, line_no, raw_dst, dst, sender, text, units, status, reason, batch_id, fields)
       SELECT $1, s.row_no, s.line_no, s.raw_dst, s.dst, s.sender, s.text, s.units, s.status, s.reason, b.id, s.fields
       FROM load_stage s LEFT JOIN load_cut c ON c.row_no = s.row_no LEFT JOIN load_batches b ON b.first_row = c.first_row
       ORDER BY s.row_no RETURNING batch_id)
     SELECT count(batch_id)::int AS batched FROM r`,
    [w.campaignId],
  );
  const [carried] = await tx.query<{ batched: number }>(
    `WITH r AS (
       UPDATE recipients r SET batch_id = b.id FROM load_cut c JOIN load_batches b ON b.first_row = c.first_row
       WHERE c.carried AND r.campaign_id = $1 AND r.row_no = c.row_no RETURNING 1)
     SELECT count(*)::int AS batched FROM r`,
    [w.campaignId],
  );
  if (inserted!.batched + carried!.batched !== batches!.rows) {
    throw new Error(`ledger integrity: the load gave ${inserted!.batched + carried!.batched} recipients a batch, ` +
      `but the new batches hold ${batches!.rows}; nothing of this chunk was written`);
  }
}
