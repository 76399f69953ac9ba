/**
 * The delivery report, one row per CSV row in CSV order, as CSV or JSON Lines, streamed page by page from
 * the ledger (keyset pages of PAGE rows: memory stays flat however large the campaign). Columns: see
 * columns.ts. The HTML report is html.ts.
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
import { stringify } from 'csv-stringify/sync';
import type { Queryable } from '../ledger/db.js';
import type { CampaignRow } from '../ledger/campaigns.js';
import { reportPage } from '../ledger/reports.js';
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

const PAGE = 500;

type ReportCampaign = Pick<CampaignRow, 'id' | 'job'> & { csv_columns?: string[] | null };

/** The columns an export of this campaign has, with these options (throws a UsageError for unknown ones). */
export function exportColumns(campaign: ReportCampaign, options: ExportOptions = {}): { columns: Column[]; text: boolean } {
  const o: ColumnOptions = {
    csvColumns: campaign.csv_columns ?? null,
    dstColumn: String(campaign.job['dst_column'] ?? 'phone'),
    text: options.text === true,
    mask: options.mask === true,
    only: options.columns,
  };
  const columns = reportColumns(o);
  return { columns, text: needsText(columns, o) };
}

/** Writes the report to `out`; resolves with the number of rows written. */
export async function writeReport(db: Queryable, campaign: ReportCampaign, format: ReportFormat, out: NodeJS.WritableStream,
  options: ExportOptions = {}): Promise<number> {
  const { columns, text } = exportColumns(campaign, options);
  const names = columns.map((c) => c.name);
  const csv = (rows: Cell[][]) => stringify(rows, { escape_formulas: true });
  let rows = 0;
  if (format === 'csv') await write(out, csv([names]));
  for (let after = 0; ; ) {
    const page = await reportPage(db, campaign.id, after, PAGE, { statuses: options.only, text });
    if (page.length === 0) break;
    const cells = page.map((r) => columns.map((c) => c.value(r)));
    await write(out, format === 'csv'
      ? csv(cells.map((row) => row.map((v) => v ?? '')))
      : cells.map((row) => JSON.stringify(Object.fromEntries(names.map((n, i) => [n, row[i] ?? null])))).join('\n') + '\n');
    rows += page.length;
    after = page.at(-1)!.row;
  }
  return rows;
}

/** Writes the report to a file (its folder made if needed). */
export async function writeReportFile(db: Queryable, campaign: ReportCampaign, format: ReportFormat, file: string,
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
