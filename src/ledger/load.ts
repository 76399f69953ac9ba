/**
 * Rows of a campaign, and the whole-list load: a campaign written in one transaction, then its duplicates
 * marked, senders dealt and batches cut (`finalizeLoad`). `smsrun retry` copies rows this way, and the
 * tests' fixtures build campaigns with it. A job's CSV is loaded in streamed chunks instead
 * (ledger/load-chunks.ts), by the same rules.
 */
import type { Queryable } from './db.js';

export interface NewCampaign {
  name: string;
  job: unknown;
  jobFile: string;
  csvFile: string;
  csvSha256: string;
  contentHash: string;
  senders: readonly string[];
  /** A sandbox campaign (sql/007); a real one by default. */
  sandbox?: boolean;
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
  /**
   * With a send window: the recipient's IANA zone, or when it cannot be told, every zone it may be in,
   * separated by spaces (the window's strictest reading applies). Null without a send window.
   */
  timeZone?: string | null;
  /** For `plan`, not kept: why a skipped row is skipped. */
  skip?: 'landline' | 'outside_window';
  /** For `plan`, not kept: the characters that forced UCS-2, and the units before `gsm_replace`. */
  nonGsm?: readonly string[];
  unitsUnreplaced?: number;
}

/** Serialises loaders of one campaign name until the end of the transaction. */
export async function lockCampaignName(tx: Queryable, name: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('smsrun-load:' || $1, 0))`, [name]);
}

export async function insertCampaign(tx: Queryable, c: NewCampaign): Promise<number> {
  const [row] = await tx.query<{ id: number }>(
    `INSERT INTO campaigns (name, job, job_file, csv_file, csv_sha256, content_hash, senders, sandbox)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
    [c.name, JSON.stringify(c.job), c.jobFile, c.csvFile, c.csvSha256, c.contentHash, c.senders, c.sandbox ?? false],
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
    `INSERT INTO recipients (campaign_id, row_no, line_no, raw_dst, dst, text, units, status, reason, fields, time_zone)
     SELECT $1, u.row_no, u.line_no, u.raw_dst, u.dst, u.text, u.units, u.status, u.reason, u.fields::text[], u.time_zone
     FROM unnest($2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[], $10::text[], $11::text[])
       AS u(row_no, line_no, raw_dst, dst, text, units, status, reason, fields, time_zone)`,
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
      rows.map((r) => r.timeZone ?? null),
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
  // With a send window, a batch also holds one time zone only: it is sent when that zone's window is open.
  await tx.query(
    `CREATE TEMP TABLE load_chunks ON COMMIT DROP AS
     SELECT row_no, sender, text, units, time_zone, min(row_no) OVER (PARTITION BY sender, text, time_zone, chunk) AS first_row
     FROM (SELECT row_no, sender, text, units, time_zone,
                  (row_number() OVER (PARTITION BY sender, text, time_zone ORDER BY row_no) - 1) / $3 AS chunk
           FROM (SELECT row_no, text, units, time_zone,
                        ($2::text[])[((row_number() OVER (ORDER BY units, row_no) - 1) % cardinality($2::text[])) + 1] AS sender
                 FROM recipients WHERE campaign_id = $1 AND status = 'pending') dealt) chunked`,
    [campaignId, senders, batchSize],
  );
  // Batch ids drawn in CSV order, so batches go out in the order a reader of the CSV would expect.
  await tx.query(
    `CREATE TEMP TABLE load_groups ON COMMIT DROP AS
     SELECT nextval('batches_id_seq')::int AS id, g.* FROM (
       SELECT first_row, min(sender) AS sender, min(text) AS text, max(units) AS units, count(*) AS size, min(time_zone) AS time_zone
       FROM load_chunks GROUP BY first_row ORDER BY first_row) g`,
  );
  await tx.query(
    `INSERT INTO batches (id, campaign_id, sender, text, units, size, time_zone)
     SELECT id, $1, sender, text, units, size, time_zone FROM load_groups ORDER BY id`,
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
