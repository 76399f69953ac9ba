/**
 * A campaign belongs to an account: sandbox and real campaigns of one job are two campaigns, a real campaign
 * refuses to be resumed as another account, and a resumed sandbox campaign finishes (the sandbox simulator's
 * memory is kept beside the ledger).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { killLeftovers, runCli, simEnv } from './helpers/cli.js';
import { deliveredNumber, writeJob } from './helpers/csv.js';
import { createTestLedger, LEDGER_KINDS, ledgerRows, type TestLedger } from './helpers/ledgers.js';

const FAST = ['--track-for', '10', '--settle', '0'];
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

  it('a sandbox run leaves the real campaign untouched: the real run then texts everyone', { timeout: 400_000 }, async () => {
    const src = kind === 'pglite' ? '14155550181' : '14155550182';
    const dsts = Array.from({ length: 5 }, (_, i) => deliveredNumber(900 + i));
    const job = await writeJob({ name: 'trial', src, text: 'hi', rate: 100 }, ['phone', ...dsts].join('\n'));
    const trial = await runCli(['run', job, '--sandbox', ...FAST], ledger.env);
    expect(trial.code, trial.stderr).toBe(0);
    const real = await runCli(['run', job, ...FAST], { ...ledger.env, ...simEnv(sim) });
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).not.toContain('already finished');
    expect(sim.messages().filter((m) => m.from === src).map((m) => m.to).sort()).toEqual([...dsts].sort());
    const rows = await ledgerRows<{ sandbox: boolean; auth_id: string | null; api_url: string | null }>(ledger,
      "SELECT sandbox, auth_id, api_url FROM campaigns WHERE name = 'trial' ORDER BY sandbox");
    expect(rows).toEqual([{ sandbox: false, auth_id: sim.authId, api_url: sim.url }, { sandbox: true, auth_id: null, api_url: null }]);

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
});
