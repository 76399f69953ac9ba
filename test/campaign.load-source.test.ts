/**
 * The load's worker thread (campaign/load-worker.ts, compiled in dist/ by `npm run build`, as `npm test` does
 * first) gives exactly the pieces loadRows gives in this thread: header, chunk cuts, COPY text, rows hashes and
 * the file hash, from a fresh load and from a resumed one; the hand-off (first chunk here, the rest from the
 * worker) gives the same again. Its errors reach this thread as the classes the CLI expects.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CsvFileError } from '../src/campaign/csv.js';
import { loadJobFile } from '../src/campaign/job.js';
import { chunkRows, type LoadPiece } from '../src/campaign/load-rows.js';
import { HandoffSource, reviveError, serializeError, ThreadSource, WorkerSource, type PieceSource } from '../src/campaign/load-source.js';
import { UsageError } from '../src/errors.js';
import { usNumber, writeJob } from './helpers/csv.js';

const WORKER = fileURLToPath(new URL('../dist/campaign/load-worker.js', import.meta.url));
const ROWS = chunkRows(0) + chunkRows(1) + chunkRows(2) + 700;

async function pieces(source: PieceSource, skipUntil: number): Promise<LoadPiece[]> {
  const all: LoadPiece[] = [];
  source.start(skipUntil, { pipe: false });
  try {
    for (let p = await source.next(); p !== undefined; p = await source.next()) all.push(p);
  } finally {
    await source.close();
  }
  return all;
}

async function job(csv: string) {
  return loadJobFile(await writeJob({ name: 'w', src: '14155550100', text: 'Hi {{name}}', rate: 10 }, csv));
}

describe('the load worker', () => {
  it('is built (npm run build) where the tests expect it', () => {
    expect(existsSync(WORKER), WORKER).toBe(true);
  });

  it('gives the same pieces as loadRows in this thread, fresh and resumed, and so does the hand-off', async () => {
    // A bad number and an unquoted comma among them: invalid rows are written too.
    const lines = Array.from({ length: ROWS }, (_, i) => i === 10 ? '12,x' : i === 20 ? `${usNumber(i)},a,b` : `${usNumber(i)},n${i}`);
    const j = await job(`phone,name\n${lines.join('\n')}\n`);
    const input = { job: j, jobHash: 'h' };
    const here = await pieces(new ThreadSource(input), 0);
    expect(here.filter((p) => p.kind === 'chunk')).toHaveLength(4);
    expect(await pieces(new WorkerSource(input, WORKER), 0)).toEqual(here);
    expect(await pieces(new HandoffSource(input, WORKER), 0)).toEqual(here);
    const resumed = await pieces(new ThreadSource(input), chunkRows(0) + 10);
    expect(await pieces(new WorkerSource(input, WORKER), chunkRows(0) + 10)).toEqual(resumed);
    expect(await pieces(new HandoffSource(input, WORKER), chunkRows(0) + 10)).toEqual(resumed);
  });

  it("stops with the file's error as a CsvFileError naming its line, after the chunks before it", async () => {
    const lines = Array.from({ length: chunkRows(0) + 50 }, (_, i) => `${usNumber(i)},n${i}`);
    lines.push('14155550100,"open');
    const j = await job(`phone,name\n${lines.join('\n')}\n`);
    const source = new WorkerSource({ job: j, jobHash: 'h' }, WORKER);
    source.start(0, { pipe: false });
    const got: LoadPiece[] = [];
    const err = await (async () => {
      try {
        for (let p = await source.next(); p !== undefined; p = await source.next()) got.push(p);
      } catch (e) {
        return e;
      } finally {
        await source.close();
      }
      return undefined;
    })();
    expect(got.map((p) => p.kind)).toEqual(['header', 'chunk']);
    expect(err).toBeInstanceOf(CsvFileError);
    expect((err as Error).message).toMatch(/recipients\.csv:\d+: the CSV cannot be read/);
  });
});

describe('errors from the worker', () => {
  it('come back as CsvFileError (that can say `partly`), UsageError (exit 2), or an Error with its stack', () => {
    const csv = reviveError(serializeError(new CsvFileError('f.csv:3: bad', 'fix it', new Error('why'))));
    expect(csv).toBeInstanceOf(CsvFileError);
    expect(csv.message).toBe('f.csv:3: bad fix it. Nothing was loaded.');
    expect((csv as CsvFileError).partly(1000).message).toContain('Rows 1 to 1000 are in the ledger');
    const usage = reviveError(serializeError(new UsageError('no header')));
    expect(usage).toBeInstanceOf(UsageError);
    expect((usage as UsageError).exitCode).toBe(2);
    const bug = new TypeError('x is undefined');
    const revived = reviveError(serializeError(bug));
    expect([revived.name, revived.message, revived.stack]).toEqual(['TypeError', 'x is undefined', bug.stack]);
  });
});
