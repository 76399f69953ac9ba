/**
 * `smsrun export <campaign> [--format csv|jsonl|html] [--out file] [--only status,…] [--columns a,b,…] [--text] [--mask]`:
 * the delivery report, one row per CSV row (csv, jsonl), or the campaign as a page to look at (html).
 * `--sandbox` exports the sandbox campaign of that name; without it, the real one when both exist.
 */
import path from 'node:path';
import type { CampaignRow } from '../../ledger/campaigns.js';
import { UnknownCampaignError } from '../../ledger/errors.js';
import type { Db, Queryable } from '../../ledger/db.js';
import { reportStatuses } from '../../ledger/reports.js';
import { EXIT, UsageError, type ExitCode } from '../../errors.js';
import { suggest } from '../../campaign/suggest.js';
import { exportColumns, openFile, writeReport, type ReportFormat } from '../../report/export.js';
import { writeHtmlReport } from '../../report/html.js';
import { openLedgerFor, type GlobalArgs, type Io } from '../context.js';
import { campaignNamed } from '../campaign-world.js';
import { once } from 'node:events';

export type ExportFormat = ReportFormat | 'html';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'jsonl', 'html'];

export interface ExportArgs extends GlobalArgs {
  /** Undefined: from --out's extension, else csv. */
  format?: ExportFormat | undefined;
  out?: string | undefined;
  only?: string[] | undefined;
  columns?: string[] | undefined;
  text: boolean;
  mask: boolean;
  /** The sandbox campaign of that name (sql/007). */
  sandbox?: boolean | undefined;
}

/** Every status a report row can have in this version; `--only` also accepts any status the campaign has. */
export const REPORT_STATUSES = ['delivered', 'sent', 'queued', 'undelivered', 'failed', 'rejected', 'pending', 'sending', 'invalid', 'duplicate', 'suppressed', 'cancelled'];

export async function exportCommand(name: string, args: ExportArgs, io: Io): Promise<ExitCode> {
  const format = args.format ?? formatFromFile(args.out) ?? 'csv';
  if (format === 'html' && (args.only || args.columns || args.text)) {
    throw new UsageError('--only, --columns and --text choose rows and columns of a csv or jsonl export; the html report always shows the whole campaign. ' +
      'Drop them, or use --format csv.');
  }
  if (args.columns?.length === 0) throw new UsageError('--columns needs column names, separated by commas (smsrun export --help).');
  const db = await openLedgerFor(args, io, { read: true });
  if (!db) throw new UnknownCampaignError(name);
  try {
    const campaign = await campaignNamed(db, name, { sandbox: args.sandbox === true, verb: 'export', read: true });
    const only = args.only ? await checkStatuses(db, campaign.id, args.only) : undefined;
    const options = { only, columns: args.columns, text: args.text, mask: args.mask };
    if (format !== 'html') exportColumns(campaign, options); // a wrong --columns is refused before a file is made
    if (!args.out) {
      await writeTo(db, campaign, format, io.stdout, options);
      return EXIT.ok;
    }
    const out = await openFile(args.out);
    try {
      const rows = await writeTo(db, campaign, format, out, options);
      out.end();
      await once(out, 'finish');
      io.stderr.write(format === 'html' ? `wrote the report to ${args.out}\n` : `wrote ${rows} rows to ${args.out}\n`);
    } finally {
      out.destroy();
    }
    return EXIT.ok;
  } finally {
    await db.close();
  }
}

async function writeTo(db: Db, campaign: CampaignRow, format: ExportFormat, out: NodeJS.WritableStream,
  options: { only?: string[] | undefined; columns?: string[] | undefined; text: boolean; mask: boolean }): Promise<number> {
  if (format === 'html') {
    await writeHtmlReport(db, campaign, out, { mask: options.mask });
    return campaign.total_rows;
  }
  return writeReport(db, campaign, format, out, options);
}

function formatFromFile(file: string | undefined): ExportFormat | undefined {
  const ext = file ? path.extname(file).slice(1).toLowerCase() : '';
  if (ext === 'htm') return 'html';
  return EXPORT_FORMATS.find((f) => f === ext);
}

/** `--only` statuses, each known to this version or present in the campaign; a typo is refused with a guess. */
async function checkStatuses(db: Queryable, campaignId: number, wanted: readonly string[]): Promise<string[]> {
  const known = [...new Set([...REPORT_STATUSES, ...(await reportStatuses(db, campaignId))])];
  const statuses = wanted.flatMap((w) => w.split(',')).map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (statuses.length === 0) throw new UsageError(`--only needs statuses, separated by commas: ${known.join(', ')}`);
  for (const s of statuses) {
    if (known.includes(s)) continue;
    const guess = suggest(s, known);
    throw new UsageError(`--only: '${s}' is not a report status${guess ? ` (did you mean '${guess}'?)` : ''}. The statuses: ${known.join(', ')}.`);
  }
  return statuses;
}
