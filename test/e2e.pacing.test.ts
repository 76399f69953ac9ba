/**
 * A sender's rate belongs to the number, across campaigns and processes (issue 11), through the real CLI
 * against the simulator, judged on arrival times at the simulator: two campaigns sharing numbers at once,
 * two processes sharing one account_rate, three processes sharing one campaign under Plivo's real account
 * limits, a rate conflict between two jobs, and a restart that resumes a sender's budget where it stood.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLIVO_LIMITS, startSimulator, worstWindow, type Simulator } from '../src/sim/index.js';
import { killLeftovers, runCli, simEnv, startCli } from './helpers/cli.js';
import { usNumber, writeJob } from './helpers/csv.js';
import { createTestLedger, ledgerRows, LEDGER_KINDS, type TestLedger } from './helpers/ledgers.js';
import { waitFor } from './helpers/wait.js';
import { watchStalls } from './helpers/stalls.js';

const ON_POSTGRES = LEDGER_KINDS.includes('postgres');
const phones = (from: number, n: number) => ['phone,name', ...Array.from({ length: n }, (_, i) => `${usNumber(from + i)},N${i}`)].join('\n');
const srcsFrom = (base: number, n: number) => Array.from({ length: n }, (_, i) => `1415555${String(base + i).padStart(4, '0')}`);

afterAll(() => killLeftovers());

describe.runIf(ON_POSTGRES)('pacing shared through a Postgres ledger', () => {
  let ledger: TestLedger;
  let sim: Simulator;
  beforeAll(async () => {
    ledger = await createTestLedger('postgres');
    sim = await startSimulator({ mps: 5000, deliveryDelayMs: [5, 30], limits: { ...PLIVO_LIMITS } });
  });
  afterAll(async () => {
    await sim?.close();
    await ledger?.dispose();
  });

  it('keeps each number within its rate when two campaigns send from the same numbers at once', async () => {
    // A reminder and a promotion from the same 4 numbers at 5/s, personalised (one message per request).
    const srcs = srcsFrom(1100, 4);
    const rate = 5;
    const reminder = await writeJob({ name: 'shared-reminder', src: srcs, text: 'Reminder {{name}}', rate, batch_size: 1 }, phones(20_000, 40));
    const promo = await writeJob({ name: 'shared-promo', src: srcs, text: 'Promo {{name}}', rate, batch_size: 1 }, phones(21_000, 40));
    const env = { ...ledger.env, ...simEnv(sim) };
    const stalls = watchStalls();
    const [a, b] = await Promise.all([
      runCli(['run', reminder, '--track-for', '0', '--settle', '0'], env),
      runCli(['run', promo, '--track-for', '0', '--settle', '0'], env),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const log = sim.acceptLog();
    for (const src of srcs) {
      expect(log.filter((e) => e.src === src)).toHaveLength(20); // 80 messages over 4 numbers, both campaigns
      // Judged as one process is (150 ms of jitter plus this process's stalls): a number stays with the process
      // that claimed it, and another takes it over only once it is overdue by the hand-over margin (sql/024).
      // Without that, a late process caught up while the other sent on time (docs/decisions.md, "Issue 11: two
      // processes on one number, measured"); without the shared budget, several messages over (3.4 in the bench).
      const worst = worstWindow(log, src, rate, 'units', { toleranceMs: stalls.toleranceMs() });
      expect(worst!.excess, `${src}: ${JSON.stringify(worst)}`).toBeLessThanOrEqual(0);
    }
  });

  it('keeps two processes within one account_rate together: the account\'s budget is in the ledger', async () => {
    // Two campaigns on other numbers, each from 2 numbers at 10/s, in two processes; the account allows 8 messages a second.
    const accountRate = 8;
    const first = srcsFrom(1200, 2);
    const second = srcsFrom(1210, 2);
    const a = await writeJob({ name: 'account-rate-a', src: first, text: 'A {{name}}', rate: 10, account_rate: accountRate, batch_size: 1 }, phones(22_000, 24));
    const b = await writeJob({ name: 'account-rate-b', src: second, text: 'B {{name}}', rate: 10, account_rate: accountRate, batch_size: 1 }, phones(23_000, 24));
    const env = { ...ledger.env, ...simEnv(sim) };
    // Judged as one process is (150 ms of jitter plus this process's stalls); without the ledger's account budget
    // the two went over by 25 messages.
    const stalls = watchStalls();
    const runs = await Promise.all([a, b].map((job) => runCli(['run', job, '--track-for', '0', '--settle', '0'], env)));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    // Every request of either campaign counts against the account, whichever number it came from.
    const ours = new Set([...first, ...second]);
    const account = sim.acceptLog().filter((e) => ours.has(e.src)).map((e) => ({ ...e, src: 'account' }));
    expect(account).toHaveLength(48);
    const worst = worstWindow(account, 'account', accountRate, 'messages', { toleranceMs: stalls.toleranceMs() });
    expect(worst!.excess, JSON.stringify(worst)).toBeLessThanOrEqual(0);
  });

  it('shares one campaign among three processes under the account limit: every process sends, no 429', async () => {
    // 100 numbers at 1 message a second want 100 requests a second; Plivo allows 300 per 5 s.
    const srcs = srcsFrom(2000, 100);
    const job = await writeJob({ name: 'three-processes', src: srcs, text: 'Hi {{name}}', rate: 1, batch_size: 1 }, phones(30_000, 400));
    const env = { ...ledger.env, ...simEnv(sim) };
    const throttledBefore = sim.stats().throttled;
    const runs = await Promise.all([0, 1, 2].map(() => runCli(['run', job, '--track-for', '0', '--settle', '0'], env)));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    expect(sim.stats().throttled - throttledBefore).toBe(0);
    const owners = await ledgerRows<{ owner: string; n: number }>(ledger,
      `SELECT a.owner, count(*)::int AS n FROM attempts a JOIN batches b ON b.id = a.batch_id JOIN campaigns c ON c.id = b.campaign_id
       WHERE c.name = 'three-processes' AND a.status = 'accepted' GROUP BY a.owner`);
    expect(owners, JSON.stringify(owners)).toHaveLength(3);
    expect(owners.reduce((s, o) => s + o.n, 0)).toBe(400);
  });
});

describe.each(LEDGER_KINDS)('a number\'s budget on the %s ledger', (kind) => {
  let ledger: TestLedger;
  let sim: Simulator;
  beforeAll(async () => {
    ledger = await createTestLedger(kind);
    sim = await startSimulator({ mps: 5000, deliveryDelayMs: [5, 30] });
  });
  afterAll(async () => {
    await sim?.close();
    await ledger?.dispose();
  });

  it('runs two jobs from the same numbers in one process (run a.json b.json): together within each number\'s rate, the lower rate holding and said first', async () => {
    // A reminder at 5/s and a promotion at 10/s from the same 3 numbers, personalised (one message per request).
    const srcs = srcsFrom(3200 + (kind === 'postgres' ? 50 : 0), 3);
    const reminder = await writeJob({ name: `together-reminder-${kind}`, src: srcs, text: 'Reminder {{name}}', rate: 5, batch_size: 1 }, phones(43_000, 30));
    const promo = await writeJob({ name: `together-promo-${kind}`, src: srcs, text: 'Promo {{name}}', rate: 10, batch_size: 1 }, phones(44_000, 30));
    const stalls = watchStalls();
    const run = await runCli(['run', reminder, promo, '--track-for', '0', '--settle', '0'], { ...ledger.env, ...simEnv(sim) });
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stderr.split('\n');
    const at = lines.findIndex((l) => l.startsWith('rate conflict'));
    expect(at, run.stderr).toBeGreaterThanOrEqual(0);
    expect(at).toBeLessThan(lines.findIndex((l) => l.startsWith('smsrun: campaign')));
    expect(lines[at]).toContain(`${srcs[0]} at 5/s`);
    const log = sim.acceptLog();
    for (const src of srcs) {
      expect(log.filter((e) => e.src === src)).toHaveLength(20); // 60 messages over 3 numbers, both campaigns
      const worst = worstWindow(log, src, 5, 'units', { toleranceMs: stalls.toleranceMs() });
      expect(worst!.excess, `${src}: ${JSON.stringify(worst)}`).toBeLessThanOrEqual(0);
    }
    // `smsrun senders` shows each number at the rate that held, and both campaigns using it.
    const senders = await runCli(['senders'], ledger.env);
    expect(senders.code, senders.stderr).toBe(0);
    const block = senders.stdout.split(/\n(?=\d)/).find((b) => b.startsWith(srcs[0]!));
    expect(block, senders.stdout).toContain(`${srcs[0]}  5/s`);
    expect(block).toContain(`together-reminder-${kind}`);
    expect(block).toContain(`together-promo-${kind}`);
  });

  it('says before the run starts when another campaign still sending gives a number a lower rate, and keeps to that rate', async () => {
    const [shared] = srcsFrom(3000 + (kind === 'postgres' ? 50 : 0), 1);
    const env = { ...ledger.env, ...simEnv(sim) };
    // The slow campaign is interrupted mid-way: it is still `sending`, and its rate still holds for the number.
    const slowJob = await writeJob({ name: 'slow-one', src: shared, text: 'Slow {{name}}', rate: 2, batch_size: 1 }, phones(40_000, 30));
    const slow = startCli(['run', slowJob, '--track-for', '0', '--settle', '0'], env);
    await waitFor('the slow campaign to send', () => sim.acceptLog().some((e) => e.src === shared));
    slow.child.kill('SIGINT');
    expect((await slow.done).code).toBe(130);

    const stalls = watchStalls();
    const fastJob = await writeJob({ name: 'fast-one', src: shared, text: 'Fast {{name}}', rate: 50, batch_size: 1 }, phones(41_000, 4));
    const fast = await runCli(['run', fastJob, '--track-for', '0', '--settle', '0'], env);
    expect(fast.code, fast.stderr).toBe(0);
    // Said before anything about the run itself (only the ledger's own line comes first).
    const lines = fast.stderr.split('\n');
    const at = lines.findIndex((l) => l.startsWith('rate conflict'));
    expect(at, fast.stderr).toBeGreaterThanOrEqual(0);
    expect(at).toBeLessThan(lines.findIndex((l) => l.startsWith('smsrun: campaign')));
    const first = lines[at]!;
    expect(first).toContain(`${shared} at 2/s ('slow-one' asks 2/s; this job 50/s)`);
    const log = sim.acceptLog().filter((e) => e.src === shared);
    const worst = worstWindow(log, shared!, 2, 'units', { toleranceMs: stalls.toleranceMs() });
    expect(worst!.excess, JSON.stringify(worst)).toBeLessThanOrEqual(0);
  });

  it('resumes a sender\'s budget where it stood after the process is killed', async () => {
    const [src] = srcsFrom(3100 + (kind === 'postgres' ? 50 : 0), 1);
    const rate = 2; // a message every 500 ms
    const job = await writeJob({ name: 'killed', src, text: 'Hi {{name}}', rate, batch_size: 1 }, phones(42_000, 6));
    const env = { ...ledger.env, ...simEnv(sim) };
    const stalls = watchStalls();
    const first = startCli(['run', job, '--track-for', '0', '--settle', '0'], env);
    await waitFor('the first message', () => sim.acceptLog().some((e) => e.src === src));
    first.child.kill('SIGKILL');
    await first.done;
    const again = await runCli(['run', job, '--track-for', '0', '--settle', '0'], env);
    expect(again.code, again.stderr).toBe(0);
    // The restarted process waits out what the killed one's last claim bought: no window goes over the rate.
    const log = sim.acceptLog().filter((e) => e.src === src);
    expect(log.length).toBeGreaterThanOrEqual(6);
    const worst = worstWindow(log, src!, rate, 'units', { toleranceMs: stalls.toleranceMs() });
    expect(worst!.excess, JSON.stringify(worst)).toBeLessThanOrEqual(0);
  });
});
