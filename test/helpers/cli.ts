/** Runs the real CLI (the built bin) as a child process, the way a user does. The one spawner of the tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/smsrun.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Spawned {
  child: ChildProcess;
  /** Output so far (live). */
  readonly out: { stdout: string; stderr: string };
  done: Promise<CliResult>;
}

const children = new Set<ChildProcess>();

/**
 * Starts `node bin/smsrun.js ...args` with exactly `env` (plus PATH and HOME): nothing leaks in from the
 * developer's shell, such as a DATABASE_URL or real Plivo credentials.
 */
export function startCli(args: string[], env: Record<string, string | undefined>, cwd = ROOT): Spawned {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return follow(child);
}

/**
 * Like startCli, but with a pseudo-terminal for standard input and output (util-linux `script`), as when a
 * person types the command: for what the CLI does only on a terminal. Write answers to `child.stdin`.
 */
export function startCliInTerminal(args: string[], env: Record<string, string | undefined>, cwd = ROOT): Spawned {
  const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
  const command = [process.execPath, BIN, ...args].map(quote).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    cwd,
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], TERM: 'dumb', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return follow(child);
}

function follow(child: ChildProcess): Spawned {
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

export function runCli(args: string[], env: Record<string, string | undefined>, cwd?: string): Promise<CliResult> {
  return startCli(args, env, cwd).done;
}

// Registered when a test file imports this module, so it runs after that file's last test: a CLI that a failed
// or timed-out test left running is killed even if the file forgot to.
afterAll(() => killLeftovers());

/** Kills (by pid) any CLI process a failed test left behind. Also called from afterAll and a ledger's dispose(). */
export function killLeftovers(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  }
  children.clear();
}

/** The CLI's environment for talking to a simulator as if it were Plivo. */
export function simEnv(sim: { authId: string; authToken: string; url: string }): Record<string, string> {
  return { PLIVO_AUTH_ID: sim.authId, PLIVO_AUTH_TOKEN: sim.authToken, PLIVO_API_URL: sim.url };
}

/**
 * Environment that makes a CLI tag its Plivo requests as `smsrun-test/<tag>` in their User-Agent (the
 * simulator records it in `readLog()`), to tell apart the traffic of several processes on one simulator.
 */
export function clientTagEnv(tag: string): Record<string, string> {
  const preload = new URL('./tag-client.mjs', import.meta.url).href;
  return { NODE_OPTIONS: `--import=${preload}`, SMSRUN_TEST_CLIENT: tag };
}

/** A TCP port free right now (for a receiver whose public URL must be known before it listens). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
