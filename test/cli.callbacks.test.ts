/**
 * The callback flags as the real CLI sees them: a mistake exits 2 before anything is sent, with what to do.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.js';
import { assertBuilt, killLeftovers, quickSim, runCli, simEnv, STACK_LINE, writeJson, writeText } from './support-validation.js';
import { tempDir } from './helpers/tmp.js';

let sim: Simulator;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  assertBuilt();
  dir = await tempDir('smsrun-callbacks-');
  sim = await quickSim();
  env = simEnv(sim, path.join(dir, 'home'));
  await writeText(path.join(dir, 'people.csv'), 'phone\n14155550201\n');
});
afterAll(async () => {
  killLeftovers();
  await sim?.close();
});

describe('callback flags', () => {
  async function job(name: string, extra: Record<string, unknown> = {}): Promise<string> {
    const file = path.join(dir, `${name}.json`);
    await writeJson(file, { name, recipients: 'people.csv', src: '14155550100', text: 'Hi', ...extra });
    return file;
  }

  it('--listen without --callback-url: exit 2, says Plivo needs the public url, sends nothing', async () => {
    const r = await runCli(['run', await job('listen-alone'), '--listen', ':0'], { cwd: dir, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--listen needs --callback-url/);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(sim.messages()).toHaveLength(0);
  });

  it("--callback-url with a job's own url: exit 2, says to choose one", async () => {
    const r = await runCli(['run', await job('both-urls', { url: 'https://example.com/mine' }), '--callback-url', 'https://hooks.example.com/smsrun'], { cwd: dir, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/job's "url" already sends status callbacks/);
    expect(sim.messages()).toHaveLength(0);
  });

  it('a --callback-url that is not http(s): exit 2 naming the flag', async () => {
    const r = await runCli(['run', await job('bad-url'), '--callback-url', 'ftp://example.com/x'], { cwd: dir, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--callback-url/);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(sim.messages()).toHaveLength(0);
  });
});
