/**
 * The per-row half of the streamed load (campaign/load.ts): the CSV read and hashed, each row validated,
 * rendered and written as COPY text, cut into the load's chunks. No database here: it runs in the load's
 * worker thread (campaign/load-worker.ts), so the thread that drives the ledger never waits on it, or in the
 * calling thread where no worker file is at hand (the sources, run by the tests).
 *
 * What it yields is all the ledger side needs per chunk: the rows' COPY text, the hash of the chunk's raw rows
 * (the resumed load's chain is built from these), and, with the last chunk, the whole file's hash.
 */
import { createHash } from 'node:crypto';
import type { Job } from './job.js';
import { copyRow } from '../ledger/load-chunks.js';
import { streamRows } from './records.js';

/**
 * Rows of the load's n-th chunk: small first (the first request waits for the first commit), doubling up to
 * a size where a chunk's fixed costs are small beside its rows. A function of the row number only: a resumed
 * load cuts the same chunks, which its hash chain depends on.
 */
export function chunkRows(index: number): number {
  return Math.min(1000 * 2 ** index, 32_000); // at most MAX_CHUNK_ROWS (ledger/load-chunks.ts)
}

/** The CSV's header: the chain's first link (the job's content keys and the header line). */
export interface LoadHeader {
  kind: 'header';
  columns: string[];
  chain: string;
}

/** Rows firstRow..lastRow (lastRow = firstRow - 1: none, at the end of the file). */
export interface LoadChunk {
  kind: 'chunk';
  firstRow: number;
  lastRow: number;
  /** COPY text of the rows after `skipUntil` ('' when the ledger has them all). */
  copy: string;
  /** sha256 of the chunk's raw rows, as the file has them. */
  rowsHash: string;
  /** Characters read so far (with the file's size, an estimate of its rows). */
  chars: number;
  /** The most units of any valid row so far. */
  maxUnits: number;
  /** On the last chunk: sha256 of the whole file. */
  fileHash?: string;
}

export type LoadPiece = LoadHeader | LoadChunk;

export interface LoadRowsSpec {
  job: Job;
  /** The hash of the job's content keys (campaign/load.ts hashContent), the chain's seed. */
  jobHash: string;
  /** Rows only hashed, not validated: those the ledger holds already (or another thread has validated). */
  skipUntil: number;
}

/** One pass over the file, as the header and then chunks; stops early when the caller stops asking. */
export async function* loadRows(spec: LoadRowsSpec): AsyncGenerator<LoadPiece> {
  const fileHash = createHash('sha256');
  let copy: string[] = [];
  let chunkFirst = 1;
  let chunkIndex = 0;
  let rowsHash = createHash('sha256');
  let rowNo = 0;
  let chars = 0;
  let maxUnits = 1;
  const cut = (final: boolean): LoadChunk => ({
    kind: 'chunk', firstRow: chunkFirst, lastRow: rowNo, copy: copy.join(''), rowsHash: rowsHash.digest('hex'), chars, maxUnits,
    ...(final ? { fileHash: fileHash.digest('hex') } : {}),
  });
  for await (const row of streamRows(spec.job, (bytes) => fileHash.update(bytes))) {
    chars += row.raw.length;
    if (row.kind === 'header') {
      yield { kind: 'header', columns: row.columns, chain: sha256(`${spec.jobHash}\n${row.raw}`) };
      continue;
    }
    rowNo = row.rowNo;
    // Rows already parsed come through promise callbacks only, which would starve the thread's timers and
    // messages (in the calling thread: the sender's replies, PGlite's queries) until the file ends.
    if (rowNo % 500 === 0) await new Promise(setImmediate);
    rowsHash.update(row.raw);
    if (rowNo > spec.skipUntil) {
      const r = row.validate();
      if (r.status === 'pending' && r.units !== null && r.units > maxUnits) maxUnits = r.units;
      copy.push(copyRow(r));
    }
    if (rowNo - chunkFirst + 1 === chunkRows(chunkIndex)) {
      yield cut(false);
      [copy, chunkFirst, rowsHash, chunkIndex] = [[], rowNo + 1, createHash('sha256'), chunkIndex + 1];
    }
  }
  yield cut(true);
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
