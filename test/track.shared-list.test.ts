/**
 * Two runs on one ledger share the account's List window (sql/014 `account_slots`, 20 List requests a minute,
 * each slot held a minute): when earlier runs have used it up, a later run's tracking reads its messages by
 * GET (src/track/planner.ts) and finishes within its --track-for, rather than waiting for List slots past it.
 * Judged by conditions: the run ends with every message final, read by GET, no List request of its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { runCli, simEnv } from './helpers/cli.js';
import { createTestLedger, ledgerRows, LEDGER_KINDS, type TestLedger } from './helpers/ledgers.js';
import { deliveredNumber, writeJob } from './helpers/csv.js';

const SRC = '14155550111';

function recipients(n: number, offset: number): string {
  return ['phone', ...Array.from({ length: n }, (_, i) => `+${deliveredNumber(offset + i)}`)].join('\n') + '\n';
}

describe.each(LEDGER_KINDS)('List slots used up by other runs, on the %s ledger', (kind) => {
  let ledger: TestLedger;
  let sim: Simulator;

  beforeAll(async () => {
    ledger = await createTestLedger(kind);
    // Plivo's real account limits (the default).
    sim = await startSimulator({ mps: 1000, deliveryDelayMs: [300, 1500], seed: 12 });
  });
  afterAll(async () => {
    await sim?.close();
    await ledger?.dispose();
  });

  const lists = () => sim.stats().byEndpoint['list'] ?? 0;
  const heldListSlots = async () => (await ledgerRows<{ n: number }>(ledger,
    "SELECT count(*)::int AS n FROM account_slots WHERE kind = 'list' AND free_at > now()"))[0]!.n;

  it('the second run, finding the List window held, tracks by GET and is done within its --track-for', async () => {
    const env = { ...ledger.env, ...simEnv(sim) };
    // The first run tracks by List: it takes slots of the account's List window, held for a minute each.
    const first = await writeJob({ name: `first-${kind}`, src: [SRC], text: 'Hi', rate: 100, batch_size: 50 }, recipients(40, 6000));
    const one = await runCli(['run', first, '--track-for', '60', '--settle', '0', '--track-by', 'list'], env);
    expect(one.code, one.stderr).toBe(0);
    expect(await heldListSlots()).toBeGreaterThan(0);
    // Other runs on the account (say, a third campaign's reconciliation) hold the rest for 90 s: none is free.
    await ledgerRows(ledger, "UPDATE account_slots SET free_at = greatest(free_at, now() + interval '90 seconds') WHERE kind = 'list'");
    expect(await heldListSlots()).toBe(20);

    const listsBefore = lists();
    // Ten messages of one request: one List page would read them all, were a List slot free soon.
    const second = await writeJob({ name: `second-${kind}`, src: [SRC], text: 'Hi', rate: 100, batch_size: 50 }, recipients(10, 7000));
    // --track-for 20 is shorter than any List slot's wait: waiting for one would end the run with messages open.
    const two = await runCli(['run', second, '--track-for', '20', '--settle', '0'], env);
    expect(two.stderr).not.toMatch(/\n\s+at /);
    expect(two.code, two.stderr).toBe(0);
    expect(two.stdout).not.toMatch(/not final/);
    expect(lists() - listsBefore).toBe(0);
    const via = await ledgerRows<{ final_via: string; n: number }>(ledger,
      `SELECT m.final_via, count(*)::int AS n FROM messages m JOIN campaigns c ON c.id = m.campaign_id
       WHERE c.name = $1 GROUP BY final_via`, [`second-${kind}`]);
    expect(via).toEqual([{ final_via: 'get', n: 10 }]); // every message final (final_via is set with final_at)
    const [campaign] = await ledgerRows<{ state: string }>(ledger, 'SELECT state FROM campaigns WHERE name = $1', [`second-${kind}`]);
    expect(campaign!.state).toBe('done');
  }, 300_000);
});
