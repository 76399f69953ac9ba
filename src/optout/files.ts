/**
 * Suppression files: what `smsrun suppress import FILE` and the job's `suppress: [...]` read, and what
 * `smsrun suppress export` writes (so an export imports back unchanged).
 *
 * A CSV (comma, semicolon or tab) whose header names the number column `number`, `phone`, `dst`, `e164`,
 * `mobile` or `to` (or the job's `dst_column`), with an optional `reason` column; or a plain list, one number
 * a line, without a header. Numbers are read as recipients' are (E.164; national ones need default_country).
 * A file with an unreadable number is refused whole, naming its lines: a half-imported opt-out list is worse
 * than none, because it looks complete.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import type { CountryCode } from 'libphonenumber-js/max';
import { UsageError } from '../errors.js';
import { parseRecipientNumber } from '../sms/recipient-number.js';
import type { NewSuppression } from '../ledger/suppressions.js';

const NUMBER_COLUMNS = ['number', 'phone', 'dst', 'e164', 'mobile', 'to'];
const MAX_PROBLEMS = 10;

export interface ReadOptions {
  /** Recorded as each row's source. */
  source: string;
  /** The reason of rows without one. */
  defaultReason: string;
  defaultCountry?: CountryCode | undefined;
  /** Another column name to accept for the number (the job's dst_column). */
  numberColumn?: string | undefined;
}

export async function readSuppressionFile(file: string, o: ReadOptions): Promise<NewSuppression[]> {
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
  } catch (err) {
    throw new UsageError(`${file}: cannot read the suppression list (${(err as NodeJS.ErrnoException).code ?? String(err)}); check the path`, { cause: err });
  }
  let records: string[][];
  try {
    records = parse(text, { delimiter: delimiterOf(text), relax_column_count: true, skip_empty_lines: true, trim: true }) as string[][];
  } catch (err) {
    throw new UsageError(`${file}: the suppression list is not a readable CSV: ${(err as Error).message}`, { cause: err });
  }
  return readRecords(file, records, o);
}

function readRecords(file: string, records: string[][], o: ReadOptions): NewSuppression[] {
  const header = (records[0] ?? []).map((h) => h.toLowerCase());
  const names = [...NUMBER_COLUMNS, ...(o.numberColumn ? [o.numberColumn.toLowerCase()] : [])];
  let numberAt = header.findIndex((h) => names.includes(h));
  const reasonAt = header.indexOf('reason');
  const hasHeader = numberAt >= 0;
  if (!hasHeader) {
    if (records.length > 0 && !parseRecipientNumber(records[0]![0] ?? '', o.defaultCountry).ok && (records[0]!.length > 1 || /[a-z]/i.test(records[0]![0] ?? ''))) {
      throw new UsageError(`${file}:1: no column named ${names.map((n) => `'${n}'`).join(', ')}: name the column of numbers, or give one number a line without a header`);
    }
    numberAt = 0;
  }
  const out: NewSuppression[] = [];
  const problems: string[] = [];
  records.forEach((fields, i) => {
    if (hasHeader && i === 0) return;
    const raw = fields[numberAt] ?? '';
    const parsed = parseRecipientNumber(raw, o.defaultCountry);
    if (!parsed.ok) {
      problems.push(`${file}:${i + 1}: ${parsed.reason}`);
      return;
    }
    const reason = reasonAt >= 0 && hasHeader ? (fields[reasonAt] ?? '') : '';
    out.push({ number: parsed.dst, reason: reason || o.defaultReason, source: o.source });
  });
  if (problems.length > 0) {
    const more = problems.length > MAX_PROBLEMS ? `\n  … and ${problems.length - MAX_PROBLEMS} more` : '';
    throw new UsageError(`${file}: ${problems.length} number${problems.length === 1 ? '' : 's'} cannot be read, so nothing was imported ` +
      `(national numbers need --default-country, or the job's default_country):\n  ${problems.slice(0, MAX_PROBLEMS).join('\n  ')}${more}`);
  }
  return out;
}

/** Comma, unless the first line has more semicolons or tabs. */
function delimiterOf(text: string): string {
  const first = text.split(/\r?\n/, 1)[0] ?? '';
  const count = (c: string) => first.split(c).length - 1;
  return [';', '\t'].find((d) => count(d) > count(',')) ?? ',';
}

/** One CSV line of the export (number, reason, source, created_at), quoted where needed. */
export function exportLine(fields: readonly string[]): string {
  return fields.map((f) => (/[",\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',') + '\n';
}

export const EXPORT_HEADER = exportLine(['number', 'reason', 'source', 'created_at']);
