/**
 * What only a real Postgres ledger can show: two `smsrun run` processes on one campaign at once, and a
 * run whose ledger connections are cut again and again. Runs when TEST_DATABASE_URL is set (CI sets it).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startSimulator, worstWindow, type Simulator } from '../src/sim/index.js';
import { runCli, startCli, simEnv } from './helpers/cli.js';
import { createTestLedger, type TestLedger } from './helpers/ledgers.js';
import { usNumber, writeJob } from './helpers/csv.js';
import { watchStalls } from './helpers/stalls.js';
import { waitFor } from './helpers/wait.js';

const ADMIN_URL = process.env['TEST_DATABASE_URL'];
const SRCS = ['14155550301', '14155550302', '14155550303'];


/** Numbers the simulator delivers quickly (not ending 97-99), `n` of them from `start`. */
function numbers(start: number, n: number): string[] {
  return Array.from({ length: n * 2 }, (_, i) => usNumber(start + i)).filter((d) => !/9[789]$/.test(d)).slice(0, n);
}

function expectEachOnce(sim: Simulator, dsts: readonly string[]): void {
  const wanted = new Set(dsts);
  const counts = new Map<string, number>();
  for (const m of sim.messages()) if (wanted.has(m.to)) counts.set(m.to, (counts.get(m.to) ?? 0) + 1);
  const wrong = dsts.filter((d) => counts.get(d) !== 1).map((d) => `${d}×${counts.get(d) ?? 0}`);
  expect(wrong, 'numbers not texted exactly once').toEqual([]);
}

describe.skipIf(!ADMIN_URL)('on a Postgres ledger', () => {
  let ledger: TestLedger;
  let sim: Simulator;
  beforeAll(async () => { ledger = await createTestLedger('postgres'); });
  // A simulator per test: Plivo's limits are on, and one test's requests must not count against the next's.
  beforeEach(async () => { sim = await startSimulator({ mps: 5000, deliveryDelayMs: [5, 30], seed: 11 }); });
  afterEach(async () => { await sim?.close(); });
  afterAll(async () => { await ledger?.dispose(); });

  it('two processes running one campaign at once text everyone once and never exceed a src rate', async () => {
    const rate = 40;
    const dsts = numbers(20_000, 600);
    const job = await writeJob({ name: 'twice', src: SRCS, text: 'Both of us', rate, batch_size: 4 }, ['phone', ...dsts].join('\n'));
    const env = { ...ledger.env, ...simEnv(sim) };
    const args = ['run', job, '--track-for', '10', '--settle', '0'];
    const stalls = watchStalls(300);
    const [a, b] = await Promise.all([runCli(args, env), runCli(args, env)]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expectEachOnce(sim, dsts);
    // Two CLIs, Postgres and the simulator share two cores here: arrivals jitter more than in a lone run.
    // 300 ms (12 units at 40/s) is still far below what two processes sending from one src would add
    // (the whole rate again: hundreds of units over the run). Plus this process's own stalls (helpers/stalls.ts).
    for (const src of SRCS) {
      const worst = worstWindow(sim.acceptLog(), src, rate, 'units', { toleranceMs: stalls.toleranceMs() });
      expect(worst!.excess, `${src}: ${JSON.stringify(worst)}`).toBeLessThanOrEqual(0);
    }
  });

  it('rides out its ledger connections being cut again and again, losing and doubling nothing', async () => {
    const dsts = numbers(30_000, 400);
    const job = await writeJob({ name: 'cut', src: SRCS, text: 'Hold the line', rate: 40, batch_size: 4 }, ['phone', ...dsts].join('\n'));
    const before = sim.messages().length;
    const run = startCli(['run', job, '--track-for', '15', '--settle', '0', '--request-timeout', '2'], { ...ledger.env, ...simEnv(sim) });
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    let cuts = 0;
    try {
      // Once it sends, cut every smsrun connection a few times (sending takes about 3.5 s at 3 × 40/s).
      await waitFor('the run to send', () => sim.messages().length > before || run.child.exitCode !== null);
      for (let i = 0; i < 4; i++) {
        // The cadence of the cuts is the test's input, not a wait for something: 600 ms apart.
        await new Promise((r) => setTimeout(r, 600));
        if (run.child.exitCode !== null) break;
        const killed = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'smsrun%'`,
          [new URL(ledger.databaseUrl!).pathname.slice(1)],
        );
        if (killed.rowCount && sim.messages().length - before < dsts.length) cuts++;
      }
    } finally {
      await admin.end();
    }
    const result = await run.done;
    expect(result.code, result.stderr).toBe(0);
    expect(cuts, 'connections cut while it was still sending').toBeGreaterThanOrEqual(2);
    expectEachOnce(sim, dsts);
    expect(sim.messages().length - before).toBe(dsts.length);
  });
});
