/**
 * A campaign belongs to an account: sandbox and real campaigns of one job are two campaigns, a real campaign
 * refuses to be resumed as another account, and a resumed sandbox campaign finishes (the sandbox simulator's
 * memory is kept beside the ledger). status, export, cancel and retry reach the sandbox campaign of a shared
 * name with --sandbox.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { killLeftovers, runCli, simEnv } from './helpers/cli.js';
import { deliveredNumber, usNumber, writeJob } from './helpers/csv.js';
import { createTestLedger, LEDGER_KINDS, ledgerRows, type TestLedger } from './helpers/ledgers.js';

const FAST = ['--track-for', '10', '--settle', '0'];
/** For runs whose delivery states nothing reads: no tracking, which costs at least its 5 s first look (track/schedule.ts). */
const SEND_ONLY = ['--track-for', '0', '--settle', '0'];
let sim: Simulator;

beforeAll(async () => { sim = await startSimulator({ limits: false, mps: 1000, deliveryDelayMs: [5, 20], seed: 5 }); });
afterAll(async () => {
  killLeftovers();
  await sim?.close();
});

describe.each(LEDGER_KINDS)('campaign accounts on %s', (kind) => {
  let ledger: TestLedger;
  beforeAll(async () => { ledger = await createTestLedger(kind); });
  afterAll(async () => { await ledger?.dispose(); });

  it('a sandbox run leaves the real campaign untouched: the real run then texts everyone', { timeout: 600_000 }, async () => {
    const src = kind === 'pglite' ? '14155550181' : '14155550182';
    const dsts = Array.from({ length: 5 }, (_, i) => deliveredNumber(900 + i));
    const job = await writeJob({ name: 'trial', src, text: 'hi', rate: 100 }, ['phone', ...dsts].join('\n'));
    const trial = await runCli(['run', job, '--sandbox', ...SEND_ONLY], ledger.env);
    expect(trial.code, trial.stderr).toBe(0);
    const real = await runCli(['run', job, ...SEND_ONLY], { ...ledger.env, ...simEnv(sim) });
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).not.toContain('already finished');
    expect(sim.messages().filter((m) => m.from === src).map((m) => m.to).sort()).toEqual([...dsts].sort());
    const rows = await ledgerRows<{ sandbox: boolean; auth_id: string | null; api_url: string | null }>(ledger,
      "SELECT sandbox, auth_id, api_url FROM campaigns WHERE name = 'trial' ORDER BY sandbox");
    expect(rows).toEqual([{ sandbox: false, auth_id: sim.authId, api_url: sim.url }, { sandbox: true, auth_id: null, api_url: null }]);

    const status = await runCli(['status'], ledger.env);
    expect(status.stdout).toContain('campaign trial (sandbox): ');
    expect(status.stdout).toMatch(/^campaign trial: /m);

    // Resuming the real campaign as another account is refused before anything is sent.
    const other = await runCli(['resume', 'trial', ...FAST], { ...ledger.env, ...simEnv(sim), PLIVO_AUTH_ID: 'MAOTHERACCOUNT000000' });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(`campaign 'trial' belongs to Plivo account ${sim.authId} at ${sim.url}`);
    expect(other.stderr).not.toContain(sim.authToken);
    const elsewhere = await runCli(['resume', 'trial', ...FAST], { ...ledger.env, ...simEnv(sim), PLIVO_API_URL: 'http://127.0.0.1:9/' });
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toContain(`belongs to Plivo account ${sim.authId} at ${sim.url}`);
  });

  it('a resumed sandbox campaign finishes: the sandbox remembers what it sent', { timeout: 300_000 }, async () => {
    const dsts = Array.from({ length: 4 }, (_, i) => deliveredNumber(950 + i));
    const job = await writeJob({ name: 'sandbox-resume', src: '14155550183', text: 'hi', rate: 100 }, ['phone', ...dsts].join('\n'));
    const first = await runCli(['run', job, '--sandbox', '--track-for', '0', '--settle', '0'], ledger.env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('not final yet');
    const resumed = await runCli(['resume', 'sandbox-resume', '--sandbox', '--track-for', '20', '--settle', '0'], ledger.env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).not.toContain('not final yet');
    const [campaign] = await ledgerRows<{ state: string }>(ledger, "SELECT state FROM campaigns WHERE name = 'sandbox-resume' AND sandbox");
    expect(campaign?.state).toBe('done');
    const noSandbox = await runCli(['resume', 'sandbox-resume', ...FAST], { ...ledger.env, ...simEnv(sim) });
    expect(noSandbox.code).toBe(2);
    expect(noSandbox.stderr).toContain("campaign 'sandbox-resume' is a sandbox campaign (run with --sandbox): resume it with --sandbox");
  });

  it('status, export, cancel and retry take the sandbox campaign of a shared name with --sandbox, the real one without', { timeout: 600_000 }, async () => {
    const src = kind === 'pglite' ? '14155550184' : '14155550185';
    const fails = usNumber(598); // the simulator fails …98 (error 90), the sandbox's too
    const dsts = [deliveredNumber(970), fails, deliveredNumber(971)];
    const job = await writeJob({ name: 'twins', src, text: 'Your parcel is at the front desk', rate: 100 }, ['phone', ...dsts].join('\n'));
    const sandboxRun = await runCli(['run', job, '--sandbox', ...FAST], ledger.env);
    expect(sandboxRun.code, sandboxRun.stderr).toBe(0);
    const realRun = await runCli(['run', job, ...FAST], { ...ledger.env, ...simEnv(sim) });
    expect(realRun.code, realRun.stderr).toBe(0);
    const uuidsOf = async (sandbox: boolean) => (await ledgerRows<{ message_uuid: string }>(ledger,
      "SELECT r.message_uuid FROM recipients r JOIN campaigns c ON c.id = r.campaign_id WHERE c.name = 'twins' AND c.sandbox = $1 ORDER BY r.row_no", [sandbox]))
      .map((r) => r.message_uuid);

    const status = async (...args: string[]) => {
      const r = await runCli(['status', ...args, '--json'], ledger.env);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    expect((await status('twins')).sandbox).toBeUndefined();
    expect(await status('twins', '--sandbox')).toMatchObject({ campaign: 'twins', sandbox: true });
    const sandboxes = await status('--sandbox') as { campaign: string; sandbox?: boolean }[];
    expect(sandboxes.map((c) => c.campaign)).toContain('twins');
    expect(sandboxes.every((c) => c.sandbox === true)).toBe(true);

    const exported = async (...args: string[]) => {
      const r = await runCli(['export', 'twins', '--format', 'jsonl', ...args], ledger.env);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { message_uuid: string }).message_uuid);
    };
    expect(await exported('--sandbox')).toEqual(await uuidsOf(true));
    expect(await exported()).toEqual(await uuidsOf(false));

    const retry = await runCli(['retry', 'twins', '--sandbox'], ledger.env);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout).toContain("created campaign 'twins-retry1' from 'twins': 1 failed.");
    expect(retry.stdout).toContain('smsrun resume twins-retry1 --sandbox');
    const notReal = await runCli(['cancel', 'twins-retry1'], ledger.env);
    expect(notReal.code).toBe(2);
    expect(notReal.stderr).toContain("campaign 'twins-retry1' is a sandbox campaign (run with --sandbox): cancel it with --sandbox");
    const cancel = await runCli(['cancel', 'twins-retry1', '--sandbox'], ledger.env);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain('smsrun retry twins-retry1 --only cancelled --sandbox');

    const realRetry = await runCli(['retry', 'twins'], ledger.env);
    expect(realRetry.code, realRetry.stderr).toBe(0);
    expect(realRetry.stdout).toContain("created campaign 'twins-retry2' from 'twins': 1 failed.");
    const rows = await ledgerRows<{ name: string; sandbox: boolean; cancelled: boolean; original_sandbox: boolean }>(ledger,
      `SELECT c.name, c.sandbox, c.cancelled_at IS NOT NULL AS cancelled, o.sandbox AS original_sandbox
       FROM campaigns c JOIN campaigns o ON o.id = c.retry_of WHERE o.name = 'twins' ORDER BY c.name`);
    expect(rows).toEqual([
      { name: 'twins-retry1', sandbox: true, cancelled: true, original_sandbox: true },
      { name: 'twins-retry2', sandbox: false, cancelled: false, original_sandbox: false },
    ]);
    // The real retry sends through Plivo (here the simulator) to the failed number only.
    const resumed = await runCli(['resume', 'twins-retry2', ...SEND_ONLY], { ...ledger.env, ...simEnv(sim) });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(sim.messages().filter((m) => m.from === src).map((m) => m.to).sort()).toEqual([...dsts, fails].sort());
  });
});
