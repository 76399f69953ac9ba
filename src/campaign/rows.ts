/**
 * Validation of one CSV row into a recipient: number read (src/sms/recipient-number.ts) and checked, text
 * rendered from the template, length and units computed. A bad row is never dropped: it becomes an
 * `invalid` recipient with a reason that says what to fix; a landline the job skips becomes `skipped`.
 */
import type { CountryCode } from 'libphonenumber-js/max';
import { UsageError } from '../errors.js';
import type { RecipientRow } from '../ledger/load.js';
import { analyzeText, gsmReplace, textLengthProblem } from '../sms/encoding.js';
import { parseRecipientNumber } from '../sms/recipient-number.js';
import { compileTemplate } from '../sms/template.js';
import { delimiterName, splitHeader } from './csv.js';
import type { Job } from './job.js';
import { RecipientZones, sendWindowOf } from '../window/recipient-zone.js';
import { describeWindow } from '../window/window.js';

type RowValidator = (fields: string[], rowNo: number, lineNo: number) => RecipientRow;

/** How the header was split, for an error that says so when the delimiter is the problem. */
export interface HeaderInfo {
  line: string;
  delimiter: string;
  /** False when the job's `delimiter` key named it. */
  detected: boolean;
}

/** Checks the header once (exit 2 when it cannot work) and returns the per-row validator. */
export function makeRowValidator(job: Job, header: string[], info: HeaderInfo): RowValidator {
  const columns = header.map((h) => h.trim());
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c)) throw new UsageError(`${job.recipientsPath}:1: column '${c}' appears twice in the header; rename one of them.`);
    seen.add(c);
  }
  const dstIndex = columns.indexOf(job.dst_column);
  if (dstIndex < 0) throw noDstColumn(job, columns, info);
  const template = compileTemplate(job.text ?? '');
  const missing = template.columns.filter((c) => !seen.has(c));
  if (missing.length > 0) {
    throw new UsageError(`${job.jobFile}: the text uses ${missing.map((c) => `{{${c}}}`).join(', ')}, but ${job.recipientsPath} has no such column ` +
      `(columns: ${columns.join(', ')}). Fix the template or add the column.`);
  }
  const defaultCountry = job.default_country as CountryCode | undefined;
  const skipLandlines = job.landlines === 'skip';
  const window = sendWindowOf(job);
  const zoneIndex = job.timezone_column === undefined ? -1 : columns.indexOf(job.timezone_column);
  if (job.timezone_column !== undefined && zoneIndex < 0) {
    throw new UsageError(`${job.recipientsPath}:1: no '${job.timezone_column}' column (the job's "timezone_column") in the header (columns: ${columns.join(', ')}). ` +
      'Rename the column, or fix or remove "timezone_column" to take each zone from the number.');
  }
  const zones = window ? new RecipientZones(window, job.timezone_column) : undefined;
  return (fields, rowNo, lineNo) => {
    const rawDst = fields[dstIndex] ?? '';
    const invalid = (reason: string): RecipientRow =>
      ({ rowNo, lineNo, rawDst, dst: null, text: null, units: null, status: 'invalid', reason, country: null, numberType: null });
    if (fields.length !== columns.length) {
      return invalid(`line ${lineNo}: the row has ${fields.length} fields but the header has ${columns.length}; ` +
        `quote values that contain ${delimiterName(info.delimiter)}`);
    }
    if (rawDst === '') return invalid(`line ${lineNo}: column '${job.dst_column}' is empty`);
    const number = parseRecipientNumber(rawDst, defaultCountry);
    if (!number.ok) return invalid(`line ${lineNo}: column '${job.dst_column}': ${number.reason}`);
    const { dst, country, type: numberType } = number;
    const values: Record<string, string> = {};
    for (let i = 0; i < columns.length; i++) values[columns[i]!] = fields[i] ?? '';
    const rendered = template.render(values);
    if (!rendered.ok) return invalid(`line ${lineNo}: ${rendered.reason}`);
    let units = 1;
    let text = rendered.text;
    let nonGsm: readonly string[] | undefined;
    let unitsUnreplaced: number | undefined;
    if (job.type === 'sms') {
      if (text.trim() === '') return invalid(`line ${lineNo}: the text is empty for this row (give its columns a value or a fallback)`);
      if (job.gsm_replace) {
        const replaced = gsmReplace(text);
        if (replaced !== text) {
          unitsUnreplaced = analyzeText(text).units;
          text = replaced;
        }
      }
      const info = analyzeText(text);
      const lengthProblem = textLengthProblem(info);
      if (lengthProblem) return { ...invalid(`line ${lineNo}: ${lengthProblem}`), dst, country, numberType };
      units = info.units;
      nonGsm = info.nonGsm;
    }
    let timeZone: string | null = null;
    let outsideWindow = false;
    if (zones) {
      const zone = zones.of(dst, zoneIndex >= 0 ? fields[zoneIndex] : undefined);
      if (!zone.ok) return { ...invalid(`line ${lineNo}: ${zone.reason}`), dst, country, numberType };
      timeZone = zone.key;
      outsideWindow = zone.neverOpen;
    }
    const row: RecipientRow = {
      rowNo, lineNo, rawDst, dst, text, units, status: 'pending', reason: null, country, numberType, timeZone,
      ...(nonGsm ? { nonGsm } : {}), ...(unitsUnreplaced !== undefined ? { unitsUnreplaced } : {}),
    };
    if (skipLandlines && numberType === 'fixed_line') {
      return { ...row, status: 'skipped', skip: 'landline', reason: `line ${lineNo}: a landline (fixed-line number${country ? ` in ${country}` : ''}): skipped, as the job's "landlines": "skip" says` };
    }
    if (outsideWindow) {
      return { ...row, status: 'skipped', skip: 'outside_window', reason: `line ${lineNo}: outside any window: the time zone cannot be told from the number, and the send window (${describeWindow(window!)}) ` +
        `is never open in all of ${timeZone!.split(' ').join(', ')} at once; add a "${job.timezone_column ?? 'timezone'}" column (and "timezone_column") or widen the window` };
    }
    return row;
  };
}

function noDstColumn(job: Job, columns: string[], info: HeaderInfo): UsageError {
  const split = `split at ${delimiterName(info.delimiter)}`;
  const other = [',', ';', '\t', '|'].find((d) => d !== info.delimiter && splitHeader(info.line, d).includes(job.dst_column));
  const hint = other === undefined
    ? 'Rename the phone-number column, or set "dst_column" in the job file to its name.'
    : `Split at ${delimiterName(other)} it has one: ` +
      (info.detected ? `set "delimiter": ${JSON.stringify(other)} in the job file.` : `the job's "delimiter" is ${JSON.stringify(info.delimiter)}; set it to ${JSON.stringify(other)}, or remove it to have the delimiter detected.`);
  return new UsageError(`${job.recipientsPath}:1: no '${job.dst_column}' column in the header (columns, ${split}: ${columns.join(', ')}). ${hint}`);
}
