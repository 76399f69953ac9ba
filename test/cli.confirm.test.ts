/**
 * On a terminal, `run` shows the plan summary and asks before the first text; "n" sends nothing and loads
 * nothing, "y" sends. `--yes` and a standard input that is not a terminal (every other test) skip it.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.js';
import { startCliInTerminal } from './helpers/cli.js';
import { waitFor } from './helpers/wait.js';
import { assertBuilt, FAST, fromSender, killLeftovers, quickSim, runCli, simEnv, writeJson, writeText } from './support-validation.js';
import { tempDir } from './helpers/tmp.js';

let sim: Simulator;
let dir: string;
let cleanup: () => Promise<void>;
let env: Record<string, string>;

beforeAll(async () => {
  assertBuilt();
  dir = await tempDir('smsrun-confirm-');
  cleanup = async () => undefined; // helpers/tmp removes it after the file's last test
  sim = await quickSim();
  env = simEnv(sim, path.join(dir, 'home'));
  await writeText(path.join(dir, 'club.csv'), ['phone,name', '+14155550401,Ana', '+14155550402,Ben', 'nope,Cy'].join('\n'));
});

afterAll(async () => {
  killLeftovers();
  await sim?.close();
  await cleanup?.();
});

const QUESTION = "Send campaign 'club' to 2 recipient(s)? [y/N]";

describe('confirmation on a terminal', () => {
  const src = '14155559401';
  const clubJob = () => writeJson(path.join(dir, 'club.json'), { name: 'club', recipients: 'club.csv', src, text: 'Hi {{name}}, practice is at 6', rate: 100 });

  it('shows the plan, and sends and loads nothing when the answer is no', async () => {
    const job = await clubJob();
    const declined = startCliInTerminal(['run', job, ...FAST], env, dir);
    await waitFor('the question', () => declined.out.stdout.includes(QUESTION), { timeoutMs: 180_000 });
    expect(declined.out.stdout).toContain("plan for campaign 'club' (nothing sent, nothing written):");
    expect(declined.out.stdout).toContain('rows 3: 2 to send, 1 invalid, 0 duplicate');
    declined.child.stdin!.write('n\n');
    const no = await declined.done;
    expect(no.code).toBe(1);
    expect(no.stdout).toContain('not confirmed: nothing was sent or loaded (--yes skips this question).');
    expect(fromSender(sim, src)).toEqual([]);
    const status = await runCli(['status', 'club'], { cwd: dir, env });
    expect(status.stderr).toContain("no campaign named 'club'");
  });

  it('sends when the answer is yes', async () => {
    const job = await clubJob();
    const accepted = startCliInTerminal(['run', job, ...FAST], env, dir);
    await waitFor('the question', () => accepted.out.stdout.includes(QUESTION), { timeoutMs: 180_000 });
    accepted.child.stdin!.write('y\n');
    const yes = await accepted.done;
    expect(yes.code).toBe(0);
    expect(fromSender(sim, src).map((m) => m.to).sort()).toEqual(['14155550401', '14155550402']);
  });

  it('--yes on a terminal does not ask', async () => {
    const src = '14155559402';
    const job = await writeJson(path.join(dir, 'club-yes.json'), { name: 'club-yes', recipients: 'club.csv', src, text: 'Hi {{name}}', rate: 100 });
    const r = await startCliInTerminal(['run', job, '--yes', ...FAST], env, dir).done;
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('[y/N]');
    expect(fromSender(sim, src)).toHaveLength(2);
  });
});
