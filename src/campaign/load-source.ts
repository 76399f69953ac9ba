/**
 * Where the streamed load (campaign/load.ts) gets its chunks: from a worker thread (campaign/load-worker.ts)
 * that reads, validates and renders the rows, so the thread that drives the ledger sends a chunk's statements
 * back to back while the next chunk is being prepared; or, where the compiled worker file is not at hand (the
 * TypeScript sources, as the tests import them), from loadRows in the calling thread, as before.
 *
 * The first chunk is read in the calling thread all the same (HandoffSource): a worker takes about 0.2 s to
 * start (its own copy of libphonenumber's metadata, csv-parse, iconv-lite), which the first request would
 * wait for, and starting it while the first chunk is written delayed that commit as much on two busy cores
 * (0.35 s to 0.5-0.66 s, 20 000 rows, load average 7-9). The worker is started when the next chunk is asked
 * for, once the first is committed, and reads the file from
 * its start, hashing the first chunk's rows without validating them; its hashes of the header and of that
 * chunk must be the calling thread's, or the file changed between the two reads and the load stops. A file
 * of one chunk never starts a worker. A named pipe cannot be read twice: its rows all come from the worker.
 *
 * Errors cross the thread as data: a CsvFileError or a UsageError is rebuilt as the same class with the same
 * message (the CLI's exit code and text depend on it); anything else as an Error with the worker's stack.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { UsageError } from '../errors.js';
import { CsvFileError } from './csv.js';
import type { Job } from './job.js';
import { loadRows, type LoadPiece } from './load-rows.js';

/** Chunks the worker may prepare beyond those taken: one being written, one ready, one being read. */
export const AHEAD = 2;

export interface WorkerInput {
  job: Job;
  jobHash: string;
}

export type ToWorker = { kind: 'start'; skipUntil: number } | { kind: 'take' };
export type FromWorker = LoadPiece | { kind: 'error'; error: SerializedError };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string | undefined;
  /** A CsvFileError's two halves (it is rebuilt from them, to say `partly` later). */
  csv?: { what: string; fix: string; cause?: string | undefined };
  usage?: boolean;
}

export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const base = { name: err.name, message: err.message, stack: err.stack };
  if (err instanceof CsvFileError) {
    const cause = err.cause instanceof Error ? err.cause.message : undefined;
    return { ...base, csv: { what: err.what, fix: err.fix, cause } };
  }
  return { ...base, usage: err instanceof UsageError };
}

/** The worker's error as the class the CLI expects. */
export function reviveError(e: SerializedError): Error {
  if (e.csv) return new CsvFileError(e.csv.what, e.csv.fix, e.csv.cause === undefined ? undefined : new Error(e.csv.cause));
  if (e.usage) return new UsageError(e.message);
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}

export interface PieceSource {
  /** Starts reading, skipping (hashing only) the first `skipUntil` rows. */
  start(skipUntil: number, file: { pipe: boolean }): void;
  /** The next piece, or undefined after the last. */
  next(): Promise<LoadPiece | undefined>;
  /** Stops reading (at once, wherever it is). */
  close(): Promise<void>;
}

/** The compiled worker beside this module, when this module is compiled itself (dist/campaign/). */
const WORKER_FILE = fileURLToPath(new URL('./load-worker.js', import.meta.url));

export function openPieceSource(input: WorkerInput): PieceSource {
  return existsSync(WORKER_FILE) ? new HandoffSource(input, WORKER_FILE) : new ThreadSource(input);
}

/** The CSV changed between the calling thread's read of its first chunk and the worker's. */
export class CsvChangedError extends UsageError {
  constructor(file: string) {
    super(`${file}: the CSV changed while it was being loaded (its first rows read differently the second time). ` +
      'Let whatever writes it finish, then run again: the load goes on from the rows in the ledger, as long as they are unchanged.');
  }
}

/** The first chunk from this thread, the rest from a worker (see the top of this file). */
export class HandoffSource implements PieceSource {
  readonly #input: WorkerInput;
  readonly #file: string;
  #first: ThreadSource | undefined;
  /** The header's chain and the first chunk's rows hash, as this thread read them. */
  #seen: { chain?: string; rowsHash?: string } = {};
  #worker: WorkerSource | undefined;
  /** Rows this thread has validated, when the worker is still to be started for the rest. */
  #handoffAt: number | undefined;

  constructor(input: WorkerInput, file: string) {
    this.#input = input;
    this.#file = file;
  }

  start(skipUntil: number, file: { pipe: boolean }): void {
    if (skipUntil > 0 || file.pipe) {
      this.#worker = new WorkerSource(this.#input, this.#file);
      this.#worker.start(skipUntil, file);
    } else {
      this.#first = new ThreadSource(this.#input);
      this.#first.start(0, file);
    }
  }

  async next(): Promise<LoadPiece | undefined> {
    if (this.#first) return this.#fromThread(this.#first);
    if (this.#handoffAt !== undefined) {
      this.#worker = new WorkerSource(this.#input, this.#file);
      this.#worker.start(this.#handoffAt, { pipe: false });
      this.#handoffAt = undefined;
    }
    const piece = await this.#worker?.next();
    if (piece?.kind === 'header' && this.#seen.chain !== undefined) {
      if (piece.chain !== this.#seen.chain) throw new CsvChangedError(this.#input.job.recipientsPath);
      return this.next();
    }
    if (piece?.kind === 'chunk' && this.#seen.rowsHash !== undefined) {
      const same = piece.rowsHash === this.#seen.rowsHash;
      this.#seen.rowsHash = undefined;
      if (!same) throw new CsvChangedError(this.#input.job.recipientsPath);
      return this.next();
    }
    return piece;
  }

  async close(): Promise<void> {
    await this.#first?.close();
    await this.#worker?.close();
  }

  async #fromThread(first: ThreadSource): Promise<LoadPiece | undefined> {
    const piece = await first.next();
    if (piece?.kind === 'header') this.#seen.chain = piece.chain;
    if (piece?.kind === 'chunk' && piece.fileHash === undefined) {
      this.#seen.rowsHash = piece.rowsHash;
      this.#first = undefined;
      await first.close();
      this.#handoffAt = piece.lastRow;
    }
    return piece;
  }
}

/** The worker's pieces, queued as they come; each chunk taken tells the worker it may read one more. */
export class WorkerSource implements PieceSource {
  readonly #worker: Worker;
  readonly #queue: FromWorker[] = [];
  #waiting: ((m: FromWorker) => void) | undefined;
  /** The last chunk or an error came: the worker's exit is expected. */
  #ended = false;
  /** Closed, or the last chunk or an error taken: nothing more to take. */
  #over = false;

  constructor(input: WorkerInput, file: string) {
    this.#worker = new Worker(file, { workerData: input });
    this.#worker.on('message', (m: FromWorker) => this.#push(m));
    this.#worker.on('error', (err) => this.#push({ kind: 'error', error: serializeError(err) }));
    this.#worker.on('exit', (code) => {
      if (!this.#ended) this.#push({ kind: 'error', error: { name: 'Error', message: `the load's worker thread exited (code ${code}) before the end of the file` } });
    });
  }

  start(skipUntil: number, _file?: { pipe: boolean }): void {
    this.#worker.postMessage({ kind: 'start', skipUntil } satisfies ToWorker);
  }

  async next(): Promise<LoadPiece | undefined> {
    if (this.#over && this.#queue.length === 0) return undefined;
    const m = this.#queue.shift() ?? await new Promise<FromWorker>((resolve) => { this.#waiting = resolve; });
    if (m.kind === 'error') {
      this.#over = true;
      throw reviveError(m.error);
    }
    if (m.kind === 'chunk') {
      if (m.fileHash !== undefined) this.#over = true;
      else this.#worker.postMessage({ kind: 'take' } satisfies ToWorker);
    }
    return m;
  }

  async close(): Promise<void> {
    this.#over = true;
    this.#ended = true;
    await this.#worker.terminate();
  }

  #push(m: FromWorker): void {
    if (this.#ended) return;
    if (m.kind === 'error' || (m.kind === 'chunk' && m.fileHash !== undefined)) this.#ended = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting) waiting(m);
    else this.#queue.push(m);
  }
}

/** loadRows in this thread. */
export class ThreadSource implements PieceSource {
  readonly #input: WorkerInput;
  #pieces: AsyncGenerator<LoadPiece> | undefined;

  constructor(input: WorkerInput) {
    this.#input = input;
  }

  start(skipUntil: number, _file?: { pipe: boolean }): void {
    this.#pieces = loadRows({ ...this.#input, skipUntil });
  }

  async next(): Promise<LoadPiece | undefined> {
    const r = await this.#pieces!.next();
    return r.done ? undefined : r.value;
  }

  async close(): Promise<void> {
    await this.#pieces?.return(undefined);
  }
}
