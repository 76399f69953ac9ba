/**
 * Reading the embedded ledger while a run holds it: `status --json` and `export` read through the running
 * process and show live figures, instead of "in use by another smsrun process".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { killLeftovers, runCli, simEnv, startCli } from './helpers/cli.js';
import { deliveredNumber, parseReport, writeJob } from './helpers/csv.js';
import { createTestLedger, type TestLedger } from './helpers/ledgers.js';
import { waitFor } from './helpers/wait.js';

let sim: Simulator;
let ledger: TestLedger;

beforeAll(async () => {
  sim = await startSimulator({ limits: false, mps: 1000, deliveryDelayMs: [5, 20], seed: 13 });
  ledger = await createTestLedger('pglite');
});
afterAll(async () => {
  killLeftovers();
  await sim?.close();
  await ledger?.dispose();
});

describe('reading while a run holds the embedded ledger', () => {
  it('status --json and export show live figures during the run', { timeout: 300_000 }, async () => {
    const src = '14155550191';
    const dsts = Array.from({ length: 40 }, (_, i) => deliveredNumber(600 + i));
    // One recipient per request at 4 a second: about 10 s of sending to read in the middle of.
    const job = await writeJob({ name: 'live', src, text: 'hi', rate: 4, batch_size: 1 }, ['phone', ...dsts].join('\n'));
    const run = startCli(['run', job, '--track-for', '10', '--settle', '0'], { ...ledger.env, ...simEnv(sim) });
    const sent = () => sim.messages().filter((m) => m.from === src).length;
    await waitFor('the first messages', () => sent() >= 3, { timeoutMs: 200_000 });

    const status = await runCli(['status', 'live', '--json'], ledger.env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stderr.split('\n')[0]).toMatch(/^ledger: .*\(SMSRUN_HOME\), read through the smsrun process that holds it \(pid \d+\)$/);
    const live = JSON.parse(status.stdout) as { rows: number; delivery: { accepted: number } };
    expect(live.rows).toBe(40);
    expect(live.delivery.accepted).toBeGreaterThanOrEqual(1);
    expect(live.delivery.accepted).toBeLessThan(40);

    const exported = await runCli(['export', 'live'], ledger.env);
    expect(exported.code, exported.stderr).toBe(0);
    const rows = parseReport(exported.stdout);
    expect(rows).toHaveLength(40);
    const withUuid = rows.filter((r) => r['message_uuid'] !== '').length;
    expect(withUuid).toBeGreaterThanOrEqual(1);
    expect(run.child.exitCode).toBeNull(); // still running: these were live figures

    const done = await run.done;
    expect(done.code, done.stderr).toBe(0);
    expect(sent()).toBe(40);
  });
});
