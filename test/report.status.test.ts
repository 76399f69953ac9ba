/**
 * `smsrun status`: the summary as text (delivery rate, units, sending time against the fastest the rates
 * allow, error codes; never an empty pair of parentheses), and `status --watch`, which refreshes it during a
 * run (on Postgres, where another process can read the ledger while a run holds it) and stops once the
 * campaign is done (tried on a finished embedded campaign too).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/ledger/db.js';
import { findCampaign } from '../src/ledger/campaigns.js';
import { finalizeLoad, insertCampaign, insertRecipients } from '../src/ledger/load.js';
import { openLedger } from '../src/ledger/open.js';
import { claimNext } from './helpers/campaigns.js';
import { formatSummary, summarize } from '../src/report/summary.js';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { killLeftovers, runCli, simEnv, startCli } from './helpers/cli.js';
import { createTestLedger, ledgerRows, LEDGER_KINDS, type TestLedger, ledgerPerDescribe } from './helpers/ledgers.js';
import { deliveredNumber, writeJob } from './helpers/csv.js';
import { waitFor } from './helpers/wait.js';

const SENDER = '14155550140';
const EMPTY_PARENS = /\(\s*\)/;

describe.each(LEDGER_KINDS)('the status text on the %s ledger', (kind) => {
  let db: Db;

  ledgerPerDescribe(kind, (opened) => { db = opened; });

  it('never prints empty parentheses: an ambiguous batch without an error says so without them', async () => {
    const campaignId = await db.transaction(async (tx) => {
      const id = await insertCampaign(tx, { name: 'parens', job: { name: 'parens', rate: 1 }, jobFile: 'job.json', csvFile: 'r.csv', csvSha256: '-', contentHash: '-', senders: [SENDER] });
      await insertRecipients(tx, id, [1, 2].map((i) => ({ rowNo: i, lineNo: i + 1, rawDst: `1415555020${i}`, dst: `1415555020${i}`, text: `hi ${i}`, units: 1, status: 'pending' as const, reason: null, country: null, numberType: null })));
      await finalizeLoad(tx, id, [SENDER], 10, ['phone']);
      return id;
    });
    for (let i = 0; i < 2; i++) await claimNext(db, campaignId, { owner: 'status-test' });
    // One batch ambiguous with no error recorded (an adopted orphan, a batch resolved by hand...), one in flight.
    await db.query(`UPDATE batches SET status = 'ambiguous', last_error = NULL WHERE id = (SELECT min(id) FROM batches WHERE campaign_id = $1)`, [campaignId]);
    const text = formatSummary(await summarize(db, (await findCampaign(db, 'parens'))!));
    expect(text).not.toMatch(EMPTY_PARENS);
    expect(text).toMatch(/batch \d+ from 14155550140: 1 recipient, ambiguous since \S+Z\n/);
    expect(text).toMatch(/batch \d+ from 14155550140: 1 recipient, in flight since \S+Z\n/);
    expect(text.split('\n').filter((l) => l !== l.trimEnd())).toEqual([]);
  });
});

describe('status and status --watch on a campaign sent to the simulator', () => {
  const kinds = LEDGER_KINDS;
  const ledgers = new Map<string, TestLedger>();
  let sim: Simulator;

  beforeAll(async () => {
    sim = await startSimulator({ mps: 1000, deliveryDelayMs: [50, 400], seed: 4 });
    for (const kind of kinds) ledgers.set(kind, await createTestLedger(kind));
  });
  afterAll(async () => {
    killLeftovers();
    await sim?.close();
    for (const l of ledgers.values()) await l.dispose();
  });

  async function job(name: string, rate: number): Promise<string> {
    const rows = ['phone', ...Array.from({ length: 24 }, (_, i) => deliveredNumber(300 + i)), '14155551197', '14155551298', 'nope'];
    return writeJob({ name, src: SENDER, text: 'Your parcel is on its way', rate, batch_size: 4 }, rows.join('\n') + '\n');
  }

  it.runIf(kinds.includes('postgres'))('--watch refreshes the summary while a run sends on Postgres, and stops when the campaign is done', async () => {
    const ledger = ledgers.get('postgres')!;
    const env = { ...ledger.env, ...simEnv(sim) };
    const run = startCli(['run', await job('watched', 4), '--track-for', '20', '--settle', '0'], env);
    await waitFor('the campaign to be loaded', () => run.out.stderr.includes('loaded 27 rows'));
    const watch = startCli(['status', 'watched', '--watch', '--interval', '0.2', '--json'], ledger.env);
    const [ran, watched] = await Promise.all([run.done, watch.done]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(watched.code, watched.stderr).toBe(0);
    const refreshes = watched.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { state: string; counts: Record<string, number>; delivery: { delivered: number } });
    // At least the first refresh, while the run sends, and the last, once it is done: how many come between
    // depends on how fast the machine starts the watcher (it had only these two at load 18)
    expect(refreshes.length).toBeGreaterThanOrEqual(2);
    expect(refreshes[0]!.state).not.toBe('done');
    expect(refreshes[0]!.delivery.delivered).toBeLessThan(24);
    // Figures only move forward, and the last refresh is the finished campaign as the ledger holds it.
    for (let i = 1; i < refreshes.length; i++) expect(refreshes[i]!.delivery.delivered).toBeGreaterThanOrEqual(refreshes[i - 1]!.delivery.delivered);
    const last = refreshes.at(-1)!;
    expect(last.state).toBe('done');
    const counts = await ledgerRows<{ status: string; count: number }>(ledger,
      `SELECT status, count(*)::int AS count FROM recipients r JOIN campaigns c ON c.id = r.campaign_id WHERE c.name = 'watched' GROUP BY 1`);
    expect(last.counts).toEqual(Object.fromEntries(counts.map((c) => [c.status, c.count])));
    expect(last.counts).toMatchObject({ delivered: 24, undelivered: 1, failed: 1, invalid: 1 });
  });

  it.each(kinds)('on a finished campaign (%s): the text summary, and --watch prints it once and exits', async (kind) => {
    const ledger = ledgers.get(kind)!;
    const env = { ...ledger.env, ...simEnv(sim) };
    const run = await runCli(['run', await job('finished', 500), '--track-for', '20', '--settle', '0'], env);
    expect(run.code, run.stderr).toBe(0);
    const status = await runCli(['status', 'finished'], ledger.env);
    expect(status.code, status.stderr).toBe(0);
    const text = status.stdout;
    expect(text).toMatch(/^campaign finished: done, 27 rows\n/);
    expect(text).toMatch(/\n {2}delivery rate: 92\.3% of the 26 messages Plivo accepted\n/);
    expect(text).toMatch(/\n {2}cost so far: \$0\.12500 for 26 units\n/);
    expect(text).toMatch(/\n {2}sending took \S+, first request to last acceptance; the job's rates allow \S+ at best\n/);
    expect(text).toMatch(/\n {2}error codes:\n {6}80 {8}1 {2}undelivered: the phone was off or out of coverage; sending again later may work\n {6}90 {8}1 {2}failed: Plivo has no carrier route to this destination\n/);
    expect(text).not.toMatch(EMPTY_PARENS);
    const all = await runCli(['status'], ledger.env);
    expect(all.stdout).not.toMatch(EMPTY_PARENS);

    const watch = await runCli(['status', 'finished', '--watch'], ledger.env);
    expect(watch.code, watch.stderr).toBe(0);
    expect(watch.stdout).toMatch(/^-- \d{4}-\d\d-\d\dT\S+Z\n/);
    expect(watch.stdout.replace(/^-- .*\n/, '')).toBe(text);
  });
});
