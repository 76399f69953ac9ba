/**
 * Running a measured process: the real smsrun CLI (bin/smsrun.js, the compiled build) or a bench script,
 * with the probe preloaded, its stderr watched line by line, and its probe samples read back.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Build } from './lib.js';
import type { ProbeSample } from './probe.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const SMSRUN_BIN = path.join(REPO, 'bin', 'smsrun.js');
const PROBE = fileURLToPath(new URL('./probe.js', import.meta.url));

function shortCommit(dir: string): string {
  try {
    return execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** This checkout's smsrun (the one `npm run bench` just built). */
export const THIS_BUILD: Build = { label: 'this commit', bin: SMSRUN_BIN, commit: shortCommit(REPO) };

/** An earlier smsrun in `dir`, already built; a missing build is a usage error, said at once. */
export function loadBuild(dir: string): Build {
  const bin = path.join(path.resolve(dir), 'bin', 'smsrun.js');
  if (!existsSync(bin) || !existsSync(path.join(path.resolve(dir), 'dist'))) {
    throw new Error(`--before ${dir}: no built smsrun there; check out the earlier commit (git worktree add ${dir} <commit>), then run npm ci && npm run build in it`);
  }
  const commit = shortCommit(dir);
  return { label: `previous design (${commit})`, bin, commit };
}

/** This build, and the previous design's when `--before` gave one. */
export function builds(before: Build | undefined): Build[] {
  return before ? [THIS_BUILD, before] : [THIS_BUILD];
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  startedAt: number;
  endedAt: number;
  stdout: string;
  stderr: string;
  samples: ProbeSample[];
  /** The last sample (the one written at exit when the process exited on its own). */
  last: ProbeSample | undefined;
}

export interface ChildOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Called for each stderr line, with a kill switch. */
  onLine?: (line: string, kill: (signal?: NodeJS.Signals) => void) => void;
  /** Kill (SIGKILL) after this long. */
  timeoutMs?: number;
  /** Called once the process is started, with its kill switch (for a watcher of something else). */
  onSpawn?: (kill: (signal?: NodeJS.Signals) => void) => void;
  /** The smsrun to run (runSmsrun). @default this checkout's bin/smsrun.js */
  bin?: string;
}

let seq = 0;

/** `node --import probe <script> <args>`; resolves when it exits (whatever its exit code). */
export async function runProbed(script: string, args: readonly string[], opts: ChildOptions = {}): Promise<ChildResult> {
  const probeOut = path.join(os.tmpdir(), `smsrun-bench-probe-${process.pid}-${++seq}.jsonl`);
  await rm(probeOut, { force: true });
  const startedAt = Date.now();
  const child = spawn(process.execPath, ['--import', PROBE, script, ...args], {
    cwd: opts.cwd ?? REPO,
    env: { ...process.env, ...opts.env, BENCH_PROBE_OUT: probeOut },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let partial = '';
  const kill = (signal: NodeJS.Signals = 'SIGKILL') => { child.kill(signal); };
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    partial += d;
    const lines = partial.split(/\r?\n|\r/);
    partial = lines.pop() ?? '';
    for (const line of lines) opts.onLine?.(line, kill);
  });
  opts.onSpawn?.(kill);
  const timer = opts.timeoutMs ? setTimeout(() => kill(), opts.timeoutMs) : undefined;
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, s) => resolve([c, s]));
  });
  if (timer) clearTimeout(timer);
  const endedAt = Date.now();
  const samples = (await readFile(probeOut, 'utf8').catch(() => '')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as ProbeSample);
  await rm(probeOut, { force: true });
  return { code, signal, startedAt, endedAt, stdout, stderr, samples, last: samples.at(-1) };
}

/** The smsrun CLI, as a user runs it. */
export function runSmsrun(args: readonly string[], opts: ChildOptions = {}): Promise<ChildResult> {
  return runProbed(opts.bin ?? SMSRUN_BIN, args, opts);
}

/** Throws with the child's stderr when it did not exit 0: a crash is a failed benchmark. */
export function expectOk(r: ChildResult, what: string): ChildResult {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code ?? r.signal}:\n${r.stderr.slice(-3000)}`);
  return r;
}

/** CPU seconds and statements between two times, interpolated from the once-a-second samples. */
export function between(samples: readonly ProbeSample[], from: number, to: number): { cpuS: number; statements: number; seconds: number } {
  const at = (t: number, key: 'cpuUs' | 'statements'): number => {
    let prev: ProbeSample | undefined;
    for (const s of samples) {
      if (s.t >= t) {
        if (!prev) return s[key];
        return prev[key] + ((s[key] - prev[key]) * (t - prev.t)) / Math.max(1, s.t - prev.t);
      }
      prev = s;
    }
    return prev?.[key] ?? 0;
  };
  return {
    cpuS: (at(to, 'cpuUs') - at(from, 'cpuUs')) / 1e6,
    statements: at(to, 'statements') - at(from, 'statements'),
    seconds: (to - from) / 1000,
  };
}

export const MB = 1024 * 1024;
