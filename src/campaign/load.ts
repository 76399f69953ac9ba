/**
 * Loads a job's CSV into the ledger, once. The file is streamed through csv-parse (memory stays flat
 * however large it is) and every row is kept: valid rows as `pending`, the rest as `invalid` with the
 * reason; numbers seen before become `duplicate` (see ledger/load.ts). Loading is all-or-nothing, and
 * idempotent: the campaign's content hash (CSV bytes + the job keys that decide who gets what) is kept,
 * so running the same job again loads nothing, and a changed CSV or text under the same name is refused.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { CsvError } from 'csv-parse';
import type { Db } from '../ledger/db.js';
import { findCampaign, type CampaignRow } from '../ledger/campaigns.js';
import { finalizeLoad, insertCampaign, insertRecipients, lockCampaignName, type RecipientRow } from '../ledger/load.js';
import { CampaignConflictError } from '../ledger/errors.js';
import { UsageError } from '../errors.js';
import { openCsv } from './csv.js';
import type { Job } from './job.js';
import { makeRowValidator } from './rows.js';
import { unescapeFormula } from './formula-escape.js';

const CHUNK_ROWS = 5000;

export interface LoadResult {
  campaign: CampaignRow;
  /** False when the campaign was already in the ledger and nothing was read. */
  loaded: boolean;
}

/** `sandbox`: the job's sandbox campaign, another campaign than the real one of the same name (sql/007). */
export async function loadCampaign(db: Db, job: Job, sandbox = false): Promise<LoadResult> {
  if (job.fromLedger) {
    const campaign = await findCampaign(db, job.name, sandbox);
    if (campaign) return { campaign, loaded: false };
  }
  const csvSha256 = await sha256File(job.recipientsPath);
  const contentHash = hashContent(job, csvSha256);
  const check = (existing: CampaignRow): LoadResult => {
    if (existing.content_hash !== contentHash) throw conflict(job, existing, csvSha256);
    return { campaign: existing, loaded: false };
  };
  const existing = await findCampaign(db, job.name, sandbox);
  if (existing) return check(existing);
  const loadedBySomeoneElse = await db.transaction(async (tx) => {
    // Two processes starting the same new campaign at once: the second waits here for the first's load,
    // then finds the campaign loaded.
    await lockCampaignName(tx, job.name);
    const loadedMeanwhile = await findCampaign(tx, job.name, sandbox);
    if (loadedMeanwhile) return loadedMeanwhile;
    const campaignId = await insertCampaign(tx, {
      name: job.name,
      job: jobRecord(job),
      jobFile: job.jobFile,
      csvFile: job.recipientsPath,
      csvSha256,
      contentHash,
      senders: job.senders,
      sandbox,
    });
    let header: string[] = [];
    for await (const chunk of readRecipientChunks(job, (h) => { header = h; })) await insertRecipients(tx, campaignId, chunk);
    await finalizeLoad(tx, campaignId, job.senders, job.batch_size, header);
    return undefined;
  });
  if (loadedBySomeoneElse) return check(loadedBySomeoneElse);
  return { campaign: (await findCampaign(db, job.name, sandbox))!, loaded: true };
}

/**
 * Streams the CSV as validated recipient rows, in chunks for the ledger. Each row keeps its fields (the
 * report shows the user's own columns beside smsrun's); `onHeader` gets the header once it is read.
 */
export async function* readRecipientChunks(job: Job, onHeader?: (header: string[]) => void): AsyncGenerator<RecipientRow[]> {
  // Empty lines are skipped here rather than by csv-parse, so that every line is counted: a row's line is
  // the one it starts on, even after quoted fields that span lines (csv-parse's info.lines is where a
  // record ends, and counts a quoted CRLF twice).
  const csv = await openCsv(job.recipientsPath, { encoding: job.encoding, delimiter: job.delimiter, dstColumn: job.dst_column });
  let validate: ((fields: string[], rowNo: number, lineNo: number) => RecipientRow) | undefined;
  let rowNo = 0;
  let nextLine = 1;
  let chunk: RecipientRow[] = [];
  try {
    for await (const { record, raw } of csv.records) {
      const line = nextLine;
      nextLine += 1 + lineBreaksWithin(raw);
      if (raw.trim() === '') continue; // a blank line; a line holding "" is a row with an empty field
      const fields = record.map(unescapeFormula);
      if (validate === undefined) {
        validate = makeRowValidator(job, fields, { line: raw.replace(/(\r\n|\n|\r)$/, ''), delimiter: csv.delimiter, detected: csv.detected });
        onHeader?.(fields.map((h) => h.trim()));
        continue;
      }
      chunk.push({ ...validate(fields, ++rowNo, line), fields });
      if (chunk.length >= CHUNK_ROWS) {
        yield chunk;
        chunk = [];
      }
    }
  } catch (err) {
    if (err instanceof CsvError) {
      const line = (err as CsvError & { lines?: number }).lines;
      throw new UsageError(`${job.recipientsPath}${line ? `:${line}` : ''}: the CSV cannot be read: ${err.message}. ` +
        'Fix the file (a quote left open is the usual cause) and run again; nothing was loaded.', { cause: err });
    }
    throw err;
  }
  if (validate === undefined) throw new UsageError(`${job.recipientsPath}: the CSV is empty; it needs a header row naming its columns (one of them '${job.dst_column}').`);
  if (chunk.length > 0) yield chunk;
}

/** Line breaks inside a record's raw text (quoted multi-line fields), not counting the one that ends it. */
function lineBreaksWithin(raw: string): number {
  return raw.replace(/(\r\n|\n|\r)$/, '').match(/\r\n|\n|\r/g)?.length ?? 0;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const data of createReadStream(file)) hash.update(data as Buffer);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${file}: cannot read the recipients CSV (${code}). Check the job's "recipients" path; it is relative to the job file.`, { cause: err });
  }
  return hash.digest('hex');
}

/** The job keys that decide who gets which message; the rest (rates, tracking) may change on resume. */
const CONTENT_KEYS = ['text', 'src', 'powerpack_uuid', 'dst_column', 'batch_size', 'type', 'media_urls', 'url', 'method', 'log', 'trackable', 'message_expiry'] as const;
/**
 * Content keys added after campaigns were first hashed. Each enters the hash only when the job sets it, so a
 * campaign loaded before the key existed, resumed with its job unchanged, keeps its hash. They have no
 * schema default for the same reason.
 */
const LATER_CONTENT_KEYS = ['default_country', 'encoding', 'delimiter', 'landlines'] as const;

function hashContent(job: Job, csvSha256: string): string {
  const content: Record<string, unknown> = Object.fromEntries(CONTENT_KEYS.map((k) => [k, job[k] ?? null]));
  for (const k of LATER_CONTENT_KEYS) if (job[k] !== undefined) content[k] = job[k];
  return createHash('sha256').update(csvSha256).update(JSON.stringify(content)).digest('hex');
}

function jobRecord(job: Job): Record<string, unknown> {
  const { jobFile: _file, recipientsPath: _path, senders: _senders, fromLedger: _ledger, ...fields } = job;
  return fields;
}

function conflict(job: Job, existing: CampaignRow, csvSha256: string): CampaignConflictError {
  const changed = existing.csv_sha256 !== csvSha256
    ? `its recipients CSV (${job.recipientsPath}) has changed since it was loaded`
    : `the job's content keys (${[...CONTENT_KEYS, ...LATER_CONTENT_KEYS].filter((k) => JSON.stringify(existing.job[k] ?? null) !== JSON.stringify(job[k] ?? null)).join(', ') || 'text, senders or options'}) have changed since it was loaded`;
  return new CampaignConflictError(
    `campaign '${job.name}' is already in the ledger, but ${changed}. ` +
    'Sending the changed version under the same name could text people twice or skip them. ' +
    'Restore the original file to resume this campaign, or give the job a new "name" to start a new campaign.',
  );
}
