/**
 * Delivery tracking through the real CLI against the simulator with Plivo's real limits on (300 requests
 * per 5 s, 20 List requests a minute): every message reaches its final state by the channel asked for,
 * without a 429 of our own making, and a crash during tracking resumes without asking again about what
 * was already final.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { runCli, startCli, simEnv, freePort } from './helpers/cli.js';
import { createTestLedger, ledgerRows, LEDGER_KINDS, type TestLedger } from './helpers/ledgers.js';
import { deliveredNumber, parseReport, writeJob } from './helpers/csv.js';
import { waitFor } from './helpers/wait.js';

const SRCS = ['14155550101', '14155550102', '14155550103', '14155550104'];


/** n recipients, delivered (no number ends in 97–99), except every `noReceiptEvery`-th: it ends in 99 (never a receipt). */
function recipients(n: number, offset: number, noReceiptEvery = 0): string {
  const rows = ['phone,name'];
  for (let i = 0; i < n; i++) {
    const j = offset + i;
    const dst = noReceiptEvery > 0 && i % noReceiptEvery === 0 ? `1415${70_000 + j}99` : deliveredNumber(j);
    rows.push(`+${dst},N${i}`);
  }
  return rows.join('\n') + '\n';
}

describe.each(LEDGER_KINDS)('tracking on the %s ledger', (kind) => {
  let ledger: TestLedger;
  let sim: Simulator;

  beforeAll(async () => {
    ledger = await createTestLedger(kind);
    // Plivo's real account limits (the default); receipts 0.3 to 2 s after a message leaves its queue.
    sim = await startSimulator({ mps: 1000, deliveryDelayMs: [300, 2000], seed: 11 });
  });
  afterAll(async () => {
    await sim?.close();
    await ledger?.dispose();
  });

  it.each([
    ['list', 0], // 60 messages (3 pages): the List API's 20 a minute makes this the slow one
    ['get', 1000],
    ['auto', 2000],
  ] as const)('--track-by %s brings every message to its final state by that channel, within the limits', async (by, offset) => {
    const n = by === 'list' ? 60 : 120;
    const before = structuredClone(sim.stats());
    const job = await writeJob({ name: `track-${by}-${kind}`, src: SRCS, text: 'Hi {{name}}', rate: 100, batch_size: 50 }, recipients(n, offset));
    const run = await runCli(['run', job, '--track-for', '60', '--settle', '0', '--track-by', by], { ...ledger.env, ...simEnv(sim) });
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(/not final/);

    const after = sim.stats();
    const gets = (after.byEndpoint['get'] ?? 0) - (before.byEndpoint['get'] ?? 0);
    const lists = (after.byEndpoint['list'] ?? 0) - (before.byEndpoint['list'] ?? 0);
    expect(after.throttled).toBe(0);
    const via = await ledgerRows<{ final_via: string; n: number }>(ledger,
      `SELECT m.final_via, count(*)::int AS n FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = $1 GROUP BY final_via`, [`track-${by}-${kind}`]);
    const byVia = Object.fromEntries(via.map((v) => [v.final_via, v.n]));
    if (by === 'list') {
      expect(gets).toBe(0);
      expect(byVia).toEqual({ list: n });
      // 3 pages hold 60 records; the schedule may read a young window twice, not every message each time.
      expect(lists).toBeLessThanOrEqual(Math.ceil(n / 20) * 3);
    } else if (by === 'get') {
      expect(lists).toBe(0);
      expect(byVia).toEqual({ get: n });
      expect(gets).toBeGreaterThanOrEqual(n);
      expect(gets).toBeLessThanOrEqual(n * 3);
    } else {
      expect(Object.values(byVia).reduce((a, b) => a + b, 0)).toBe(n);
      expect(gets + lists).toBeLessThanOrEqual(n * 2);
    }
  });

  it('with --callback-url and --listen, callbacks bring every message to its final state and polling asks almost nothing', async () => {
    const n = 200; // not smaller: the 5 % allowance for reads below must cover the tracker's fixed few
    const name = `track-callbacks-${kind}`;
    const before = structuredClone(sim.stats());
    const port = await freePort();
    const job = await writeJob({ name, src: SRCS, text: 'Hi {{name}}', rate: 100, batch_size: 50 }, recipients(n, 8000));
    const run = await runCli(['run', job, '--track-for', '60', '--settle', '0', '--callback-url', `http://127.0.0.1:${port}/plivo/status`,
      '--listen', `127.0.0.1:${port}`], { ...ledger.env, ...simEnv(sim) });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(/not final/);
    const after = sim.stats();
    const reads = (after.byEndpoint['get'] ?? 0) - (before.byEndpoint['get'] ?? 0) + (after.byEndpoint['list'] ?? 0) - (before.byEndpoint['list'] ?? 0);
    expect(reads).toBeLessThanOrEqual(n * 0.05);
    const via = await ledgerRows<{ final_via: string; n: number }>(ledger,
      `SELECT m.final_via, count(*)::int AS n FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = $1 GROUP BY m.final_via`, [name]);
    expect(Object.fromEntries(via.map((v) => [v.final_via, v.n]))).toEqual({ callback: n });
    // Every callback that reached the run was answered 2xx, and every message's final one did. The simulator sends
    // up to 32 at once, so a message's `sent` callback may still be on its way when its `delivered` one has made
    // every message final and the run has exited: those find no receiver (Plivo retries them later), which is
    // not counted against the run.
    await sim.callbacksIdle();
    const uuids = new Set((await ledgerRows<{ uuid: string }>(ledger,
      `SELECT m.message_uuid AS uuid FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = $1`, [name])).map((r) => r.uuid));
    const mine = sim.callbackLog().filter((a) => uuids.has(a.uuid));
    expect(mine.filter((a) => a.httpStatus !== null && !a.ok)).toEqual([]);
    expect(new Set(mine.filter((a) => a.ok && a.status === 'delivered').map((a) => a.uuid)).size).toBe(n);
    expect(mine.filter((a) => a.ok).length).toBeGreaterThanOrEqual(n * 2); // queued and sent answered too, mostly
    const report = parseReport((await runCli(['export', name], { ...ledger.env, ...simEnv(sim) })).stdout);
    const byUuid = new Map(sim.messages().map((m) => [m.uuid, m]));
    for (const r of report) expect(byUuid.get(r['message_uuid']!)?.to, `row ${r['row']}`).toBe(r['dst']);
    expect(report.filter((r) => r['status'] === 'delivered')).toHaveLength(n);
  });

  it('resumes tracking after a crash without asking again about messages already final', async () => {
    const name = `track-crash-${kind}`;
    // Every 10th number never gets a receipt: those stay `sent` until the 36 s cut-off, so tracking lasts.
    const job = await writeJob({ name, src: SRCS, text: 'Hi {{name}}', rate: 100, batch_size: 25, receipt_cutoff_hours: 0.01 }, recipients(100, 5000, 10));
    const env = { ...ledger.env, ...simEnv(sim) };
    const first = startCli(['run', job, '--track-for', '60', '--settle', '0', '--track-by', 'get'], env);
    await waitFor('tracking to start', () => /tracking until every message is final/.test(first.out.stderr) || first.child.exitCode !== null);
    expect(first.child.exitCode, first.out.stderr).toBeNull();
    // Killed mid-tracking: once some receipts are in (0.3 to 2 s after sending) and tracking has asked 20 more
    // times, so some messages are final in the ledger, long before the 36 s cut-off of the no-receipt ones.
    const delivered = () => sim.messages().filter((m) => m.state === 'delivered').length;
    await waitFor('10 receipts', () => delivered() >= 10 || first.child.exitCode !== null);
    const getsAtReceipts = sim.stats().byEndpoint['get'] ?? 0;
    await waitFor('20 more GETs', () => (sim.stats().byEndpoint['get'] ?? 0) - getsAtReceipts >= 20 || first.child.exitCode !== null);
    first.child.kill('SIGKILL');
    await first.done;

    const finalBefore = await ledgerRows<{ message_uuid: string; polls: number }>(ledger,
      `SELECT m.message_uuid, m.polls FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = $1 AND m.final_at IS NOT NULL`, [name]);
    expect(finalBefore.length).toBeGreaterThan(0); // receipts came in before the kill
    expect(finalBefore.length).toBeLessThan(100); // the no-receipt ones cannot be final yet

    const poll = await runCli(['poll', name, '--track-for', '120', '--track-by', 'get'], env);
    expect(poll.code, poll.stderr).toBe(0);
    expect(poll.stdout).not.toMatch(/not final/);

    const after = await ledgerRows<{ message_uuid: string; polls: number; final_at: Date | null; state: string }>(ledger,
      `SELECT m.message_uuid, m.polls, m.final_at, m.state FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = $1`, [name]);
    expect(after.filter((m) => m.final_at === null)).toEqual([]);
    const pollsAfter = new Map(after.map((m) => [m.message_uuid, m.polls]));
    for (const m of finalBefore) expect(pollsAfter.get(m.message_uuid), `looked at ${m.message_uuid} again`).toBe(m.polls);
    expect(after.filter((m) => m.state === 'sent')).toHaveLength(10); // final without receipt, after the cut-off

    const exported = await runCli(['export', name], env);
    const report = parseReport(exported.stdout);
    expect(report.filter((r) => r['status'] === 'sent')).toHaveLength(10);
    expect(report.filter((r) => r['status'] === 'delivered')).toHaveLength(90);
  });
});
