/**
 * Child process of bench/ingest.ts: the Node side of a load without any database, for its floors.
 *
 *   ingest-js.child.js parse <job.json>   the CSV read from disk and parsed by csv-parse alone, with the options
 *                                         campaign/csv.ts gives it (no decoding check, no validation), its records
 *                                         taken with `for await` as campaign/records.ts takes them;
 *   ingest-js.child.js rows <job.json>    the load's per-row work as LoadStream.#run (campaign/load.ts) does it:
 *                                         streamRows (reading, UTF-8 check, parsing, formula unescaping), the file
 *                                         and row hashes, validate (number, template, units), copyRow, a chunk's
 *                                         COPY text joined at every chunk boundary. Nothing is written anywhere.
 *
 * Prints one JSON line: { ms (wall), cpuMs (this process's user + system CPU), rows, rssBytes (peak RSS) }.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { loadJobFile, type Job } from '../campaign/job.js';
import { chunkRows } from '../campaign/load.js';
import { streamRows } from '../campaign/records.js';
import { copyRow } from '../ledger/load-chunks.js';

const [mode, jobPath] = process.argv.slice(2);
if ((mode !== 'parse' && mode !== 'rows') || !jobPath) throw new Error('usage: ingest-js.child.js parse|rows <job.json>');
const job = await loadJobFile(jobPath);

/** Records csv-parse yields for the whole file, header included; the bench's CSV is comma-separated. */
async function parseOnly(j: Job): Promise<number> {
  const parser = createReadStream(j.recipientsPath, { highWaterMark: 1 << 20 })
    .pipe(parse({ delimiter: j.delimiter ?? ',', relax_column_count: true, trim: true, raw: true }));
  let records = 0;
  for await (const _ of parser as AsyncIterable<unknown>) records++;
  return records - 1;
}

/** The load's loop (campaign/load.ts, LoadStream.#run) with each chunk's COPY text made and dropped. */
async function perRow(j: Job): Promise<number> {
  const fileHash = createHash('sha256');
  let rowsHash = createHash('sha256');
  let chunk: string[] = [];
  let chunkFirst = 1;
  let chunkIndex = 0;
  let rowNo = 0;
  let maxUnits = 1;
  let copyChars = 0;
  for await (const row of streamRows(j, (bytes) => fileHash.update(bytes))) {
    if (row.kind === 'header') continue;
    rowNo = row.rowNo;
    if (rowNo % 500 === 0) await new Promise(setImmediate); // as the load lets timers in
    rowsHash.update(row.raw);
    const r = row.validate();
    if (r.status === 'pending' && r.units !== null) maxUnits = Math.max(maxUnits, r.units);
    chunk.push(copyRow(r));
    if (rowNo - chunkFirst + 1 === chunkRows(chunkIndex)) {
      copyChars += chunk.join('').length;
      rowsHash.digest('hex');
      [chunk, chunkFirst, rowsHash, chunkIndex] = [[], rowNo + 1, createHash('sha256'), chunkIndex + 1];
    }
  }
  copyChars += chunk.join('').length;
  fileHash.digest('hex');
  // Used, so that no step above can be optimised away.
  if (copyChars === 0 || maxUnits < 1) throw new Error('the per-row work made no COPY text');
  return rowNo;
}

const t0 = performance.now();
const cpu0 = process.cpuUsage();
const rows = mode === 'parse' ? await parseOnly(job) : await perRow(job);
const cpu = process.cpuUsage(cpu0);
const ms = performance.now() - t0;
process.stdout.write(JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, rows, rssBytes: process.resourceUsage().maxRSS * 1024 }) + '\n');
