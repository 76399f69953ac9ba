/**
 * What the benchmarks send: generated CSVs and job files, a fresh Postgres database per run, and the
 * simulator (in this process, so its CPU never counts against the process being measured).
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { startSimulator, worstWindow, PLIVO_LIMITS, type Simulator } from '../sim/index.js';

export const WORK_DIR = path.join(os.tmpdir(), 'smsrun-bench');

const FIRST = ['Ana', 'Bo', 'Chen', 'Dara', 'Eli', 'Fatou', 'Gus', 'Hana', 'Ivo', 'Jun'];
const CITY = ['Austin', 'Boston', 'Chicago', 'Denver', 'El Paso', 'Fresno', 'Gary', 'Houston'];

/**
 * Row i's number: +1 415 and 7 digits from 200 0000 up (a valid NANP exchange, so libphonenumber accepts it),
 * unique for i < 7.7 million and never ending in 97/98/99 (the simulator's failures).
 */
export function phone(i: number): string {
  const n = 2_000_000 + Math.floor(i / 97) * 100 + (i % 97);
  return `1415${n}`;
}

/**
 * Row i's number as a US list writes it, without the country code, for a job with `default_country` US:
 * `(415) 200-0000`, `415-200-0001`, `4152000002`, `415.200.0003` in turn. The same number as phone(i).
 */
export function nationalPhone(i: number): string {
  const [area, exchange, line] = [phone(i).slice(1, 4), phone(i).slice(4, 7), phone(i).slice(7)];
  switch (i % 4) {
    case 0: return `(${area}) ${exchange}-${line}`;
    case 1: return `${area}-${exchange}-${line}`;
    case 2: return `${area}${exchange}${line}`;
    default: return `${area}.${exchange}.${line}`;
  }
}

export interface CsvSpec {
  rows: number;
  /** Every row gets the same text (batches form) instead of a personalised one. */
  broadcast?: boolean;
  /** Numbers in US national format (nationalPhone), for a job with `default_country` US; the default is phone(i). */
  national?: boolean;
}

/** phone + 3 columns; cached by size, since a 1 000 000-row file takes a few seconds to write. */
export async function csvFile(spec: CsvSpec): Promise<string> {
  await mkdir(WORK_DIR, { recursive: true });
  const file = path.join(WORK_DIR, `recipients-${spec.national ? 'national-v1' : 'v2'}-${spec.rows}.csv`);
  const number = spec.national ? nationalPhone : phone;
  if ((await stat(file).catch(() => null))?.size) return file;
  const tmp = `${file}.${process.pid}.tmp`;
  const out = createWriteStream(tmp);
  out.write('phone,first_name,city,code\n');
  for (let i = 0; i < spec.rows; i++) {
    const line = `${number(i)},${FIRST[i % FIRST.length]},${CITY[i % CITY.length]},${(i * 7919) % 1_000_000}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  await import('node:fs/promises').then((fs) => fs.rename(tmp, file));
  return file;
}

export const PERSONAL_TEXT = 'Hi {{first_name}}, your {{city}} order is ready. Code {{code}}. Reply STOP to opt out.';
export const BROADCAST_TEXT = 'Our spring sale starts today: 20% off everything until Sunday. Reply STOP to opt out.';

export interface JobSpec {
  name: string;
  csv: string;
  srcs: readonly string[];
  rate: number;
  batchSize: number;
  broadcast: boolean;
  /** The job's `default_country`, for a list of national numbers (csvFile's `national`). */
  defaultCountry?: string;
}

export function senders(n: number, prefix = '1415200'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);
}

export async function jobFile(dir: string, j: JobSpec): Promise<string> {
  const file = path.join(dir, `${j.name}.json`);
  await writeFile(file, JSON.stringify({
    name: j.name,
    recipients: j.csv,
    src: j.srcs,
    text: j.broadcast ? BROADCAST_TEXT : PERSONAL_TEXT,
    rate: j.rate,
    rate_counts: 'messages',
    batch_size: j.batchSize,
    ...(j.defaultCountry === undefined ? {} : { default_country: j.defaultCountry }),
  }, null, 2));
  return file;
}

export async function scratchDir(label: string): Promise<{ dir: string; remove(): Promise<void> }> {
  await mkdir(WORK_DIR, { recursive: true });
  const dir = await mkdtemp(path.join(WORK_DIR, `${label}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export function psql(url: string, sql: string): string {
  return execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-Atqc', sql], { encoding: 'utf8' }).trim();
}

export interface TempDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

let dbSeq = 0;

/** A new, empty database on the admin server (dropped by `drop`), optionally a copy of `template`. */
export async function tempDatabase(adminUrl: string, label: string, template?: string): Promise<TempDatabase> {
  const name = `smsrun_bench_${label}_${process.pid}_${++dbSeq}`;
  psql(adminUrl, `CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    name,
    drop: async () => { psql(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); },
  };
}

/** The simulator with Plivo's real account limits on, each sender's queue draining at `mps` messages/s. */
export async function plivoSim(mps: number): Promise<{ sim: Simulator; env: NodeJS.ProcessEnv }> {
  const sim = await startSimulator({ mps, mpsCounts: 'messages', limits: { ...PLIVO_LIMITS }, deliveryDelayMs: [200, 1500], seed: 5 });
  return { sim, env: { PLIVO_API_URL: sim.url, PLIVO_AUTH_ID: sim.authId, PLIVO_AUTH_TOKEN: sim.authToken } };
}

/** Jitter allowed when judging pacing by arrival times on a loaded 2-core machine (as the e2e tests do). */
export const JITTER_MS = 150;

/** Issue 11's bound: no request arrives more than this before its sender's budget allows it. */
export const ISSUE_11_BOUND_MS = 100;

export interface PacingVerdict {
  /** Senders whose accepts exceeded rate·T + one batch in some window, allowing JITTER_MS. */
  violatingSrcs: number;
  /** The same, allowing only ISSUE_11_BOUND_MS. */
  violatingSrcsAtBound: number;
  /** The worst excess over all senders without any jitter allowance, in messages (≤ 0: none). */
  worstExcessStrict: number;
  /** 429s the simulator's account limits gave (requests over 300 / 5 s, 100 at once, 20 List / min). */
  throttled: number;
}

export function judgePacing(sim: Simulator, srcs: readonly string[], rate: number): PacingVerdict {
  const log = sim.acceptLog();
  let violatingSrcs = 0;
  let violatingSrcsAtBound = 0;
  let worstExcessStrict = -Infinity;
  for (const src of srcs) {
    const strict = worstWindow(log, src, rate, 'messages');
    if (!strict) continue;
    worstExcessStrict = Math.max(worstExcessStrict, strict.excess);
    if ((worstWindow(log, src, rate, 'messages', { toleranceMs: JITTER_MS })?.excess ?? 0) > 1e-9) violatingSrcs++;
    if ((worstWindow(log, src, rate, 'messages', { toleranceMs: ISSUE_11_BOUND_MS })?.excess ?? 0) > 1e-9) violatingSrcsAtBound++;
  }
  return { violatingSrcs, violatingSrcsAtBound, worstExcessStrict, throttled: sim.stats().throttled };
}
