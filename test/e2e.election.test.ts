/**
 * Two `smsrun run` processes on one Postgres campaign (issue 10 item 12): both send, but only one reconciles
 * and tracks, so Plivo sees List and GET traffic from one process at a time; when that one is killed, the
 * other takes over and finishes the campaign. Each process tags its requests (helpers/tag-client.mjs), and
 * the simulator records every read with its client. Runs when TEST_DATABASE_URL is set (CI sets it).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PLIVO_LIMITS, startSimulator, type Simulator } from '../src/sim/index.js';
import { nowMs } from '../src/sim/clock.js';
import { clientTagEnv, simEnv, startCli } from './helpers/cli.js';
import { createTestLedger, ledgerRows, type TestLedger } from './helpers/ledgers.js';
import { usNumber, writeJob } from './helpers/csv.js';
import { waitFor } from './helpers/wait.js';

const ADMIN_URL = process.env['TEST_DATABASE_URL'];
const SRCS = ['14155550401', '14155550402', '14155550403'];
const LIST_PER_MINUTE = 120;

/** Numbers the simulator delivers quickly (not ending 97-99), `n` of them from `start`. */
function numbers(start: number, n: number): string[] {
  return Array.from({ length: n * 2 }, (_, i) => usNumber(start + i)).filter((d) => !/9[789]$/.test(d)).slice(0, n);
}

describe.skipIf(!ADMIN_URL)('two runs of one campaign on a Postgres ledger', () => {
  let ledger: TestLedger;
  let sim: Simulator;
  beforeAll(async () => { ledger = await createTestLedger('postgres'); });
  beforeEach(async () => {
    // Answers lost after Plivo took the messages, and requests dropped before: ambiguous batches to reconcile.
    // An account whose List limit Plivo raised (as --list-per-minute allows): reconciliation is List-bound, and
    // this test is about who reads, not how fast.
    sim = await startSimulator({
      mps: 5000, deliveryDelayMs: [5, 30], seed: 12, faults: { dropAfterAccept: 0.06, dropBeforeAccept: 0.03 },
      limits: { ...PLIVO_LIMITS, listPerMinute: LIST_PER_MINUTE },
    });
  });
  afterEach(async () => { await sim?.close(); });
  afterAll(async () => { await ledger?.dispose(); });

  it('reads Plivo from one process at a time; when it is killed the other takes over and everyone is texted once', async () => {
    const dsts = numbers(50_000, 480);
    // 3 senders × 8/s: about 20 s of sending, long enough to kill the first reader halfway.
    const job = await writeJob({ name: 'elect', src: SRCS, text: 'One of us reads', rate: 8, batch_size: 4 }, ['phone', ...dsts].join('\n'));
    const args = ['run', job, '--track-for', '60', '--settle', '0', '--request-timeout', '2', '--list-per-minute', String(LIST_PER_MINUTE)];
    const env = { ...ledger.env, ...simEnv(sim) };
    const runs = { a: startCli(args, { ...env, ...clientTagEnv('a') }), b: startCli(args, { ...env, ...clientTagEnv('b') }) };

    // The reader is whoever reads first. Killed once it has listed a few times (two processes reconciling
    // the same due batches would both have listed by then), while sending goes on.
    await waitFor('reconciliation listings', () => sim.readLog().filter((r) => r.kind === 'list').length >= 5 ||
      runs.a.child.exitCode !== null || runs.b.child.exitCode !== null);
    const reader = sim.readLog()[0]!.client === 'smsrun-test/a' ? 'a' : 'b';
    const other = reader === 'a' ? 'b' : 'a';
    expect(sim.messages().length, 'still sending when the reader is killed').toBeLessThan(dsts.length);
    const killedAt = nowMs();
    runs[reader].child.kill('SIGKILL');
    await runs[reader].done;
    const diedBy = nowMs();
    const result = await runs[other].done;
    expect(result.code, result.stderr).toBe(0);

    const reads = sim.readLog();
    const byReader = reads.filter((r) => r.client === `smsrun-test/${reader}`);
    const byOther = reads.filter((r) => r.client === `smsrun-test/${other}`);
    expect(byReader.length + byOther.length, 'every read tagged by its process').toBe(reads.length);
    // One process at a time: the other read nothing before the reader was killed, the reader nothing after.
    expect(byOther.filter((r) => r.at < killedAt), `reads by ${other} while ${reader} read`).toEqual([]);
    expect(byReader.filter((r) => r.at > diedBy)).toEqual([]);
    expect(byOther.some((r) => r.kind === 'list'), 'the other took over reconciling or tracking').toBe(true);
    expect(result.stderr).toContain('standby:');
    expect(result.stderr).toContain('took over');

    const counts = new Map<string, number>();
    for (const m of sim.messages()) counts.set(m.to, (counts.get(m.to) ?? 0) + 1);
    const twice = dsts.filter((d) => counts.get(d) !== 1);
    // A number texted twice is the failure this project exists to prevent: say how, so that one occurrence is enough.
    const how = twice.length === 0 ? '' : JSON.stringify({
      reader, killedAt, diedBy,
      accepted: sim.messages().filter((m) => twice.includes(m.to)).map((m) => ({ to: m.to, request: m.requestId, atMs: Math.round(m.acceptedAtUs / 1000) })),
      attempts: await ledgerRows(ledger, `SELECT a.batch_id, a.attempt_no, a.owner, a.status, a.started_at, a.finished_at, a.api_id, a.error
        FROM attempts a WHERE a.batch_id IN (SELECT batch_id FROM recipients WHERE dst = ANY($1)) ORDER BY 1, 2`, [twice]),
      events: await ledgerRows(ledger, `SELECT kind, at, detail FROM events WHERE kind LIKE 'reconcile%' ORDER BY id`),
    });
    expect(twice.map((d) => `${d}×${counts.get(d) ?? 0}`), `numbers not texted exactly once ${how}`).toEqual([]);
  });
});
