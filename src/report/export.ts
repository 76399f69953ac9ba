/**
 * The delivery report, one row per CSV row in CSV order, as CSV or JSON Lines: on Postgres a CSV is written by
 * COPY with every cell computed in SQL (ledger/reports.ts copyReport, ranges of COPY_ROWS); otherwise it is
 * streamed page by page from the ledger (keyset pages of PAGE rows). Memory stays flat however large the
 * campaign. Columns: see columns.ts. The HTML report is html.ts.
 *
 * Spreadsheet safety: every CSV cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return (or
 * their full-width forms) is written with a leading `'` (csv-stringify's `escape_formulas`), so that a
 * spreadsheet shows it as text instead of running it. smsrun's `dst` never needs it: it is the number as
 * sent, digits with the country code first and no `+`, so it stays a number. The user's own phone column
 * keeps what they wrote, so `+1 415…` there is written `'+1 415…`; smsrun reads that back as `+1 415…`
 * (campaign/formula-escape.ts).
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import type { Db, Queryable } from '../ledger/db.js';
import type { CampaignRow } from '../ledger/campaigns.js';
import { copyReport, reportChunk, type ReportRow } from '../ledger/reports.js';
import { errorMeanings, UNLISTED } from '../plivo/error-codes.js';
import { needsText, reportColumns, type Cell, type Column, type ColumnOptions } from './columns.js';

export type ReportFormat = 'csv' | 'jsonl';

export interface ExportOptions {
  /** Only rows with these report statuses. */
  only?: readonly string[] | undefined;
  /** These columns, in this order. */
  columns?: readonly string[] | undefined;
  /** Add the rendered text. */
  text?: boolean | undefined;
  /** Mask destination numbers. */
  mask?: boolean | undefined;
}

/**
 * Rows per keyset page. A page's rows are all that the export holds at once (a few MB at most); large pages
 * keep the round trips few, and the next page is read while this one is formatted and written.
 */
const PAGE = 2_000;

type ReportCampaign = Pick<CampaignRow, 'id' | 'job'> & { csv_columns?: string[] | null };

/** The columns an export of this campaign has, with these options (throws a UsageError for unknown ones). */
export function exportColumns(campaign: ReportCampaign, options: ExportOptions = {}): { columns: Column[]; text: boolean } {
  const o: ColumnOptions = {
    csvColumns: campaign.csv_columns ?? null,
    dstColumn: String(campaign.job['dst_column'] ?? 'phone'),
    text: options.text === true,
    timeZone: campaign.job['send_window'] !== undefined && campaign.job['send_window'] !== null,
    mask: options.mask === true,
    only: options.columns,
  };
  const columns = reportColumns(o);
  return { columns, text: needsText(columns, o) };
}

/**
 * Writes the report to `out`; resolves with the number of rows written. A CSV on Postgres is written by COPY
 * (every cell computed in SQL, node only pipes bytes: writeCopied) unless a column has no SQL form (--mask);
 * JSON Lines, masked CSV and PGlite go row by row (`via: 'rows'` forces that, for tests).
 */
export async function writeReport(db: Queryable | Db, campaign: ReportCampaign, format: ReportFormat, out: NodeJS.WritableStream,
  options: ExportOptions = {}, via: 'auto' | 'rows' = 'auto'): Promise<number> {
  const { columns, text } = exportColumns(campaign, options);
  if (format === 'csv') await write(out, csvLine(columns.map((c) => c.name)) + '\n');
  const copied = format === 'csv' && via === 'auto' && 'kind' in db ? await writeCopied(db, campaign, columns, out, options) : undefined;
  return copied ?? writeRows(db, campaign, format, columns, text, out, options);
}

/**
 * The CSV's rows by COPY, when every column has an SQL form; undefined when not (the caller goes row by row).
 * A lone column is left to JavaScript: COPY quotes a lone `\.` in a one-column CSV, csvLine does not.
 */
async function writeCopied(db: Db, campaign: ReportCampaign, columns: readonly Column[], out: NodeJS.WritableStream,
  options: ExportOptions): Promise<number | undefined> {
  const cells = columns.map((c) => c.sql);
  if (columns.length < 2 || !cells.every((c) => c !== undefined)) return undefined;
  return copyReport(db, {
    campaignId: campaign.id, cells, statuses: options.only, meanings: errorMeanings(), unlisted: UNLISTED, rowsPerCopy: COPY_ROWS,
  }, out);
}

/**
 * Row numbers per COPY statement: each is read like a chunk (its messages through its batch ids). 5 000 rows'
 * page fits Postgres's default work_mem (4 MB); 20 000 spilled it to a temporary file and cost twice the time per
 * row (measured on the 1 000 000-row campaign: about 11 against 17-23 µs of backend time per row, under load).
 */
const COPY_ROWS = 5_000;

/** The report row by row, a keyset chunk at a time (the header, for CSV, is written already). */
async function writeRows(db: Queryable, campaign: ReportCampaign, format: ReportFormat, columns: readonly Column[], text: boolean,
  out: NodeJS.WritableStream, options: ExportOptions): Promise<number> {
  const read = (after: number) => reportChunk(db, campaign.id, after, PAGE, { statuses: options.only, text });
  const line = format === 'csv'
    ? (r: ReportRow) => csvLine(columns.map((c) => c.value(r)))
    : (r: ReportRow) => JSON.stringify(Object.fromEntries(columns.map((c) => [c.name, c.value(r) ?? null])));
  let rows = 0;
  for (let next = read(0); ;) {
    const chunk = await next;
    if (chunk.last === null) break;
    // The next chunk is on its way while this one is formatted and written (keyset: its start is known now).
    next = read(chunk.last);
    if (chunk.rows.length > 0) await write(out, chunk.rows.map(line).join('\n') + '\n');
    rows += chunk.rows.length;
  }
  return rows;
}

/**
 * One CSV record, as csv-stringify writes it with `escape_formulas` (RFC 4180 quoting, a `'` before a text
 * cell that a spreadsheet would run), written out here: a million rows of 20 cells went through csv-stringify
 * at several microseconds a cell.
 */
export function csvLine(cells: readonly Cell[]): string {
  let out = '';
  for (let i = 0; i < cells.length; i++) {
    if (i > 0) out += ',';
    const v = cells[i];
    if (v === null || v === undefined || v === '') continue;
    if (typeof v === 'number') {
      out += String(v);
      continue;
    }
    const quote = NEEDS_QUOTES.test(v);
    const s = FORMULA_START.test(v) ? `'${v}` : v;
    out += quote ? `"${s.replaceAll('"', '""')}"` : s;
  }
  return out;
}

const NEEDS_QUOTES = /[",\n\r]/;
/** What csv-stringify's escape_formulas prefixes: = + - @, tab, carriage return, and their full-width forms. */
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;

/** Writes the report to a file (its folder made if needed). */
export async function writeReportFile(db: Queryable | Db, campaign: ReportCampaign, format: ReportFormat, file: string,
  options: ExportOptions = {}): Promise<number> {
  const out = await openFile(file);
  try {
    const rows = await writeReport(db, campaign, format, out, options);
    out.end();
    await once(out, 'finish');
    return rows;
  } finally {
    out.destroy();
  }
}

export async function openFile(file: string): Promise<NodeJS.WritableStream & { destroy(): void }> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const out = createWriteStream(file);
  await once(out, 'open');
  return out;
}

/** Writes a chunk, waiting for the stream to drain when its buffer is full (memory stays flat). */
export async function write(out: NodeJS.WritableStream, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}
