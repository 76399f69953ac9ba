/**
 * On a terminal, `run` shows the plan summary and asks before the first text; "n" sends nothing and loads
 * nothing, "y" sends. `--yes` and a standard input that is not a terminal (every other test) skip it. The
 * summary counts the numbers on the suppression list of the account the run sends as.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.js';
import { tempDir } from './helpers/tmp.js';
import { startCliInTerminal } from './helpers/cli.js';
import { waitFor } from './helpers/wait.js';
import { assertBuilt, FAST, fromSender, killLeftovers, quickSim, runCli, simEnv, writeJson, writeText } from './support-validation.js';

let sim: Simulator;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  assertBuilt();
  dir = await tempDir('smsrun-confirm-');
  sim = await quickSim();
  env = simEnv(sim, path.join(dir, 'home'));
  await writeText(path.join(dir, 'club.csv'), ['phone,name', '+14155550401,Ana', '+14155550402,Ben', 'nope,Cy'].join('\n'));
});

afterAll(async () => {
  killLeftovers();
  await sim?.close();
});

const QUESTION = "Send campaign 'club' to 2 recipient(s)? [y/N]";

// A run's first seconds (the embedded ledger's initdb, the load) take minutes on a loaded machine.
describe('confirmation on a terminal', { timeout: 900_000 }, () => {
  const src = '14155559401';
  const clubJob = () => writeJson(path.join(dir, 'club.json'), { name: 'club', recipients: 'club.csv', src, text: 'Hi {{name}}, practice is at 6', rate: 100 });

  it('shows the plan, and sends and loads nothing when the answer is no', async () => {
    const job = await clubJob();
    const declined = startCliInTerminal(['run', job, ...FAST], env, dir);
    await waitFor('the question', () => declined.out.stdout.includes(QUESTION), { timeoutMs: 400_000 });
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
    await waitFor('the question', () => accepted.out.stdout.includes(QUESTION), { timeoutMs: 400_000 });
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

  it('the plan it shows leaves out the numbers on the suppression list of the account it sends as', async () => {
    const src = '14155559403';
    const optEnv = simEnv(sim, path.join(dir, 'home-optout')); // a ledger of its own: the list is not the other tests'
    const add = await runCli(['suppress', 'add', '+14155550402', '--reason', 'asked at the front desk'], { cwd: dir, env: optEnv });
    expect(add.code, add.stderr).toBe(0);
    const job = await writeJson(path.join(dir, 'club-optout.json'), { name: 'club-optout', recipients: 'club.csv', src, text: 'Hi {{name}}, practice is at 6', rate: 100 });
    const asked = startCliInTerminal(['run', job, ...FAST], optEnv, dir);
    const question = "Send campaign 'club-optout' to 1 recipient(s)? [y/N]";
    await waitFor('the question', () => asked.out.stdout.includes(question), { timeoutMs: 400_000 });
    expect(asked.out.stdout).toContain('rows 3: 1 to send, 1 invalid, 0 duplicate, 1 suppressed');
    expect(asked.out.stdout).toContain(`1 number(s) on the list of ${sim.authId}`);
    asked.child.stdin!.write('y\n');
    const yes = await asked.done;
    expect(yes.code).toBe(0);
    expect(fromSender(sim, src).map((m) => m.to)).toEqual(['14155550401']);
  });
});
