/**
 * A job's CSV loaded into the ledger chunk by chunk (campaign/load.ts streams the file into it; sql/015).
 *
 * Each chunk is one transaction, and one round trip per statement whatever its size:
 *   1. the campaign row is locked and the chunk checked to follow exactly the rows already committed
 *      (`loaded_rows`, `load_chain`): two loaders, or a resumed one, never load a row twice or skip one;
 *   2. its rows are COPYed into `load_stage`, a temporary table (no WAL, no index, no foreign key);
 *   3. planRows, one statement, one read of the staging table: duplicates marked (first valid row in file
 *      order wins, across chunks), listed numbers `suppressed` (sql/012), valid rows dealt to senders and cut
 *      into batches (one sender, one rendered text, one time zone key: sql/013), into `load_rows`;
 *   4. `batches` and `recipients` written once each, every column final, and the previous chunk's carried rows
 *      given their batch, in one statement (writeRows): no UPDATE pass over the campaign. What they reference is
 *      checked once per statement (sql/023); the rows given a batch are also counted against the new batches'
 *      sizes (LoadIntegrityError).
 * A chunk's partial batches of a repeated text (fewer than batch_size rows of one sender, text and zone) wait
 * for the next chunk, once, so batches stay full when a group spans chunks; the last chunk cuts everything.
 */
import type { Queryable, Tx } from './db.js';
import { CampaignConflictError, LoadIntegrityError } from './errors.js';
import { arrayLiteral, lockCampaignName, type NewCampaign, type RecipientRow } from './load.js';
import { SUPPRESSED_REASON } from './suppressions.js';

/** The staging table's columns, in the order `copyRow` writes them. */
const STAGE_COLUMNS = 'row_no, line_no, raw_dst, dst, text, units, status, reason, fields, time_zone';

/** One recipient row as a line of COPY's text format. */
export function copyRow(r: RecipientRow): string {
  return [
    String(r.rowNo), String(r.lineNo), copyText(r.rawDst), copyText(r.dst), copyText(r.text),
    r.units === null ? '\\N' : String(r.units), r.status, copyText(r.reason),
    r.fields ? copyText(arrayLiteral(r.fields)) : '\\N', copyText(r.timeZone ?? null),
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
  /** The account whose suppression list applies (sql/012), recorded before any row can be claimed. */
  suppressionAccount: string | null;
}

/**
 * The campaign row a streamed load starts with (`loading`, no rows yet), in the first chunk's transaction.
 * Returns the id of the campaign of that name and world (sandbox or real), whoever created it.
 */
export async function createLoadingCampaign(tx: Queryable, c: LoadingCampaign): Promise<number> {
  await lockCampaignName(tx, c.name);
  const [existing] = await tx.query<{ id: number }>('SELECT id FROM campaigns WHERE name = $1 AND sandbox = $2', [c.name, c.sandbox ?? false]);
  if (existing) return existing.id;
  const [row] = await tx.query<{ id: number }>(
    `INSERT INTO campaigns (name, job, job_file, csv_file, csv_sha256, content_hash, senders, sandbox, suppression_account,
                            loading, loaded_rows, load_chain)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, true, 0, $10) RETURNING id`,
    [c.name, JSON.stringify(c.job), c.jobFile, c.csvFile, c.csvSha256, c.contentHash, c.senders, c.sandbox ?? false,
      c.suppressionAccount, c.chain],
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
  /** The account whose suppression list scrubs the rows (null: none). */
  suppressionAccount: string | null;
  /** On the last chunk: the whole file's hashes, which replace the provisional ones. */
  final?: { csvSha256: string; contentHash: string };
  /**
   * The chunk's sorts may take CHUNK_WORK_MEM (Postgres): with the default 4 MB a 32 000-row chunk's sorts spill
   * to temporary files. Not on PGlite, whose WebAssembly memory, once grown, stays with the process.
   */
  sortInMemory?: boolean;
}

/**
 * `written` (with how many of its rows were suppressed); `ahead` when the ledger already holds these rows
 * (another loader, or this one before a lost connection, committed them: skip them); `complete` when the
 * campaign's load is already over.
 */
export type ChunkOutcome = { kind: 'written'; suppressed: number } | { kind: 'ahead'; loadedRows: number } | { kind: 'complete' };

/** work_mem for a chunk's transaction on Postgres: a 32 000-row chunk's largest sort is about 10 MB. */
const CHUNK_WORK_MEM = '64MB';

/** Upper bound of a chunk's size, so that its partial batches are found in the previous chunk's rows. */
export const MAX_CHUNK_ROWS = 50_000;

export async function writeChunk(tx: Tx, w: ChunkWrite): Promise<ChunkOutcome> {
  // NO KEY UPDATE: serialises loaders of the campaign without blocking the foreign-key checks (KEY SHARE)
  // of the run's own writes (messages, events, batches) while a chunk is written.
  const [c] = await tx.query<{ loading: boolean; loaded_rows: number | null; load_chain: string | null; dealt: number; max_batch_cost: number | null; name: string }>(
    'SELECT name, loading, loaded_rows, load_chain, dealt, max_batch_cost FROM campaigns WHERE id = $1 FOR NO KEY UPDATE', [w.campaignId]);
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
  // (No JIT on any smsrun connection, db.ts: here it compiled the chunk's statements, planned for millions of rows
  // on temporary tables without statistics, and took a third of the recipients insert's time.)
  if (w.sortInMemory) await tx.query(`SELECT set_config('work_mem', '${CHUNK_WORK_MEM}', true)`);
  await stageRows(tx, w.copy);
  await planRows(tx, w, c!.dealt, cap);
  const { suppressed, dealt } = await writeRows(tx, w.campaignId, c!.name, carriedRange(w));
  const rows = Math.max(w.lastRow, loaded);
  await tx.query(
    `UPDATE campaigns SET loaded_rows = $2::int, total_rows = $2::int, load_chain = $3, dealt = $4::int, max_batch_cost = $5::int,
       expected_rows = greatest($6::int, $2::int), csv_columns = coalesce(csv_columns, $7::text[]), loading = NOT $8::boolean,
       csv_sha256 = coalesce($9::text, csv_sha256), content_hash = coalesce($10::text, content_hash)
     WHERE id = $1`,
    [w.campaignId, rows, w.chainAfter, c!.dealt + dealt, cap, w.expectedRows, w.csvColumns,
      w.final !== undefined, w.final?.csvSha256 ?? null, w.final?.contentHash ?? null],
  );
  if (w.final) {
    await tx.query(`INSERT INTO events (campaign_id, kind, detail) VALUES ($1, 'load_finished', $2)`, [w.campaignId, JSON.stringify({ rows })]);
  }
  // The sending queries are planned from these statistics; PGlite has no autovacuum to refresh them.
  if (w.final || loaded === 0) await tx.query('ANALYZE recipients');
  return { kind: 'written', suppressed };
}

async function stageRows(tx: Tx, copy: string): Promise<void> {
  // Temporary: never written to the WAL. ON COMMIT DELETE ROWS empties it for the next chunk on the same
  // connection (a rolled-back chunk leaves nothing either). No index and no ANALYZE: it is read whole,
  // twice, by planRows (window sorts, one index probe of recipients per valid row) and by the recipients
  // insert (its wide columns, joined back in row order), neither of which needs them; the ANALYZE cost as
  // much as the COPY.
  await tx.query(`CREATE TEMP TABLE IF NOT EXISTS load_stage (
    row_no integer NOT NULL, line_no integer NOT NULL, raw_dst text, dst text, text text, units integer,
    status text NOT NULL, reason text, fields text[], time_zone text) ON COMMIT DELETE ROWS`);
  if (copy !== '') await tx.copyFrom(`load_stage (${STAGE_COLUMNS})`, copy);
}

/**
 * Every row's final columns and the first row of its batch, in one read of the staging table, into
 * `load_rows` (the chunk's rows, then the previous chunk's rows left without a batch, `carried`):
 *
 * - Duplicates: a valid row whose number a valid row earlier in the file has (in this chunk, or committed
 *   before it) is `duplicate`; the first valid row wins, in file order. An earlier row counts whatever it
 *   became since (sending starts while the load goes on, and a suppressed first row is still the first); one
 *   that was invalid, skipped or a duplicate itself does not.
 * - Suppressions: then, as the whole-list scrub does, the remaining valid rows whose number the account has
 *   listed (sql/012) become `suppressed`: written once, never batched.
 * - Senders: the valid rows left are dealt round-robin in (units, row) order within the chunk, going on from
 *   where the previous chunk stopped, so every sender gets the same number of recipients (±1) and about the
 *   same mix of long and short texts. It depends only on the CSV, so a resumed load deals the same.
 * - Batches: one sender's rows of one text and one time zone key (sql/013), at most batch_size of them and
 *   (counting units) at most the cost cap. A group's last, partial batch waits for the next chunk (once: a
 *   group holding a carried row is cut whatever its size) when the text came more than once in this chunk,
 *   so a repeated text still makes full batches across chunks. A text seen once (personalised texts) is cut
 *   at once: carrying it would rewrite nearly every row a second time (its batch_id, an indexed column) for
 *   batches of one anyway. A batch is named by its first row (an integer hash join later; a text may be
 *   NULL for an MMS, which no join on the text itself would match). Each row also carries its batch's size
 *   and units (the window over the batch's rows, which the cut computes anyway): writeRows reads a batch's
 *   columns off its first row, instead of aggregating load_rows again by batch (sender, text and zone are the
 *   same bytes on every row of a batch: they are partition keys, compared `COLLATE "C"`).
 *
 * One statement rather than an UPDATE of the staging table per verdict: each of those rewrote every row of
 * the chunk (a third of the chunk's time, with the ANALYZE they needed).
 *
 * Every text it partitions or sorts on is compared `COLLATE "C"` (bytes): only which rows are equal matters
 * here, and the database's own collation (en_US.UTF-8, or C.UTF-8, which Postgres 15 does not know to be
 * bytewise) calls strcoll for every comparison. The duplicate probe compares `r.dst COLLATE "C"` for the same
 * reason, and so that it uses recipients_dst_bytes (sql/025).
 */
/** The rows a chunk's carried rows can be among: the previous chunk's, [from, to). */
function carriedRange(w: ChunkWrite): [from: number, to: number] {
  return [Math.max(1, w.firstRow - MAX_CHUNK_ROWS), w.firstRow];
}

async function planRows(tx: Tx, w: ChunkWrite, dealtBefore: number, cap: number): Promise<void> {
  // Planned on narrow rows (row, status, number, units, text, zone): line_no, raw_dst, fields and the staged
  // reason are not copied through the plan's three sorts and four windows; writeRows joins them back from
  // load_stage by row_no. A row's reason is then its verdict's (`judged`: duplicate or suppressed) or the staged
  // one. The batch partitions lead with hashtext(text), so their sort compares an integer first and the texts
  // (about 90 bytes, most sharing a long prefix) only on a tie. The text itself stays in the key: two texts of
  // one hash never share a batch, and NULL texts (MMS) still group together, as PARTITION BY treats NULLs.
  await tx.query(
    `CREATE TEMP TABLE load_rows ON COMMIT DROP AS
     WITH firsts AS (
       SELECT st.row_no, st.dst, st.text, st.units, st.status, st.time_zone,
              CASE WHEN st.status = 'pending' THEN least(
                min(st.row_no) FILTER (WHERE st.status = 'pending') OVER (PARTITION BY st.dst COLLATE "C"),
                (SELECT min(r.row_no) FROM recipients r
                 WHERE r.campaign_id = $1 AND r.dst COLLATE "C" = st.dst AND r.status NOT IN ('invalid', 'skipped', 'duplicate'))) END AS first_row
       FROM load_stage st),
     settled AS (
       SELECT st.row_no, st.text, st.units, st.time_zone,
              CASE WHEN st.first_row < st.row_no THEN 'duplicate' WHEN s.number IS NOT NULL THEN 'suppressed' ELSE st.status END AS status,
              CASE WHEN st.first_row < st.row_no THEN 'same number as row ' || st.first_row || ': sent once'
                   WHEN s.number IS NOT NULL THEN ${SUPPRESSED_REASON} END AS verdict,
              st.first_row < st.row_no OR s.number IS NOT NULL AS judged
       FROM firsts st LEFT JOIN suppressions s ON s.account = $2::text AND s.number = st.dst AND st.status = 'pending'),
     dealt AS (
       SELECT *, CASE WHEN status = 'pending' THEN ($4::text[])[((count(*) FILTER (WHERE status = 'pending') OVER (ORDER BY units, row_no)
                   + $3::int - 1) % cardinality($4::text[]))::int + 1] END AS sender, false AS carried
       FROM settled),
     candidates AS (
       SELECT * FROM dealt
       UNION ALL
       SELECT row_no, text, units, time_zone, status, NULL::text, false, sender, true FROM recipients
       WHERE campaign_id = $1 AND row_no >= $5::int AND row_no < $6::int AND status = 'pending' AND batch_id IS NULL),
     limited AS (
       SELECT *, CASE WHEN $9::boolean THEN greatest(1, least($7::int, $10::int / greatest(coalesce(units, 1), 1))) ELSE $7::int END AS lim
       FROM candidates),
     numbered AS (
       SELECT *, (row_number() OVER (PARTITION BY hashtext(text), status COLLATE "C", sender COLLATE "C", text COLLATE "C", time_zone COLLATE "C" ORDER BY row_no) - 1) / lim AS piece FROM limited),
     grouped AS (
       SELECT *, min(row_no) OVER w AS piece_first, count(*) OVER w AS size, max(units) OVER w AS piece_units, bool_or(carried) OVER w AS has_carried,
              count(*) OVER (PARTITION BY hashtext(text), status COLLATE "C", sender COLLATE "C", text COLLATE "C", time_zone COLLATE "C") AS group_rows
       FROM numbered WINDOW w AS (PARTITION BY hashtext(text), status COLLATE "C", sender COLLATE "C", text COLLATE "C", time_zone COLLATE "C", piece))
     SELECT row_no, text, units, time_zone, status, verdict, judged, sender, carried,
            CASE WHEN status = 'pending' AND (size >= lim OR has_carried OR group_rows = 1 OR $8::boolean) THEN piece_first END AS first_row,
            size::int AS batch_size, piece_units AS batch_units
     FROM grouped`,
    [w.campaignId, w.suppressionAccount, dealtBefore, w.senders, ...carriedRange(w),
      w.batchSize, w.final !== undefined, w.countUnits, cap],
  );
}

/**
 * `batches` and `recipients` written once each from `load_rows`, every column final, and the carried rows given
 * their batch, in one statement. Batch ids are drawn in CSV order (the batches' first rows, sorted, numbered by
 * `nextval` in that order), so batches go out in the order a reader of the CSV would expect. The rows given a
 * batch are counted against the new batches' sizes (LoadIntegrityError): a cut that lost rows is caught here,
 * which no reference check would. The recipients insert takes the wide columns (line_no, raw_dst, dst, fields,
 * the staged reason) from load_stage by row_no: planRows leaves them out.
 *
 * One statement rather than four (number the batches into a temporary table, insert them, insert the recipients,
 * update the carried rows): the numbered batches (`heads`) are a CTE, which Postgres materialises once (it calls
 * nextval) and hands to the three writes, so the temporary table's heap, the batches insert's sort by id and a
 * round trip per write are gone. The writes see the same snapshot (none reads what another writes: the carried
 * rows were committed by the previous chunk). The reference checks of sql/023 run after the whole statement,
 * each query in a snapshot that sees its writes: the recipients' batches, inserted by `b`, are found there.
 *
 * The carried rows' range (they are the previous chunk's) bounds the recipients the update reads: without it,
 * the planner, with no statistics on load_rows, joined a sequential scan of the campaign's every recipient per
 * chunk (232 000 rows read for 500 carried ones, growing with the list) instead of the previous chunk's.
 */
async function writeRows(tx: Tx, campaignId: number, name: string, carriedRows: readonly [number, number]): Promise<{ suppressed: number; dealt: number }> {
  const [written] = await tx.query<{ held: number; batched: number; suppressed: number; dealt: number }>(
    `WITH heads AS (
       SELECT nextval('batches_id_seq')::int AS id, g.* FROM (
         SELECT first_row, sender, text, batch_units AS units, batch_size AS size, time_zone
         FROM load_rows WHERE row_no = first_row ORDER BY first_row) g),
     b AS (
       INSERT INTO batches (id, campaign_id, sender, text, units, size, time_zone)
       SELECT id, $1, sender, text, units, size, time_zone FROM heads RETURNING size),
     r AS (
       INSERT INTO recipients (campaign_id, row_no, line_no, raw_dst, dst, sender, text, units, status, reason, batch_id, fields, time_zone)
       SELECT $1, r.row_no, st.line_no, st.raw_dst, st.dst, r.sender, r.text, r.units, r.status,
              CASE WHEN r.judged THEN r.verdict ELSE st.reason END, h.id, st.fields, r.time_zone
       FROM load_rows r JOIN load_stage st ON st.row_no = r.row_no LEFT JOIN heads h ON h.first_row = r.first_row
       WHERE NOT r.carried ORDER BY r.row_no RETURNING batch_id, status),
     c AS (
       UPDATE recipients r SET batch_id = h.id FROM load_rows c JOIN heads h ON h.first_row = c.first_row
       WHERE c.carried AND r.campaign_id = $1 AND r.row_no = c.row_no AND r.row_no >= $2::int AND r.row_no < $3::int RETURNING 1)
     SELECT (SELECT coalesce(sum(size), 0)::int FROM b) AS held, n.batched + (SELECT count(*)::int FROM c) AS batched,
            n.suppressed, n.dealt
     FROM (SELECT count(batch_id)::int AS batched, count(*) FILTER (WHERE status = 'suppressed')::int AS suppressed,
                  count(*) FILTER (WHERE status = 'pending')::int AS dealt FROM r) n`,
    [campaignId, ...carriedRows],
  );
  if (written!.batched !== written!.held) throw new LoadIntegrityError(name, written!.batched, written!.held);
  return { suppressed: written!.suppressed, dealt: written!.dealt };
}
