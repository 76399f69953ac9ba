/**
 * Where the embedded ledger lives: one per user in the platform's data directory (HOME pointed at a
 * temporary directory here), named on every command's first line; an older ./.smsrun in the current
 * folder is still used, and said so; `status` on an empty place creates nothing.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { userCacheDir, userDataDir } from '../src/ledger/place.js';
import { killLeftovers, runCli, simEnv } from './helpers/cli.js';
import { deliveredNumber, writeJob } from './helpers/csv.js';
import { tempDir } from './helpers/tmp.js';

const FAST = ['--track-for', '10', '--settle', '0'];
/** For runs whose delivery states nothing reads: no tracking, which costs at least its 5 s first look (track/schedule.ts). */
const SEND_ONLY = ['--track-for', '0', '--settle', '0'];
/**
 * These tests give the CLI a HOME of their own; the machine's cache of PGlite's pristine data directory
 * (ledger/pglite-init.ts) stays where it is, so a new ledger there is a copy rather than an initdb of several seconds.
 */
const CACHE = { XDG_CACHE_HOME: path.dirname(userCacheDir(process.env, process.platform)) };
let sim: Simulator;

beforeAll(async () => { sim = await startSimulator({ limits: false, mps: 1000, deliveryDelayMs: [5, 20], seed: 9 }); });
afterAll(async () => {
  killLeftovers();
  await sim?.close();
});

describe('the embedded ledger is one per user', () => {
  it('a job run from two folders texts nobody twice, and each command names the ledger first', { timeout: 400_000 }, async () => {
    const home = await tempDir();
    const dsts = Array.from({ length: 6 }, (_, i) => deliveredNumber(700 + i));
    const job = await writeJob({ name: 'two-folders', src: '14155550177', text: 'hello', rate: 100 }, ['phone', ...dsts].join('\n'));
    const env = { ...simEnv(sim), ...CACHE, HOME: home };
    const ledger = path.join(home, '.local', 'share', 'smsrun', 'ledger');
    for (const folder of ['a', 'b']) {
      const cwd = path.join(home, folder);
      await mkdir(cwd);
      const r = await runCli(['run', job, ...SEND_ONLY], env, cwd);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr.split('\n')[0]).toBe(`ledger: ${ledger}`);
      expect(existsSync(path.join(cwd, '.smsrun'))).toBe(false);
    }
    const sent = sim.messages().filter((m) => m.from === '14155550177').map((m) => m.to);
    expect(sent.sort()).toEqual([...dsts].sort());
    const status = await runCli(['status', 'two-folders', '--json'], env, home);
    expect(status.stderr.split('\n')[0]).toBe(`ledger: ${ledger}`);
    expect(JSON.parse(status.stdout).campaign).toBe('two-folders');
  });

  it('status on an empty place creates nothing', async () => {
    const home = await tempDir();
    const r = await runCli(['status'], { HOME: home }, home);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`ledger: ${path.join(home, '.local', 'share', 'smsrun', 'ledger')} (none there yet)\n`);
    expect(r.stdout).toContain('no campaigns');
    expect(existsSync(path.join(home, '.local'))).toBe(false);
  });

  it('an older ./.smsrun in the current folder is used, and the run says so', { timeout: 400_000 }, async () => {
    const home = await tempDir();
    const legacy = path.join(home, 'proj', '.smsrun');
    const job = await writeJob({ name: 'legacy', src: '14155550178', text: 'hi', rate: 100 }, ['phone', deliveredNumber(800)].join('\n'));
    const first = await runCli(['run', job, ...FAST], { ...simEnv(sim), ...CACHE, HOME: home, SMSRUN_HOME: legacy }, home);
    expect(first.code, first.stderr).toBe(0);
    const again = await runCli(['run', job, ...FAST], { ...simEnv(sim), ...CACHE, HOME: home }, path.join(home, 'proj'));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr.split('\n')[0]).toContain(`ledger: ${path.join(legacy, 'ledger')} (found in this folder`);
    expect(again.stdout).toContain('already finished');
    expect(sim.messages().filter((m) => m.from === '14155550178')).toHaveLength(1);
  });
});

describe('the platform data directory', () => {
  it('follows XDG on Linux, and the usual places on macOS and Windows', () => {
    expect(userDataDir({ HOME: '/h' }, 'linux')).toBe('/h/.local/share/smsrun');
    expect(userDataDir({ HOME: '/h', XDG_DATA_HOME: '/x' }, 'linux')).toBe('/x/smsrun');
    expect(userDataDir({ HOME: '/h', XDG_DATA_HOME: 'relative' }, 'linux')).toBe('/h/.local/share/smsrun');
    expect(userDataDir({ HOME: '/Users/u' }, 'darwin')).toBe('/Users/u/Library/Application Support/smsrun');
    expect(userDataDir({ USERPROFILE: 'C:\\Users\\u', LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32')).toBe('C:\\Users\\u\\AppData\\Local\\smsrun');
  });
});
