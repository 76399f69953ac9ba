/**
 * Opt-outs, cancel and retry end to end: the real CLI against the simulator, on every available ledger.
 * What the simulator received is the truth: a suppressed number (listed before the run, by the job's file,
 * by an inbound STOP mid-run, or by error 200 on an earlier campaign) is never in it; a cancelled run stops
 * sending; a retry texts only the recipients it was asked for, and nobody who was reached.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { freePort, killLeftovers, runCli, simEnv, startCli } from './helpers/cli.js';
import { parseReport, usNumber, writeJob } from './helpers/csv.js';
import { createTestLedger, LEDGER_KINDS, ledgerRows, type TestLedger } from './helpers/ledgers.js';
import { waitFor } from './helpers/wait.js';
import { openLedger } from '../src/ledger/open.js';
import { addSuppressions } from '../src/ledger/suppressions.js';

const SRC = '14155550100';

function sentTo(sim: Simulator, numbers: readonly string[]): Map<string, number> {
  const wanted = new Set(numbers);
  const counts = new Map<string, number>();
  for (const m of sim.messages()) if (wanted.has(m.to)) counts.set(m.to, (counts.get(m.to) ?? 0) + 1);
  return counts;
}

function csvOf(numbers: readonly string[]): string {
  return ['phone,name', ...numbers.map((n, i) => `+${n},Customer ${i + 1}`)].join('\n') + '\n';
}

describe.each(LEDGER_KINDS)('opt-outs, cancel and retry on the %s ledger', (kind) => {
  let ledger: TestLedger;
  let sim: Simulator;
  let env: Record<string, string>;
  const optedOutAtCarrier = usNumber(201);

  beforeAll(async () => {
    ledger = await createTestLedger(kind);
    sim = await startSimulator({ mps: 2000, deliveryDelayMs: [5, 30], seed: 13, optedOut: [optedOutAtCarrier] });
    env = { ...ledger.env, ...simEnv(sim) };
  });
  afterAll(async () => {
    killLeftovers();
    await sim?.close();
    await ledger?.dispose();
  });

  it('never texts a suppressed number: listed by hand, by the job\'s suppress file, or by an inbound STOP during the run', async () => {
    const numbers = Array.from({ length: 10 }, (_, i) => usNumber(101 + i));
    const [, byHand, byFile] = numbers;
    const stopMidRun = numbers[9]!;
    const byHandMidRun = numbers[8]!; // Postgres only (another process; the embedded ledger is held by the run)
    const job = await writeJob({ name: `suppress-${kind}`, src: SRC, text: 'Hi {{name}}, our sale ends Sunday. Reply STOP to opt out', rate: 1, batch_size: 1, suppress: ['optouts.csv'] }, csvOf(numbers));
    await writeFile(path.join(path.dirname(job), 'optouts.csv'), `phone,reason\n+${byFile},complained to support\n`);
    const add = await runCli(['suppress', 'add', `+${byHand}`, '--reason', 'asked in store'], env);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/1 number\(s\) added/);

    const port = await freePort();
    const hook = `http://127.0.0.1:${port}/plivo/status`;
    const report = path.join(ledger.home, `suppress-${kind}.csv`);
    const run = startCli(['run', job, '--track-for', '20', '--settle', '0', '--callback-url', hook, '--listen', `127.0.0.1:${port}`, '--report', report], env);
    await waitFor('the first message', () => sentTo(sim, numbers).size >= 1);
    const stop = await sim.reply(`+${stopMidRun}`, ' Stop ', { url: hook });
    expect(stop, JSON.stringify(stop)).toMatchObject({ ok: true, httpStatus: 200 });
    if (kind === 'postgres') {
      // What `smsrun suppress add` does, from another process; in-process here so that it lands while the run sends.
      const db = await openLedger({ databaseUrl: ledger.databaseUrl, home: ledger.home });
      try {
        await addSuppressions(db, sim.authId, [{ number: byHandMidRun, reason: 'called support', source: 'manual' }]);
      } finally {
        await db.close();
      }
    }
    const done = await run.done;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toMatch(/suppressed: 2 recipient\(s\)/);

    const suppressed = kind === 'postgres' ? [byHand!, byFile!, stopMidRun, byHandMidRun] : [byHand!, byFile!, stopMidRun];
    const sent = sentTo(sim, numbers);
    for (const n of suppressed) expect(sent.get(n), `messages to suppressed ${n}`).toBeUndefined();
    for (const n of numbers.filter((x) => !suppressed.includes(x))) expect(sent.get(n), `messages to ${n}`).toBe(1);

    const rows = parseReport(await readFile(report, 'utf8'));
    const status = (n: string) => rows.find((r) => r['dst'] === n || r['dst'] === `'+${n}` || r['dst'] === `+${n}`)!;
    for (const n of suppressed) expect(status(n)['status'], n).toBe('suppressed');
    expect(status(byHand!)['reason']).toMatch(/manual.*asked in store/);
    expect(status(byFile!)['reason']).toMatch(/job:.*optouts\.csv.*complained to support/);
    expect(status(stopMidRun)['reason']).toMatch(/inbound.*texted 'Stop'/);
  });

  it('error 200 on one campaign suppresses the number for the next', async () => {
    const other = usNumber(202);
    const first = await writeJob({ name: `e200-a-${kind}`, src: SRC, text: 'Your order shipped', rate: 100 }, csvOf([optedOutAtCarrier, other]));
    const a = await runCli(['run', first, '--track-for', '30', '--settle', '0'], env);
    expect(a.code, a.stderr).toBe(0);
    expect(sentTo(sim, [optedOutAtCarrier]).get(optedOutAtCarrier)).toBe(1);
    const list = await runCli(['suppress', 'list'], env);
    expect(list.stdout).toMatch(new RegExp(`\\+${optedOutAtCarrier} .* error_200 .*error 200.*e200-a-${kind}`));

    const fresh = usNumber(203);
    const second = await writeJob({ name: `e200-b-${kind}`, src: SRC, text: 'Your order arrives today', rate: 100 }, csvOf([optedOutAtCarrier, fresh]));
    const b = await runCli(['run', second, '--track-for', '30', '--settle', '0'], env);
    expect(b.code, b.stderr).toBe(0);
    expect(sentTo(sim, [optedOutAtCarrier]).get(optedOutAtCarrier)).toBe(1); // not a second time
    expect(sentTo(sim, [fresh]).get(fresh)).toBe(1);
    const [row] = await ledgerRows<{ status: string }>(ledger,
      `SELECT r.status FROM recipients r JOIN campaigns c ON c.id = r.campaign_id WHERE c.name = $1 AND r.dst = $2`, [`e200-b-${kind}`, optedOutAtCarrier]);
    expect(row?.status).toBe('suppressed');
  });

  it('an inbound STOP to smsrun webhook suppresses the sender, START lifts it; an unsigned one is refused', async () => {
    const stays = usNumber(301);
    const lifted = usNumber(302);
    const port = await freePort();
    const hook = `http://127.0.0.1:${port}/plivo/inbound`;
    const webhook = startCli(['webhook', '--callback-url', hook, '--listen', `127.0.0.1:${port}`], env);
    await waitFor('the webhook to listen', () => webhook.out.stdout.includes('Ctrl-C to stop'));
    expect(webhook.out.stdout).toMatch(/STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT add the sender/);
    expect(await sim.reply(`+${stays}`, 'STOP', { url: hook, to: SRC })).toMatchObject({ httpStatus: 200 });
    expect(await sim.reply(`+${lifted}`, 'unsubscribe', { url: hook, to: SRC })).toMatchObject({ httpStatus: 200 });
    expect(await sim.reply(`+${lifted}`, 'START', { url: hook, to: SRC })).toMatchObject({ httpStatus: 200 });
    expect(await sim.reply(`+${stays}`, 'Is the store open on Sunday?', { url: hook, to: SRC })).toMatchObject({ httpStatus: 200 });
    const forged = await fetch(hook, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `From=${lifted}&To=${SRC}&Text=STOP&Type=sms` });
    expect(forged.status).toBe(403);
    webhook.child.kill('SIGINT');
    expect((await webhook.done).code).toBe(0);

    const exported = path.join(ledger.home, `suppressions-${kind}.csv`);
    const out = await runCli(['suppress', 'export', '--out', exported], env);
    expect(out.code, out.stderr).toBe(0);
    const rows = parseReport(await readFile(exported, 'utf8'));
    expect(rows.find((r) => r['number'] === `+${stays}`)).toMatchObject({ source: 'inbound' });
    expect(rows.find((r) => r['number'] === `+${lifted}`)).toBeUndefined();

    const job = await writeJob({ name: `inbound-${kind}`, src: SRC, text: 'New arrivals this week', rate: 100 }, csvOf([stays, lifted]));
    const before = sentTo(sim, [stays, lifted]);
    const run = await runCli(['run', job, '--track-for', '20', '--settle', '0'], env);
    expect(run.code, run.stderr).toBe(0);
    const after = sentTo(sim, [stays, lifted]);
    expect(after.get(stays) ?? 0).toBe(before.get(stays) ?? 0);
    expect(after.get(lifted)).toBe((before.get(lifted) ?? 0) + 1);
  });

  it('cancel during a run: it stops with exit 3, the rest is cancelled and never sent; a retry of the cancelled texts only them', async () => {
    // Enough rows that `smsrun cancel`, a process of its own, lands mid-run on a busy machine.
    const numbers = Array.from({ length: 30 }, (_, i) => usNumber(401 + i));
    const name = `cancel-${kind}`;
    const job = await writeJob({ name, src: SRC, text: 'Flash sale: 20% off today only', rate: 2, batch_size: 1 }, csvOf(numbers));
    const run = startCli(['run', job, '--track-for', '10', '--settle', '0'], env);
    await waitFor('two messages', () => sentTo(sim, numbers).size >= 2);
    const cancel = await runCli(['cancel', name], env);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(/cancelled: campaign/);
    const done = await run.done;
    expect(done.code, done.stderr).toBe(3);
    expect(done.stderr).toMatch(/cancelled: the campaign was cancelled/);

    const sentBefore = sentTo(sim, numbers);
    expect(sentBefore.size).toBeLessThan(numbers.length);
    const rows = await ledgerRows<{ dst: string; status: string }>(ledger,
      `SELECT r.dst, r.status FROM recipients r JOIN campaigns c ON c.id = r.campaign_id WHERE c.name = $1 ORDER BY r.row_no`, [name]);
    const cancelled = rows.filter((r) => r.status === 'cancelled').map((r) => r.dst);
    expect(cancelled.length).toBe(numbers.length - sentBefore.size);
    for (const n of cancelled) expect(sentBefore.has(n), `cancelled ${n} was sent`).toBe(false);
    expect(rows.filter((r) => r.status === 'pending')).toEqual([]);

    const again = await runCli(['run', job, '--track-for', '5', '--settle', '0'], env);
    expect(again.code).toBe(3);
    expect(again.stdout).toMatch(/was cancelled/);
    expect(sentTo(sim, numbers)).toEqual(sentBefore);

    const retry = await runCli(['retry', name, '--only', 'cancelled'], env);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout).toContain(`created campaign '${name}-retry1' from '${name}': ${cancelled.length} cancelled`);
    const resumed = await runCli(['resume', `${name}-retry1`, '--track-for', '20', '--settle', '0'], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    const sentAfter = sentTo(sim, numbers);
    for (const n of numbers) expect(sentAfter.get(n), n).toBe(1);
  });

  it('retry sends only the failed and undelivered recipients; nobody delivered is texted again', async () => {
    const delivered = [usNumber(501), usNumber(502), usNumber(503)];
    const failed = usNumber(598); // the simulator fails …98 (error 90)
    const undelivered = usNumber(597); // and leaves …97 undelivered (error 80)
    const name = `retry-${kind}`;
    const job = await writeJob({ name, src: SRC, text: 'Your appointment is tomorrow at 10', rate: 100 },
      csvOf([delivered[0]!, failed, delivered[1]!, undelivered, delivered[2]!]));
    const run = await runCli(['run', job, '--track-for', '30', '--settle', '0'], env);
    expect(run.code, run.stderr).toBe(0);
    const refused = await runCli(['retry', name, '--only', 'delivered'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--only delivered: cannot retry it/);

    const retry = await runCli(['retry', name], env);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout).toMatch(/created campaign 'retry-.*-retry1'.*1 failed.*1 undelivered|1 undelivered.*1 failed/);
    const resumed = await runCli(['resume', `${name}-retry1`, '--track-for', '30', '--settle', '0'], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    const sent = sentTo(sim, [...delivered, failed, undelivered]);
    for (const n of delivered) expect(sent.get(n), n).toBe(1);
    expect(sent.get(failed)).toBe(2);
    expect(sent.get(undelivered)).toBe(2);
    const [link] = await ledgerRows<{ original: string }>(ledger,
      `SELECT o.name AS original FROM campaigns c JOIN campaigns o ON o.id = c.retry_of WHERE c.name = $1`, [`${name}-retry1`]);
    expect(link?.original).toBe(name);
  });
});
