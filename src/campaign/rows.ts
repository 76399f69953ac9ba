/**
 * Validation of one CSV row into a recipient: number sanitised and checked by Plivo's rules, text
 * rendered from the template, length and units computed. A bad row is never dropped: it becomes an
 * `invalid` recipient with a reason that says what to fix.
 */
import { UsageError } from '../errors.js';
import type { RecipientRow } from '../ledger/load.js';
import { analyzeText, textLengthProblem } from '../sms/encoding.js';
import { dstProblem, sanitizeDst } from '../sms/numbers.js';
import { compileTemplate } from '../sms/template.js';
import type { Job } from './job.js';

type RowValidator = (fields: string[], rowNo: number, lineNo: number) => RecipientRow;

/** Checks the header once (exit 2 when it cannot work) and returns the per-row validator. */
export function makeRowValidator(job: Job, header: string[]): RowValidator {
  const columns = header.map((h) => h.trim());
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c)) throw new UsageError(`${job.recipientsPath}:1: column '${c}' appears twice in the header; rename one of them.`);
    seen.add(c);
  }
  const dstIndex = columns.indexOf(job.dst_column);
  if (dstIndex < 0) {
    throw new UsageError(`${job.recipientsPath}:1: no '${job.dst_column}' column in the header (columns: ${columns.join(', ')}). ` +
      'Rename the phone-number column, or set "dst_column" in the job file to its name.');
  }
  const template = compileTemplate(job.text ?? '');
  const missing = template.columns.filter((c) => !seen.has(c));
  if (missing.length > 0) {
    throw new UsageError(`${job.jobFile}: the text uses ${missing.map((c) => `{{${c}}}`).join(', ')}, but ${job.recipientsPath} has no such column ` +
      `(columns: ${columns.join(', ')}). Fix the template or add the column.`);
  }
  return (fields, rowNo, lineNo) => {
    const rawDst = fields[dstIndex] ?? '';
    const invalid = (reason: string): RecipientRow =>
      ({ rowNo, lineNo, rawDst, dst: null, text: null, units: null, status: 'invalid', reason });
    if (fields.length !== columns.length) {
      return invalid(`line ${lineNo}: the row has ${fields.length} fields but the header has ${columns.length}; quote values that contain commas`);
    }
    if (rawDst === '') return invalid(`line ${lineNo}: column '${job.dst_column}' is empty`);
    const dst = sanitizeDst(rawDst);
    const numberProblem = dstProblem(dst, rawDst);
    if (numberProblem) return invalid(`line ${lineNo}: column '${job.dst_column}': ${numberProblem}`);
    const values: Record<string, string> = {};
    columns.forEach((c, i) => { values[c] = fields[i] ?? ''; });
    const rendered = template.render(values);
    if (!rendered.ok) return invalid(`line ${lineNo}: ${rendered.reason}`);
    let units = 1;
    if (job.type === 'sms') {
      if (rendered.text.trim() === '') return invalid(`line ${lineNo}: the text is empty for this row (give its columns a value or a fallback)`);
      const info = analyzeText(rendered.text);
      const lengthProblem = textLengthProblem(info);
      if (lengthProblem) return { ...invalid(`line ${lineNo}: ${lengthProblem}`), dst };
      units = info.units;
    }
    return { rowNo, lineNo, rawDst, dst, text: rendered.text, units, status: 'pending', reason: null };
  };
}
