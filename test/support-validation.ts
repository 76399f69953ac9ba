/**
 * Helpers for the CLI tests (test/cli.*.test.ts): spawn the REAL compiled CLI (`node bin/smsrun.js`, built by
 * `npm run build` / `npm test`'s pretest) in a temp directory, with its own SMSRUN_HOME, against an
 * in-process Plivo simulator. Not a test file itself (no `.test.` in the name).
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { startSimulator, type Simulator, type SimOptions } from '../src/sim/index.js';
import { killLeftovers, ROOT, startCli, type CliResult, type Spawned } from './helpers/cli.js';

const DIST_MAIN = path.join(ROOT, 'dist', 'cli', 'main.js');

/** Fails loudly (instead of with a confusing spawn error) when `npm run build` was not run. */
export function assertBuilt(): void {
  if (!existsSync(DIST_MAIN)) throw new Error(`${DIST_MAIN} is missing: run 'npm run build' (npm test does it in pretest)`);
}

export { killLeftovers, type CliResult, type Spawned };

export function spawnCli(args: string[], opts: { cwd: string; env: Record<string, string> }): Spawned {
  return startCli(args, opts.env, opts.cwd);
}

export function runCli(args: string[], opts: { cwd: string; env: Record<string, string> }): Promise<CliResult> {
  return startCli(args, opts.env, opts.cwd).done;
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
/**
 * For a test that only looks at what was sent (the simulator's messages, refusals, counts), not at delivery:
 * no tracking. Tracking's first look comes 5 s after the last send (track/schedule.ts), so FAST costs every
 * run at least that much.
 */
export const SEND_ONLY = ['--track-for', '0', '--settle', '0'];

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
  error_meaning: string;
  units: string;
  total_amount: string;
  submitted_at: string;
  final_at: string;
  reason: string;
}

/** smsrun's own report columns; the user's CSV columns follow them. */
export const REPORT_HEADER = 'row,line,dst,src,status,message_uuid,error_code,error_meaning,units,total_amount,submitted_at,final_at,reason';

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
