/**
 * Validation of one CSV row into a recipient: number read (src/sms/recipient-number.ts) and checked, text
 * rendered from the template, length and units computed. A bad row is never dropped: it becomes an
 * `invalid` recipient with a reason that says what to fix; a landline the job skips becomes `skipped`.
 */
import type { CountryCode } from 'libphonenumber-js/max';
import { UsageError } from '../errors.js';
import type { RecipientRow } from '../ledger/load.js';
import { analyzeText, textLengthProblem } from '../sms/encoding.js';
import { parseRecipientNumber } from '../sms/recipient-number.js';
import { compileTemplate } from '../sms/template.js';
import { delimiterName, splitHeader } from './csv.js';
import type { Job } from './job.js';

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
    columns.forEach((c, i) => { values[c] = fields[i] ?? ''; });
    const rendered = template.render(values);
    if (!rendered.ok) return invalid(`line ${lineNo}: ${rendered.reason}`);
    let units = 1;
    if (job.type === 'sms') {
      if (rendered.text.trim() === '') return invalid(`line ${lineNo}: the text is empty for this row (give its columns a value or a fallback)`);
      const info = analyzeText(rendered.text);
      const lengthProblem = textLengthProblem(info);
      if (lengthProblem) return { ...invalid(`line ${lineNo}: ${lengthProblem}`), dst, country, numberType };
      units = info.units;
    }
    const row: RecipientRow = { rowNo, lineNo, rawDst, dst, text: rendered.text, units, status: 'pending', reason: null, country, numberType };
    if (skipLandlines && numberType === 'fixed_line') {
      return { ...row, status: 'skipped', reason: `line ${lineNo}: a landline (fixed-line number${country ? ` in ${country}` : ''}): skipped, as the job's "landlines": "skip" says` };
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
