/**
 * A job's CSV loaded into the ledger chunk by chunk (campaign/load.ts streams the file into it; sql/015).
 *
 * Each chunk is one transaction, and one round trip per statement whatever its size:
 *   1. the campaign row is locked and the chunk checked to follow exactly the rows already committed
 *      (`loaded_rows`, `load_chain`): two loaders, or a resumed one, never load a row twice or skip one;
 *   2. its rows are COPYed into `load_stage`, a temporary table (no WAL, no foreign key, one small index);
 *   3. settleStaged: duplicates marked (first valid row in file order wins, across chunks), then the rows
 *      whose number the campaign's account has listed become `suppressed` (sql/012);
 *   4. valid rows dealt to senders and cut into batches (one sender, one rendered text, one time zone key:
 *      sql/013), in the staging table;
 *   5. `batches` and `recipients` written once each, every column final: no UPDATE pass over the campaign.
 *      recipients keeps its foreign keys; the rows given a batch are also counted against the new batches'
 *      sizes (LoadIntegrityError).
 * A chunk's partial batches of a repeated text (fewer than batch_size rows of one sender, text and zone) wait
 * for the next chunk, once, so batches stay full when a group spans chunks; the last chunk cuts everything.
 */
import type { Queryable, Tx } from './db.js';
import { CampaignConflictError, LoadIntegrityError } from './errors.js';
import { arrayLiteral, lockCampaignName, type NewCampaign, type RecipientRow } from './load.js';
import { SUPPRESS_STAGED } from './suppressions.js';

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
}

/**
 * `written` (with how many of its rows were suppressed); `ahead` when the ledger already holds these rows
 * (another loader, or this one before a lost connection, committed them: skip them); `complete` when the
 * campaign's load is already over.
 */
export type ChunkOutcome = { kind: 'written'; suppressed: number } | { kind: 'ahead'; loadedRows: number } | { kind: 'complete' };

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
  await stageRows(tx, w.copy);
  const suppressed = await settleStaged(tx, w.campaignId, w.suppressionAccount);
  const dealt = await dealSenders(tx, c!.dealt, w.senders);
  await cutAndWrite(tx, w, cap, c!.name);
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
  // connection (a rolled-back chunk leaves nothing either).
  await tx.query(`CREATE TEMP TABLE IF NOT EXISTS load_stage (
    row_no integer PRIMARY KEY, line_no integer NOT NULL, raw_dst text, dst text, text text, units integer,
    status text NOT NULL, reason text, fields text[], time_zone text, sender text) ON COMMIT DELETE ROWS`);
  if (copy !== '') await tx.copyFrom(`load_stage (${STAGE_COLUMNS})`, copy);
  await tx.query('ANALYZE load_stage');
}

/**
 * The set-based verdicts on a chunk's rows once they are in `load_stage`, before anything is written.
 * Returns how many were suppressed.
 *
 * Duplicates: a valid row whose number a valid row earlier in the file has (in this chunk, or committed
 * before it) is `duplicate`; the first valid row wins, in file order. An earlier row counts whatever it
 * became since (sending starts while the load goes on, and a suppressed first row is still the first);
 * one that was invalid, skipped or a duplicate itself does not.
 *
 * Suppressions: then, as the whole-list scrub does, the remaining valid rows whose number is listed.
 */
export async function settleStaged(tx: Queryable, campaignId: number, suppressionAccount: string | null): Promise<number> {
  await tx.query(
    `UPDATE load_stage s SET status = 'duplicate', reason = 'same number as row ' || d.first_row || ': sent once'
     FROM (SELECT s.row_no, least(min(s.row_no) OVER (PARTITION BY s.dst),
                   (SELECT min(r.row_no) FROM recipients r
                    WHERE r.campaign_id = $1 AND r.dst = s.dst AND r.status NOT IN ('invalid', 'skipped', 'duplicate'))) AS first_row
           FROM load_stage s WHERE s.status = 'pending') d
     WHERE s.row_no = d.row_no AND d.first_row < s.row_no`,
    [campaignId],
  );
  if (suppressionAccount === null) return 0;
  return (await tx.query(SUPPRESS_STAGED, [suppressionAccount])).length;
}

/**
 * Each valid row's sender: dealt round-robin in (units, row) order within the chunk, going on from where the
 * previous chunk stopped, so every sender gets the same number of recipients (±1) and about the same mix of
 * long and short texts. It depends only on the CSV, so a resumed load deals the same.
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
 * Which rows wait: a group's last, partial batch waits for the next chunk (once: a group holding a carried row
 * is cut whatever its size) when the text came more than once in this chunk, so a repeated text still makes
 * full batches across chunks. A text seen once (personalised texts) is cut at once: carrying it would rewrite
 * nearly every row a second time (its batch_id, an indexed column) for batches of one anyway.
 *
 * Cuts batches from the chunk's valid rows and the previous chunk's rows left without a batch, then writes
 * `batches` and `recipients`. A batch holds one sender's rows of one text and one time zone key, at most
 * batch_size of them and (counting units) at most the cost cap; ids are drawn in CSV order, so batches go
 * out in the order a reader of the CSV would expect. A batch is found by its first row (an integer hash
 * join; a text may be NULL for an MMS, which no join on the text itself would match).
 */
async function cutAndWrite(tx: Tx, w: ChunkWrite, cap: number, name: string): Promise<void> {
  await tx.query(
    `CREATE TEMP TABLE load_cut ON COMMIT DROP AS
     WITH candidates AS (
       SELECT row_no, sender, text, units, time_zone, false AS carried FROM load_stage WHERE status = 'pending'
       UNION ALL
       SELECT row_no, sender, text, units, time_zone, true FROM recipients
       WHERE campaign_id = $1 AND row_no >= $2::int AND row_no < $3::int AND status = 'pending' AND batch_id IS NULL),
     limited AS (
       SELECT *, CASE WHEN $6::boolean THEN greatest(1, least($4::int, $7::int / greatest(coalesce(units, 1), 1))) ELSE $4::int END AS lim FROM candidates),
     numbered AS (
       SELECT *, (row_number() OVER (PARTITION BY sender, text, time_zone ORDER BY row_no) - 1) / lim AS piece FROM limited),
     grouped AS (
       SELECT *, min(row_no) OVER w AS first_row, count(*) OVER w AS size, bool_or(carried) OVER w AS has_carried,
              count(*) OVER (PARTITION BY sender, text, time_zone) AS group_rows
       FROM numbered WINDOW w AS (PARTITION BY sender, text, time_zone, piece))
     SELECT row_no, sender, text, units, time_zone, carried, first_row FROM grouped
     WHERE size >= lim OR has_carried OR group_rows = 1 OR $5::boolean`,
    [w.campaignId, Math.max(1, w.firstRow - MAX_CHUNK_ROWS), w.firstRow, w.batchSize, w.final !== undefined, w.countUnits, cap],
  );
  await tx.query(
    `CREATE TEMP TABLE load_batches ON COMMIT DROP AS
     SELECT nextval('batches_id_seq')::int AS id, g.* FROM (
       SELECT first_row, min(sender) AS sender, min(text) AS text, max(units) AS units, count(*)::int AS size, min(time_zone) AS time_zone
       FROM load_cut GROUP BY first_row ORDER BY first_row) g`,
  );
  const [batches] = await tx.query<{ rows: number }>(
    `WITH b AS (INSERT INTO batches (id, campaign_id, sender, text, units, size, time_zone)
                SELECT id, $1, sender, text, units, size, time_zone FROM load_batches ORDER BY id RETURNING size)
     SELECT coalesce(sum(size), 0)::int AS rows FROM b`,
    [w.campaignId],
  );
  const [inserted] = await tx.query<{ batched: number }>(
    `WITH r AS (
       INSERT INTO recipients (campaign_id, row_no, line_no, raw_dst, dst, sender, text, units, status, reason, batch_id, fields, time_zone)
       SELECT $1, s.row_no, s.line_no, s.raw_dst, s.dst, s.sender, s.text, s.units, s.status, s.reason, b.id, s.fields, s.time_zone
       FROM load_stage s LEFT JOIN load_cut c ON c.row_no = s.row_no AND NOT c.carried LEFT JOIN load_batches b ON b.first_row = c.first_row
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
  const batched = inserted!.batched + carried!.batched;
  if (batched !== batches!.rows) throw new LoadIntegrityError(name, batched, batches!.rows);
}
