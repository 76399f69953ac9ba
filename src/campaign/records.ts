/**
 * The job's CSV as a stream of numbered rows: the header first, then each data row with its row number
 * (blank lines skipped), the line it starts on and its raw text, validated only when asked (a resumed load
 * skips the rows the ledger has, hashing them only). Used by the load (campaign/load.ts) and by `plan`.
 */
import { CsvError } from 'csv-parse';
import { UsageError } from '../errors.js';
import type { RecipientRow } from '../ledger/load.js';
import { CsvFileError, openCsv } from './csv.js';
import type { Job } from './job.js';
import { makeRowValidator } from './rows.js';
import { unescapeFormula } from './formula-escape.js';

/** Rows per chunk handed to plan's reader. */
const CHUNK_ROWS = 5000;

export type StreamedRow =
  | { kind: 'header'; columns: string[]; raw: string }
  | { kind: 'row'; rowNo: number; raw: string; validate: () => RecipientRow };

/** `onBytes` sees every byte of the file as it is read (the load hashes the file as it streams). */
export async function* streamRows(job: Job, onBytes?: (bytes: Buffer) => void): AsyncGenerator<StreamedRow> {
  // Empty lines are skipped here rather than by csv-parse, so that every line is counted: a row's line is
  // the one it starts on, even after quoted fields that span lines (csv-parse's info.lines is where a
  // record ends, and counts a quoted CRLF twice).
  const csv = await openCsv(job.recipientsPath, { encoding: job.encoding, delimiter: job.delimiter, dstColumn: job.dst_column, onBytes });
  let validator: ((fields: string[], rowNo: number, lineNo: number) => RecipientRow) | undefined;
  let rowNo = 0;
  let nextLine = 1;
  try {
    for await (const { record, raw } of csv.records) {
      const line = nextLine;
      nextLine += 1 + lineBreaksWithin(raw);
      if (raw.trim() === '') continue; // a blank line; a line holding "" is a row with an empty field
      const fields = record.map(unescapeFormula);
      if (validator === undefined) {
        validator = makeRowValidator(job, fields, { line: raw.replace(/(\r\n|\n|\r)$/, ''), delimiter: csv.delimiter, detected: csv.detected });
        yield { kind: 'header', columns: fields.map((h) => h.trim()), raw };
        continue;
      }
      const n = ++rowNo;
      const validate = validator;
      // The validator's row is new and its own: its fields are set on it rather than copied into another.
      yield { kind: 'row', rowNo: n, raw, validate: () => Object.assign(validate(fields, n, line), { fields }) };
    }
  } catch (err) {
    if (err instanceof CsvError) {
      const at = (err as CsvError & { lines?: number }).lines;
      throw new CsvFileError(`${job.recipientsPath}${at ? `:${at}` : ''}: the CSV cannot be read: ${err.message}.`,
        'Fix the file (a quote left open is the usual cause) and run again', err);
    }
    throw err;
  }
  if (validator === undefined) throw new UsageError(`${job.recipientsPath}: the CSV is empty; it needs a header row naming its columns (one of them '${job.dst_column}').`);
}

/**
 * Streams the CSV as validated recipient rows, in chunks (for `plan`). Each row keeps its fields (the
 * report shows the user's own columns beside smsrun's); `onHeader` gets the header once it is read.
 */
export async function* readRecipientChunks(job: Job, onHeader?: (header: string[]) => void): AsyncGenerator<RecipientRow[]> {
  let chunk: RecipientRow[] = [];
  for await (const row of streamRows(job)) {
    if (row.kind === 'header') {
      onHeader?.(row.columns);
      continue;
    }
    chunk.push(row.validate());
    if (chunk.length >= CHUNK_ROWS) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** Line breaks inside a record's raw text (quoted multi-line fields), not counting the one that ends it. */
function lineBreaksWithin(raw: string): number {
  return raw.replace(/(\r\n|\n|\r)$/, '').match(/\r\n|\n|\r/g)?.length ?? 0;
}
