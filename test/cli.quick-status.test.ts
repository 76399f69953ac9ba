/**
 * `smsrun status` past yargs (src/cli/quick-status.ts): every line the shortcut takes must reach the status command
 * with exactly the arguments yargs gives it, and the shortcut must leave every other line to yargs. And status
 * must stay clear of yargs and the send path's modules, which cost more than its read of the ledger.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { BIN } from './helpers/cli.js';

const { calls } = vi.hoisted(() => ({ calls: [] as unknown[] }));
vi.mock('../src/cli/commands/status.js', () => ({
  statusCommand: async (campaign: string | undefined, args: unknown) => {
    calls.push({ campaign, args });
    return 0;
  },
}));

const { main, mainWithYargs } = await import('../src/cli/main.js');
const { quickStatus } = await import('../src/cli/quick-status.js');

/** What a command line did: the status command's arguments (if it was reached), the exit code, stderr. */
async function outcome(run: typeof main, argv: string[]): Promise<{ calls: unknown[]; code: number; stderr: string }> {
  calls.length = 0;
  let stderr = '';
  const sink = () => new Writable({ write: (chunk, _enc, done) => { stderr += String(chunk); done(); } });
  const code = await run(argv, { stdout: sink(), stderr: sink(), env: {} });
  return { calls: [...calls], code, stderr };
}

const TAKEN = [
  ['status'],
  ['status', 'spring-sale'],
  ['status', '123'],
  ['status', '0x1F'],
  ['status', '1e3'],
  ['status', 'no'],
  ['status', 'spring sale'],
  ['status', 'a=b'],
  ['status', '--json'],
  ['status', '--json', 'spring-sale'],
  ['status', 'spring-sale', '--json', '--sandbox', '--watch'],
  ['status', '--sandbox'],
  ['status', '--watch', '--interval', '5'],
  ['status', '--watch', '--interval=0.5', 'x'],
  ['status', '--interval', '0.2'],
  ['status', '--interval', '007'],
  ['status', '--home', '/tmp/h', 'x'],
  ['status', '--home=/tmp/h'],
  ['status', '--home=a=b', '--json'],
  ['status', '--home', '123'],
  ['status', '--home', 'true'],
  ['status', 'x', '--home', '/tmp/h', '--interval', '3'],
];

const LEFT_TO_YARGS = [
  ['status', '--help'],
  ['status', '-h'],
  ['--version'],
  ['sttaus'],
  ['status', '--jsn'],
  ['status', 'a', 'b'],
  ['status', '--json', 'true'],
  ['status', '--json', 'false', 'x'],
  ['status', 'false'],
  ['status', '--no-json'],
  ['status', '--json=false'],
  ['status', '--json', '--json'],
  ['status', '--home', 'a', '--home', 'b'],
  ['status', '--home'],
  ['status', '--home', '--json'],
  ['status', '--home='],
  ['status', '--interval', '0.1'],
  ['status', '--interval', 'x'],
  ['status', '--interval', '1e3'],
  ['status', '--interval', '.5'],
  ['status', '--interval', '-1'],
  ['status', '--', 'x'],
  ['status', '-'],
  ['status', ''],
  ['status', '--homeDir', 'x'],
  ['export', 'x'],
];

describe('status past yargs', () => {
  it.each(TAKEN.map((argv) => [argv]))('takes %j with the arguments yargs gives', async (argv) => {
    expect(quickStatus(argv)).toBeDefined();
    const quick = await outcome(main, argv);
    expect(quick.calls).toHaveLength(1);
    expect(quick).toEqual(await outcome(mainWithYargs, argv));
  });

  it.each(LEFT_TO_YARGS.map((argv) => [argv]))('leaves %j to yargs', (argv) => {
    expect(quickStatus(argv)).toBeUndefined();
  });

  it('a mistake still gets yargs\' message and exit code', async () => {
    const r = await outcome(main, ['status', '--interval', '0.1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("smsrun: --interval must be a number of seconds, 0.2 or more\nRun 'smsrun --help' for the commands and options.\n");
  });

  it('loads neither yargs nor the send path', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'smsrun-quick-status-'));
    try {
      const log = path.join(dir, 'loaded.txt');
      // Every module the process loads, as module hooks see it (they see ES modules and the CommonJS ones they import).
      const hooks = `import { appendFileSync } from 'node:fs';
        export async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); }`;
      const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, BIN, 'status', 'nothing-here'], {
          env: { PATH: process.env['PATH'], HOME: process.env['HOME'], SMSRUN_HOME: dir },
          stdio: 'ignore',
        });
        child.once('error', reject);
        child.once('exit', resolve);
      });
      expect(code).toBe(2); // no ledger there: no such campaign
      const loaded = await readFile(log, 'utf8');
      expect(loaded).toContain('/cli/commands/status.js');
      expect(loaded).toContain('/report/summary.js');
      expect(loaded).not.toMatch(/node_modules\/(yargs|cliui|string-width|bottleneck)\//);
      expect(loaded).not.toMatch(/\/dist\/(send\/(?!account-limits\.js)|plivo\/client|run\/|track\/)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
