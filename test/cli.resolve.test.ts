/**
 * `smsrun resolve`: the operator's escape hatch for batches reconciliation cannot settle. Through the real
 * CLI, on every available ledger, against the in-process simulator, whose record of what it accepted is the
 * truth: --resend is tested where the simulator did NOT accept the batch (so resending texts each number
 * exactly once) and --mark-sent where it DID (so nothing is sent twice). The opposite pairings are the
 * documented risks of the command, not behaviour to test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { MARKED_SENT_REASON } from '../src/ledger/resolve.js';
import { killLeftovers, runCli, startCli, simEnv } from './helpers/cli.js';
import { createTestLedger, ledgerRows, LEDGER_KINDS, type TestLedger } from './helpers/ledgers.js';
import { parseReport, usNumber, writeJob } from './helpers/csv.js';
import { waitFor } from './helpers/wait.js';

const STACK_LINE = /\n\s+at /;
// The run gives up after 3 failed look-ups of 5 tries each (with backoff), paced by the List bucket, which
// --list-per-minute 600 widens: about 25 s, plus a first PGlite initialisation on a loaded machine.
const LIST_DOWN_TIMEOUT_MS = 600_000; // a safety net: about 25 s idle, many times that on a busy machine


/** dst → messages the simulator accepted from `src`. */
function sentFrom(sim: Simulator, src: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of sim.messages()) if (m.from === src) counts[m.to] = (counts[m.to] ?? 0) + 1;
  return counts;
}

interface Row { [column: string]: unknown }

describe.each(LEDGER_KINDS)('smsrun resolve on the %s ledger', (kind) => {
  let ledger: TestLedger;
  let sim: Simulator;
  let env: Record<string, string>;

  beforeAll(async () => {
    ledger = await createTestLedger(kind);
    sim = await startSimulator({ mps: 1000, deliveryDelayMs: [5, 30], seed: 11 });
    env = { ...ledger.env, ...simEnv(sim) };
  });
  afterAll(async () => {
    killLeftovers();
    await sim?.close();
    await ledger?.dispose();
  });

  it('--resend: a batch left ambiguous because the List API failed is listed with the command, made pending, and resume texts each number once', async () => {
    const name = `resend-${kind}`;
    const src = '14155550201';
    const dsts = [usNumber(100), usNumber(101), usNumber(102)];
    const job = await writeJob({ name, src, text: 'Resend test', batch_size: 10 }, ['phone', ...dsts].join('\n'));

    // The send's connection drops before the simulator records anything (ambiguous, not accepted), and every
    // List call fails, so reconciliation cannot settle it: the run stops after 10 List failures.
    sim.setFaults({ dropBeforeAccept: 1, rate5xx: 1 });
    let run;
    try {
      run = await runCli(['run', job, '--request-timeout', '1', '--settle', '0', '--track-for', '0', '--list-per-minute', '600'], env);
    } finally {
      sim.setFaults({ dropBeforeAccept: 0, rate5xx: 0 });
    }
    expect(run.stderr).not.toMatch(STACK_LINE);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/cannot reconcile 1 batch\(es\) from 14155550201: Plivo's List API failed/);
    expect(sentFrom(sim, src)).toEqual({});

    const status = await runCli(['status', name], env);
    expect(status.code, status.stderr).toBe(0);
    const json = JSON.parse((await runCli(['status', name, '--json'], env)).stdout);
    expect(json.counts).toEqual({ sending: 3 });
    expect(json.ambiguous).toHaveLength(1);
    const batch = json.ambiguous[0].id as number;
    expect(json.ambiguous[0]).toMatchObject({ status: 'ambiguous', size: 3, sender: src });
    expect(status.stdout).toContain(`batch ${batch} from ${src}: 3 recipients, ambiguous since `);
    const last = status.stdout.trimEnd().split('\n').slice(-2);
    expect(last[0]).toMatch(new RegExp(`^ {4}smsrun resolve ${name} --batch ${batch} --resend +# `));
    expect(last[1]).toMatch(new RegExp(`^ {4}smsrun resolve ${name} --batch ${batch} --mark-sent +# `));

    const resolved = await runCli(['resolve', name, '--batch', String(batch), '--resend', '--note', 'not in the console'], env);
    expect(resolved.stderr).toBe('');
    expect(resolved.code).toBe(0);
    expect(resolved.stdout).toBe(
      `batch ${batch} (3 recipients from ${src}): marked not accepted by Plivo; its recipients are pending again and will be sent.\n` +
      `next: 'smsrun resume ${name}' sends the batches marked for resending and carries on the campaign.\n`);
    const after = await runCli(['status', name], env);
    expect(after.stdout).toMatch(/ pending +3 /);
    expect(after.stdout).not.toContain('smsrun resolve');

    // Resolved once: the batch is pending now, so a second decision is refused.
    const again = await runCli(['resolve', name, '--batch', String(batch), '--mark-sent'], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`batch ${batch} of campaign '${name}' is pending: Plivo has not accepted it, and 'smsrun resume ${name}' sends it.`);
    expect(again.stderr).not.toMatch(STACK_LINE);

    const resumed = await runCli(['resume', name, '--settle', '0', '--track-for', '20'], env);
    expect(resumed.stderr).not.toMatch(STACK_LINE);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(`campaign ${name}: done, 3 rows`);
    expect(sentFrom(sim, src)).toEqual(Object.fromEntries(dsts.map((d) => [d, 1])));

    const report = parseReport((await runCli(['export', name], env)).stdout);
    expect(report.map((r) => [r['dst'], r['status']])).toEqual(dsts.map((d) => [d, 'delivered']));

    const attempts = await ledgerRows<Row>(ledger, 'SELECT attempt_no, status, error FROM attempts WHERE batch_id = $1 ORDER BY attempt_no', [batch]);
    expect(attempts.map((a) => a['status'])).toEqual(['absent', 'accepted']);
    expect(attempts[0]!['error']).toMatch(/ \| operator: resend$/);
    const events = await ledgerRows<Row>(ledger, `SELECT detail FROM events WHERE kind = 'operator_resolved' AND detail->>'batch' = $1`, [String(batch)]);
    expect(events).toHaveLength(1);
    expect(events[0]!['detail']).toMatchObject({ batch, decision: 'resend', recipients: 3, note: 'not in the console', by: expect.stringMatching(/.@./) });
  }, LIST_DOWN_TIMEOUT_MS);

  it('--mark-sent: a batch Plivo accepted but whose answer was lost is recorded sent, never texted again, and reported with the reason', async () => {
    const name = `marksent-${kind}`;
    const src = '14155550202';
    const dsts = [usNumber(200), usNumber(201)];
    const job = await writeJob({ name, src, text: 'Mark-sent test', batch_size: 10 }, ['phone', ...dsts].join('\n'));

    // The simulator records the messages, then drops the connection: ambiguous, but accepted. A long settle
    // keeps reconciliation from looking, and Ctrl-C stops the run with the batch still ambiguous.
    sim.setFaults({ dropAfterAccept: 1 });
    const run = startCli(['run', job, '--request-timeout', '1', '--settle', '600', '--track-for', '0'], env);
    try {
      await waitFor('the ambiguous answer to be recorded', () => run.out.stderr.includes('may or may not have been accepted'));
    } finally {
      sim.setFaults({ dropAfterAccept: 0 });
    }
    run.child.kill('SIGINT');
    const stopped = await run.done;
    expect(stopped.stderr).not.toMatch(STACK_LINE);
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(sentFrom(sim, src)).toEqual(Object.fromEntries(dsts.map((d) => [d, 1])));
    // The run's own summary already ends with how to resolve it.
    expect(stopped.stdout).toMatch(new RegExp(`smsrun resolve ${name} --batch \\d+ --mark-sent +# `));

    const json = JSON.parse((await runCli(['status', name, '--json'], env)).stdout);
    expect(json.ambiguous).toMatchObject([{ status: 'ambiguous', size: 2, sender: src }]);
    const batch = json.ambiguous[0].id as number;

    const resolved = await runCli(['resolve', name, '--all', '--mark-sent'], env);
    expect(resolved.code, resolved.stderr).toBe(0);
    expect(resolved.stdout).toBe(
      `batch ${batch} (2 recipients from ${src}): marked sent; its recipients are final 'sent' with no message_uuid, so their delivery cannot be tracked.\n` +
      `next: 'smsrun resume ${name}' carries on the campaign; the recipients marked sent are not texted again.\n`);

    const resumed = await runCli(['resume', name, '--settle', '0', '--track-for', '5'], env);
    expect(resumed.stderr).not.toMatch(STACK_LINE);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(`campaign ${name}: done, 2 rows`);
    expect(resumed.stdout).toMatch(/ sent +2 /);
    expect(sentFrom(sim, src)).toEqual(Object.fromEntries(dsts.map((d) => [d, 1])));

    const report = parseReport((await runCli(['export', name], env)).stdout);
    expect(report.map((r) => [r['dst'], r['status'], r['message_uuid'], r['reason']]))
      .toEqual(dsts.map((d) => [d, 'sent', '', MARKED_SENT_REASON]));

    const [attempt] = await ledgerRows<Row>(ledger, 'SELECT status, error FROM attempts WHERE batch_id = $1 ORDER BY attempt_no DESC LIMIT 1', [batch]);
    expect(attempt).toMatchObject({ status: 'accepted', error: expect.stringMatching(/ \| operator: mark-sent$/) });
    const events = await ledgerRows<Row>(ledger, `SELECT detail FROM events WHERE kind = 'operator_resolved' AND detail->>'batch' = $1`, [String(batch)]);
    expect(events.map((e) => e['detail'])).toMatchObject([{ batch, decision: 'mark-sent', recipients: 2, note: null }]);
  });

  it('refuses a batch in flight (a run may own it), an unknown batch and contradictory flags, with exit 2 and what to do', async () => {
    const name = `inflight-${kind}`;
    const src = '14155550203';
    const job = await writeJob({ name, src, text: 'In-flight test' }, ['phone', usNumber(300)].join('\n'));

    // The simulator records the message and holds its answer; the run is killed while it waits, so the
    // batch stays in flight with nobody to finish it.
    sim.setFaults({ latencyMs: [60_000, 60_000] });
    const run = startCli(['run', job, '--request-timeout', '30', '--settle', '0', '--track-for', '0'], env);
    try {
      await waitFor('the simulator to accept the message', () => sim.messages().some((m) => m.from === src));
      run.child.kill('SIGKILL');
      await run.done;
    } finally {
      sim.setFaults({ latencyMs: [0, 0] });
    }

    const status = await runCli(['status', name, '--json'], env);
    const batch = JSON.parse(status.stdout).ambiguous[0] as { id: number; status: string };
    expect(batch.status).toBe('in_flight');
    const text = await runCli(['status', name], env);
    expect(text.stdout).toContain(`batch ${batch.id} from ${src}: 1 recipient, in flight since `);
    expect(text.stdout).not.toContain('smsrun resolve');

    const refused = await runCli(['resolve', name, '--batch', String(batch.id), '--mark-sent'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(`smsrun: batch ${batch.id} of campaign '${name}' is in flight: a run may be sending it right now and will record the answer itself. ` +
      'Wait for that run to finish, or stop it (Ctrl-C) first. If no run is going (it crashed or was killed), ' +
      `'smsrun resume ${name}' turns the batch into an ambiguous one and looks it up in Plivo's records; resolve it by hand only if that lookup cannot settle it.\n`);

    const all = await runCli(['resolve', name, '--all', '--resend'], env);
    expect(all.code).toBe(0);
    expect(all.stdout).toBe(`campaign '${name}' has no ambiguous batches: nothing to resolve.\n`);
    expect(all.stderr).toContain(`batch ${batch.id} is in flight (a run may own it): left alone.`);

    const unknown = await runCli(['resolve', name, '--batch', '999999', '--resend'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`campaign '${name}' has no batch 999999. Run 'smsrun status ${name}'`);

    const both = await runCli(['resolve', name, '--batch', String(batch.id), '--resend', '--mark-sent'], env);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('Arguments resend and mark-sent are mutually exclusive');
    const neither = await runCli(['resolve', name, '--batch', String(batch.id)], env);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain('give exactly one of --resend and --mark-sent');
    const noBatch = await runCli(['resolve', name, '--resend'], env);
    expect(noBatch.code).toBe(2);
    expect(noBatch.stderr).toContain('name the batches with --batch N');

    // Nothing was changed by any of the refusals.
    const after = JSON.parse((await runCli(['status', name, '--json'], env)).stdout);
    expect(after.counts).toEqual({ sending: 1 });
    expect(after.ambiguous).toMatchObject([{ id: batch.id, status: 'in_flight' }]);
    const events = await ledgerRows<Row>(ledger, `SELECT count(*)::int AS n FROM events e JOIN campaigns c ON c.id = e.campaign_id
      WHERE c.name = $1 AND e.kind = 'operator_resolved'`, [name]);
    expect(events[0]!['n']).toBe(0);
  });
});
