/**
 * Loads a job's CSV into the ledger, streamed: rows are read, validated and rendered (campaign/records.ts,
 * campaign/rows.ts), and committed in chunks (ledger/load-chunks.ts), so memory stays flat and sending can
 * start once the first chunk is in. Every row is kept: valid rows as `pending`, the rest as `invalid` with
 * the reason; numbers seen before become `duplicate`, listed ones `suppressed`.
 *
 * Idempotent and resumable: what is committed is exactly whole chunks, and the campaign row says how many
 * rows (`loaded_rows`) and a hash chain over them (`load_chain`). A resumed load (after a crash, or by a second
 * process) reads the file again, hashes the rows it skips and checks the chain before writing the next chunk:
 * a CSV changed under a partly loaded campaign is refused there, mid-stream. Once loaded, the campaign's
 * content hash (CSV bytes + the job keys that decide who gets what) refuses a changed CSV or text.
 *
 * Two entry points: `startLoad` returns as soon as the first chunk is committed (`run` sends while the rest
 * loads); `loadCampaign` returns once every row is in.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Db } from '../ledger/db.js';
import { findCampaign, type CampaignRow } from '../ledger/campaigns.js';
import { copyRow, createLoadingCampaign, writeChunk, type ChunkWrite } from '../ledger/load-chunks.js';
import { CampaignConflictError } from '../ledger/errors.js';
import { UsageError } from '../errors.js';
import type { Job } from './job.js';
import { CsvFileError } from './csv.js';
import { streamRows } from './records.js';

export { readRecipientChunks } from './records.js';

/**
 * Rows of the load's n-th chunk: small first (the first request waits for the first commit), doubling up to
 * a size where a chunk's fixed costs are small beside its rows. A function of the row number only: a resumed
 * load cuts the same chunks, which its hash chain depends on.
 */
export function chunkRows(index: number): number {
  return Math.min(1000 * 2 ** index, 32_000); // at most MAX_CHUNK_ROWS (ledger/load-chunks.ts)
}

export interface LoadResult {
  campaign: CampaignRow;
  /** False when the campaign was already in the ledger and nothing was read. */
  loaded: boolean;
}

export interface LoadHandle extends LoadResult {
  /** Settles when every row is in the ledger (rejects with what stopped the load). */
  done: Promise<void>;
  /** True until `done` settles. */
  loading(): boolean;
  /** Rows this load wrote as `suppressed` so far. */
  suppressed(): number;
}

export interface LoadOptions {
  /** The job's sandbox campaign, another campaign than the real one of the same name (sql/007). */
  sandbox?: boolean;
  /** The account whose suppression list scrubs each chunk (sql/012); none when absent. */
  suppressionAccount?: string;
  /** Wraps each chunk's transaction (the run's LedgerRetry: a lost connection is waited out, the chunk redone). */
  retry?: <T>(fn: () => Promise<T>) => Promise<T>;
  /**
   * Stops the load at the next row read (the run stopped): the chunk being written commits, the rows read since
   * are not written, and a later run goes on after the last commit.
   */
  signal?: AbortSignal;
}

/** Loads every row before returning. */
export async function loadCampaign(db: Db, job: Job, options: LoadOptions = {}): Promise<LoadResult> {
  const handle = await startLoad(db, job, options);
  await handle.done;
  if (!handle.loaded) return handle;
  return { campaign: (await findCampaign(db, job.name, options.sandbox ?? false))!, loaded: true };
}

/**
 * Starts the load and returns once its first chunk is committed (or at once, when the campaign is loaded
 * already). The rest goes on in the background: `done` says when it is over.
 */
export async function startLoad(db: Db, job: Job, options: LoadOptions = {}): Promise<LoadHandle> {
  const sandbox = options.sandbox ?? false;
  const finished = (campaign: CampaignRow): LoadHandle =>
    ({ campaign, loaded: false, done: Promise.resolve(), loading: () => false, suppressed: () => 0 });
  const existing = await findCampaign(db, job.name, sandbox);
  if (existing && !existing.loading) {
    if (job.fromLedger) return finished(existing);
    const csvSha256 = await sha256File(job.recipientsPath);
    if (existing.content_hash !== hashContent(job, csvSha256)) throw conflict(job, existing, csvSha256);
    return finished(existing);
  }
  const jobHash = hashContent(job, '');
  // A partly loaded campaign: the job keys are checked now, the rows as they stream.
  if (existing && existing.content_hash !== provisionalHash(jobHash)) throw conflict(job, existing, existing.csv_sha256);
  const stream = new LoadStream(db, job, jobHash, { ...options, sandbox });
  const first = await stream.firstCommit();
  let over = false;
  const done = stream.rest().finally(() => { over = true; });
  done.catch(() => undefined); // the caller awaits it; an early stop must not make it unhandled
  return { campaign: first, loaded: true, done, loading: () => !over, suppressed: () => stream.suppressed };
}

const provisionalHash = (jobHash: string) => `loading:${jobHash}`;

/**
 * One pass over the file: rows already in the ledger are hashed and skipped, the others validated, written
 * as COPY text and committed chunk by chunk. The next chunk is read and validated while the previous one is
 * being written (on Postgres the database works in another process).
 */
class LoadStream {
  readonly #fileHash = createHash('sha256');
  readonly #retry: <T>(fn: () => Promise<T>) => Promise<T>;
  #campaignId: number | undefined;
  /** Rows the ledger held when this load started: only hashed, to check the chain. */
  #skipUntil = 0;
  #chain = '';
  #header: string[] = [];
  #fileSize = 0;
  #chars = 0;
  #maxUnits = 1;
  /** The chunk being written while the next one is read. */
  #writing: Promise<void> = Promise.resolve();
  #firstCommitted: ((c: CampaignRow) => void) | undefined;
  #pump: Promise<void> = Promise.resolve();
  /** On PGlite, how long the next chunk waits before it asks for the ledger (see #write). */
  #breather = 0;
  suppressed = 0;

  constructor(private readonly db: Db, private readonly job: Job, private readonly jobHash: string,
    private readonly options: LoadOptions & { sandbox: boolean }) {
    this.#retry = options.retry ?? ((fn) => fn());
  }

  /** Starts the pass; resolves after the first commit (or at the end, when nothing was written). */
  async firstCommit(): Promise<CampaignRow> {
    this.#fileSize = (await statCsv(this.job.recipientsPath)).size;
    const existing = await this.#find();
    this.#skipUntil = existing?.loaded_rows ?? 0;
    this.#campaignId = existing?.id;
    const committed = new Promise<CampaignRow>((resolve) => { this.#firstCommitted = resolve; });
    this.#pump = this.#run();
    return Promise.race([committed, this.#pump.then(async () => (await this.#find())!)]);
  }

  rest(): Promise<void> {
    return this.#pump;
  }

  #find(): Promise<CampaignRow | undefined> {
    return findCampaign(this.db, this.job.name, this.options.sandbox);
  }

  async #run(): Promise<void> {
    let chunk: string[] = [];
    let chunkFirst = 1;
    let chunkIndex = 0;
    let rowsHash = createHash('sha256');
    let rowNo = 0;
    const signal = this.options.signal;
    try {
      for await (const row of streamRows(this.job, (bytes) => this.#fileHash.update(bytes))) {
        this.#chars += row.raw.length;
        if (row.kind === 'header') {
          this.#header = row.columns;
          this.#chain = sha256(`${this.jobHash}\n${row.raw}`);
          continue;
        }
        // A stopped run stops reading at once; the rows read since the last commit are read again next time.
        if (signal?.aborted) break;
        rowNo = row.rowNo;
        // Rows already parsed come through promise callbacks only, which would starve the sender's timers and
        // replies (and PGlite's queries, on the same thread) until the file ends: let them in now and then.
        if (rowNo % 500 === 0) await new Promise(setImmediate);
        rowsHash.update(row.raw);
        if (rowNo > this.#skipUntil) {
          const r = row.validate();
          if (r.status === 'pending' && r.units !== null) this.#maxUnits = Math.max(this.#maxUnits, r.units);
          chunk.push(copyRow(r));
        }
        if (rowNo - chunkFirst + 1 === chunkRows(chunkIndex)) {
          await this.#commit(chunkFirst, rowNo, chunk, rowsHash.digest('hex'), rowNo);
          [chunk, chunkFirst, rowsHash, chunkIndex] = [[], rowNo + 1, createHash('sha256'), chunkIndex + 1];
        }
      }
      if (signal?.aborted) return await this.#writing;
      await this.#commit(chunkFirst, rowNo, chunk, rowsHash.digest('hex'), rowNo, true);
    } catch (err) {
      await this.#writing.catch(() => undefined);
      throw this.#campaignId !== undefined && err instanceof CsvFileError ? await this.#partly(err) : err;
    }
  }

  /** Hands a chunk to the ledger once the previous one is written; rows the ledger had are only chained. */
  async #commit(firstRow: number, lastRow: number, rows: string[], rowsHash: string, rowsRead: number, final = false): Promise<void> {
    const chainBefore = this.#chain;
    this.#chain = sha256(`${chainBefore}\n${rowsHash}`);
    if (lastRow <= this.#skipUntil && !final) return;
    await this.#writing;
    if (this.#breather > 0) await new Promise((resolve) => setTimeout(resolve, this.#breather));
    const csvSha256 = final ? this.#fileHash.digest('hex') : undefined;
    const countUnits = this.job.rate_counts === 'units';
    const w: Omit<ChunkWrite, 'campaignId'> = {
      firstRow, lastRow, copy: rows.join(''), chainBefore, chainAfter: this.#chain,
      senders: this.job.senders, batchSize: this.job.batch_size, countUnits,
      maxBatchCost: this.job.batch_size * (countUnits ? this.#maxUnits : 1),
      expectedRows: final ? lastRow : Math.round(rowsRead * Math.max(1, this.#fileSize / Math.max(1, this.#chars))),
      csvColumns: this.#header,
      suppressionAccount: this.options.suppressionAccount ?? null, sortInMemory: this.db.kind === 'postgres',
      ...(csvSha256 ? { final: { csvSha256, contentHash: hashContent(this.job, csvSha256) } } : {}),
    };
    const writing = this.#retry(() => this.#write(w));
    if (this.#campaignId === undefined || final) {
      await writing; // the campaign row comes with the first chunk; the last one ends the load
    } else {
      writing.catch(() => undefined); // awaited through #writing before the next chunk
      this.#writing = writing;
    }
  }

  async #write(w: Omit<ChunkWrite, 'campaignId'>): Promise<void> {
    const started = performance.now();
    const { campaignId, outcome } = await this.db.transaction(async (tx) => {
      const id = this.#campaignId ?? await createLoadingCampaign(tx, {
        name: this.job.name, job: jobRecord(this.job), jobFile: this.job.jobFile, csvFile: this.job.recipientsPath,
        csvSha256: provisionalHash(this.jobHash), contentHash: provisionalHash(this.jobHash), senders: this.job.senders,
        sandbox: this.options.sandbox, suppressionAccount: w.suppressionAccount, chain: w.chainBefore,
      });
      return { campaignId: id, outcome: await writeChunk(tx, { ...w, campaignId: id }) };
    });
    this.#campaignId = campaignId;
    // PGlite runs one statement or transaction at a time, first come first served, and the next chunk is
    // usually queued before the run's next statement: the run (claim, record) got one statement in per
    // chunk, and its first request waited for about the whole load. Leaving the ledger to the run for half as
    // long as a chunk took (at most a second) gives it a third of the ledger's time while the list loads.
    if (this.db.kind === 'pglite') this.#breather = Math.min(1000, (performance.now() - started) / 2);
    if (outcome.kind === 'written') this.suppressed += outcome.suppressed;
    // Another process is loading the same campaign ahead of this one: it finishes the load.
    if (outcome.kind === 'ahead' && w.final) await this.#waitForOtherLoader();
    if (this.#firstCommitted) {
      this.#firstCommitted((await this.#find())!);
      this.#firstCommitted = undefined;
    }
  }

  async #waitForOtherLoader(): Promise<void> {
    for (;;) {
      const campaign = await this.#find();
      if (!campaign?.loading) return;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /** The file error, saying which rows are in the ledger when some are; as it is when none are. */
  async #partly(err: CsvFileError): Promise<Error> {
    const loaded = (await this.#find().catch(() => undefined))?.loaded_rows ?? 0;
    return loaded > 0 ? err.partly(loaded) : err;
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function statCsv(file: string): Promise<{ size: number }> {
  try {
    return await stat(file);
  } catch (err) {
    throw unreadable(file, err);
  }
}

function unreadable(file: string, err: unknown): UsageError {
  const code = (err as NodeJS.ErrnoException).code;
  return new UsageError(`${file}: cannot read the recipients CSV (${code}). Check the job's "recipients" path; it is relative to the job file.`, { cause: err });
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const data of createReadStream(file)) hash.update(data as Buffer);
  } catch (err) {
    throw unreadable(file, err);
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
const LATER_CONTENT_KEYS = ['default_country', 'encoding', 'delimiter', 'landlines', 'send_window', 'timezone_column', 'gsm_replace'] as const;

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
