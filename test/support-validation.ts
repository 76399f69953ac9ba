/**
 * Helpers for the CLI tests (test/cli.*.test.ts): spawn the REAL compiled CLI (`node bin/smsrun.js`, built by
 * `npm run build` / `npm test`'s pretest) in a temp directory, with its own SMSRUN_HOME, against an
 * in-process Plivo simulator. Not a test file itself (no `.test.` in the name).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { startSimulator, type Simulator, type SimOptions } from '../src/sim/index.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BIN = path.join(ROOT, 'bin', 'smsrun.js');
const DIST_MAIN = path.join(ROOT, 'dist', 'cli', 'main.js');

/** Fails loudly (instead of with a confusing spawn error) when `npm run build` was not run. */
export function assertBuilt(): void {
  if (!existsSync(DIST_MAIN)) throw new Error(`${DIST_MAIN} is missing: run 'npm run build' (npm test does it in pretest)`);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

/** Kills (by pid) any CLI process a failed test left behind. Call from afterAll. */
export function killLeftovers(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  }
  children.clear();
}

export interface Spawned {
  child: ChildProcess;
  /** Output so far (live). */
  readonly out: { stdout: string; stderr: string };
  done: Promise<CliResult>;
}

/** Starts `node bin/smsrun.js ...args` in `cwd` with exactly `env` on top of a clean copy of ours. */
export function spawnCli(args: string[], opts: { cwd: string; env: Record<string, string> }): Spawned {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  // A Postgres ledger from the developer's shell must not capture these runs; nor real Plivo credentials.
  delete env['DATABASE_URL'];
  for (const k of ['PLIVO_AUTH_ID', 'PLIVO_AUTH_TOKEN', 'PLIVO_API_URL']) if (!(k in opts.env)) delete env[k];
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const out = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out.stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out.stderr += d; });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, stdout: out.stdout, stderr: out.stderr });
    });
  });
  return { child, out, done };
}

export function runCli(args: string[], opts: { cwd: string; env: Record<string, string> }): Promise<CliResult> {
  return spawnCli(args, opts).done;
}

/** A fresh temp directory; removed by the returned cleanup. */
export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `smsrun-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A quick simulator: no account limits, fast queues and receipts. */
export function quickSim(opts: SimOptions = {}): Promise<Simulator> {
  return startSimulator({ limits: false, mps: 1000, deliveryDelayMs: [5, 20], seed: 42, ...opts });
}

export function simEnv(sim: Simulator, home: string): Record<string, string> {
  return { SMSRUN_HOME: home, PLIVO_AUTH_ID: sim.authId, PLIVO_AUTH_TOKEN: sim.authToken, PLIVO_API_URL: sim.url };
}

/** Flags that keep a run short against the quick simulator. */
export const FAST = ['--track-for', '10', '--settle', '0'];

export async function writeJson(file: string, value: unknown): Promise<string> {
  await writeFile(file, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return file;
}

export async function writeText(file: string, text: string | Buffer): Promise<string> {
  await writeFile(file, text);
  return file;
}

/** Lines of a stack trace ("    at fn (file:line:col)"): a user's mistake must never print one. */
export const STACK_LINE = /^\s+at\s/m;

export interface ReportRow {
  row: string;
  line: string;
  dst: string;
  src: string;
  status: string;
  message_uuid: string;
  error_code: string;
  units: string;
  total_amount: string;
  submitted_at: string;
  final_at: string;
  reason: string;
}

export const REPORT_HEADER = 'row,line,dst,src,status,message_uuid,error_code,units,total_amount,submitted_at,final_at,reason';

export function parseReportCsv(text: string): ReportRow[] {
  return parse(text, { columns: true, skip_empty_lines: true }) as ReportRow[];
}

export function parseJsonl(text: string): Record<string, unknown>[] {
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

export async function readText(file: string): Promise<string> {
  return readFile(file, 'utf8');
}

/** How many messages the simulator accepted per destination, for one sender. */
export function countByDst(sim: Simulator, src: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of sim.messages()) if (m.sender === src) counts.set(m.to, (counts.get(m.to) ?? 0) + 1);
  return counts;
}

export function fromSender(sim: Simulator, src: string) {
  return sim.messages().filter((m) => m.sender === src);
}

export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
