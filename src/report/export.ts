/**
 * The delivery report: one row per CSV row, as CSV or JSON Lines, streamed page by page from the ledger.
 * `status` is the provider's state (delivered, undelivered, failed, rejected, sent, queued) or smsrun's
 * own (invalid, duplicate, pending, sending).
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { stringify } from 'csv-stringify/sync';
import type { Db } from '../ledger/db.js';
import { reportPage, type ReportRow } from '../ledger/reports.js';

export type ReportFormat = 'csv' | 'jsonl';

export const REPORT_COLUMNS = ['row', 'line', 'dst', 'src', 'status', 'message_uuid', 'error_code', 'units', 'total_amount', 'submitted_at', 'final_at', 'reason'] as const;
const PAGE = 5000;

export async function writeReport(db: Db, campaignId: number, format: ReportFormat, out: NodeJS.WritableStream): Promise<number> {
  let rows = 0;
  if (format === 'csv') await write(out, stringify([REPORT_COLUMNS as unknown as string[]]));
  for (let after = 0; ; ) {
    const page = await reportPage(db, campaignId, after, PAGE);
    if (page.length === 0) break;
    const plain = page.map(plainRow);
    await write(out, format === 'csv'
      ? stringify(plain.map((r) => REPORT_COLUMNS.map((c) => r[c] ?? '')))
      : plain.map((r) => JSON.stringify(r)).join('\n') + '\n');
    rows += page.length;
    after = page.at(-1)!.row;
  }
  return rows;
}

export async function writeReportFile(db: Db, campaignId: number, format: ReportFormat, file: string): Promise<number> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const out = createWriteStream(file);
  const rows = await writeReport(db, campaignId, format, out);
  out.end();
  await once(out, 'finish');
  return rows;
}

function plainRow(r: ReportRow): Record<(typeof REPORT_COLUMNS)[number], string | number | null> {
  return { ...r, submitted_at: r.submitted_at?.toISOString() ?? null, final_at: r.final_at?.toISOString() ?? null };
}

async function write(out: NodeJS.WritableStream, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}
