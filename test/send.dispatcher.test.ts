/**
 * The dispatcher (src/send/dispatcher.ts) driven directly against a ledger and a fake Plivo
 * (test/helpers/fake-plivo.ts): what each kind of answer does to a batch, and that a stop in the middle of a
 * request leaves the ledger consistent. Ambiguous batches are settled by the real Reconciler on a clock the
 * test moves (the only way such a batch may be sent again). The CLI end-to-end tests stay the outer layer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { validateJob, type Job } from '../src/campaign/job.js';
import type { Db } from '../src/ledger/db.js';
import { prepareBudgets } from '../src/ledger/senders.js';
import type { SendOutcome, SendRequest } from '../src/plivo/client.js';
import { Dispatcher, type SendEvent } from '../src/send/dispatcher.js';
import { TIMER_SLACK_MS } from '../src/send/departures.js';
import { LedgerRetry } from '../src/send/ledger-retry.js';
import { createLimiters, type Limiters } from '../src/send/limits.js';
import { Reconciler } from '../src/send/reconciler.js';
import { Stopper } from '../src/send/stopper.js';
import { loadedCampaign, recipients, TEST_ACCOUNT } from './helpers/campaigns.js';
import { deliveredNumber } from './helpers/csv.js';
import { FakePlivo, TestClock } from './helpers/fake-plivo.js';
import { LEDGER_KINDS, ledgerPerDescribe } from './helpers/ledgers.js';
import { waitFor } from './helpers/wait.js';

const SENDER = '14155550100';
let next = 0;
const numbers = (n: number) => Array.from({ length: n }, () => deliveredNumber(8000 + next++));

/** What the fake received: each send's numbers, and when (real time: the dispatcher's waits are real). */
interface Sent {
  dst: string[];
  at: number;
}

describe.each(LEDGER_KINDS)('dispatcher (%s)', (kind) => {
  let db: Db;
  let limiters: Limiters[] = [];
  ledgerPerDescribe(kind, (opened) => { db = opened; });
  afterEach(async () => {
    await Promise.all(limiters.map((l) => l.stop()));
    limiters = [];
  });

  interface Setup {
    campaignId: number;
    plivo: FakePlivo;
    clock: TestClock;
    stopper: Stopper;
    sent: Sent[];
    events: SendEvent[];
    dispatcher: Dispatcher;
    limiters: Limiters;
  }

  /**
   * A campaign of `dsts` in batches of `batchSize` from one sender, and a dispatcher for it whose sends the fake
   * answers with `answer` (the n-th send, 0-based; by default every number is queued and 202 answered).
   */
  async function setup(dsts: string[], o: { batchSize: number; rate?: number; answer?: (req: SendRequest, n: number) => SendOutcome | Promise<SendOutcome> }): Promise<Setup> {
    const rate = o.rate ?? 1000;
    const { id: campaignId } = await loadedCampaign(db, dsts, { senders: [SENDER], batchSize: o.batchSize, job: { rate } });
    // The number's budget lives in the ledger (sql/014): prepared as a run prepares it.
    await prepareBudgets(db, TEST_ACCOUNT, campaignId, 6000);
    const clock = new TestClock();
    const plivo = new FakePlivo(clock);
    const sent: Sent[] = [];
    plivo.onSend = (req) => {
      sent.push({ dst: [...req.dst], at: Date.now() });
      return o.answer ? o.answer(req, sent.length - 1) : plivo.queue(req);
    };
    const job: Job = validateJob({ name: 'dispatch', recipients: 'r.csv', src: SENDER, text: 'hi', rate, batch_size: o.batchSize }, '/nonexistent/job.json');
    const l = createLimiters({ listPerMinute: 6000 });
    limiters.push(l);
    const stopper = new Stopper();
    const events: SendEvent[] = [];
    const dispatcher = new Dispatcher({
      db, client: plivo, job, campaignId, account: TEST_ACCOUNT, owner: `test-dispatcher-${campaignId}`, stopper, ledger: new LedgerRetry(60_000),
      onEvent: (e) => events.push(e),
      options: { leaseMs: 60_000, maxAttempts: 3, retryBaseMs: 50, requestTimeoutMs: 1000 },
    });
    return { campaignId, plivo, clock, stopper, sent, events, dispatcher, limiters: l };
  }

  const batches = (campaignId: number) => db.query<{ id: number; status: string }>(
    'SELECT id, status FROM batches WHERE campaign_id = $1 ORDER BY id', [campaignId]);
  const attempts = (batchId: number) => db.query<{ status: string; http_status: number | null; message_uuids: string[] | null; finished_at: Date | null }>(
    'SELECT status, http_status, message_uuids, finished_at FROM attempts WHERE batch_id = $1 ORDER BY attempt_no', [batchId]);

  /**
   * What must hold between a batch and its recipients and attempts whenever no request is in flight: anything
   * else would make a later run send twice or never. Returns the rows that break it (none when consistent).
   */
  async function inconsistencies(campaignId: number): Promise<string[]> {
    const rows = await db.query<{ id: number; batch: string; recipient: string; n: number }>(
      `SELECT b.id, b.status AS batch, r.status AS recipient, count(*)::int AS n
       FROM batches b JOIN recipients r ON r.batch_id = b.id WHERE b.campaign_id = $1 GROUP BY 1, 2, 3 ORDER BY 1`, [campaignId]);
    const allowed: Record<string, string[]> = {
      pending: ['pending'], ambiguous: ['sending'], accepted: ['submitted', 'rejected'], failed: ['failed'],
    };
    const bad = rows.filter((r) => !(allowed[r.batch] ?? []).includes(r.recipient)).map((r) => `batch ${r.id} ${r.batch} has ${r.n} ${r.recipient}`);
    const open = await db.query<{ batch_id: number }>(
      `SELECT a.batch_id FROM attempts a JOIN batches b ON b.id = a.batch_id WHERE b.campaign_id = $1 AND (a.status = 'in_flight' OR a.finished_at IS NULL)`, [campaignId]);
    return [...bad, ...open.map((a) => `batch ${a.batch_id} has an attempt still in flight`)];
  }

  it('records an accepted batch with the uuids Plivo answered, each message linked to its batch', async () => {
    const s = await setup(numbers(4), { batchSize: 2 });
    await s.dispatcher.run();
    const [a, b] = await batches(s.campaignId);
    expect([a!.status, b!.status]).toEqual(['accepted', 'accepted']);
    const uuids = s.plivo.records.map((r) => r.messageUuid);
    const recorded = [...(await attempts(a!.id)), ...(await attempts(b!.id))];
    expect(recorded.map((x) => x.status)).toEqual(['accepted', 'accepted']);
    expect(recorded.flatMap((x) => x.message_uuids ?? []).sort()).toEqual([...uuids].sort());
    const messages = await db.query<{ message_uuid: string }>('SELECT message_uuid FROM messages WHERE campaign_id = $1', [s.campaignId]);
    expect(messages.map((m) => m.message_uuid).sort()).toEqual([...uuids].sort());
    expect((await recipients(db, s.campaignId)).map((r) => r.status)).toEqual(['submitted', 'submitted', 'submitted', 'submitted']);
    expect(s.sent).toHaveLength(2);
    expect(await inconsistencies(s.campaignId)).toEqual([]);
  });

  it('waits out a 429 (its Retry-After) and sends the batch again', async () => {
    const s = await setup(numbers(2), { batchSize: 2, answer: (req, n) =>
      n === 0 ? { kind: 'throttled', status: 429, reason: 'too many requests', retryAfterMs: 300 } : s.plivo.queue(req) });
    await s.dispatcher.run();
    expect(s.sent).toHaveLength(2);
    expect(s.sent[1]!.dst).toEqual(s.sent[0]!.dst);
    expect(s.sent[1]!.at - s.sent[0]!.at).toBeGreaterThanOrEqual(300); // a lower bound: load only makes it later
    const [batch] = await batches(s.campaignId);
    expect(batch!.status).toBe('accepted');
    expect((await attempts(batch!.id)).map((a) => [a.status, a.http_status])).toEqual([['failed_retryable', 429], ['accepted', 202]]);
    expect(s.events.filter((e) => e.kind === 'retry')).toEqual([expect.objectContaining({ delayMs: 300 })]);
    expect(await inconsistencies(s.campaignId)).toEqual([]);
  });

  it('fails a batch Plivo refuses (400) without sending it again, and goes on with the others', async () => {
    const s = await setup(numbers(4), { batchSize: 2, answer: (req, n) =>
      n === 0 ? { kind: 'permanent', status: 400, reason: "'src' is not a valid source number." } : s.plivo.queue(req) });
    await s.dispatcher.run();
    expect(s.sent).toHaveLength(2); // the refused batch once, the other once
    const [refused, other] = await batches(s.campaignId);
    expect([refused!.status, other!.status]).toEqual(['failed', 'accepted']);
    expect((await attempts(refused!.id)).map((a) => [a.status, a.http_status])).toEqual([['failed_permanent', 400]]);
    const rows = await recipients(db, s.campaignId);
    expect(rows.slice(0, 2)).toEqual([
      expect.objectContaining({ status: 'failed', reason: expect.stringContaining('HTTP 400') }),
      expect.objectContaining({ status: 'failed', reason: expect.stringContaining('HTTP 400') }),
    ]);
    expect(await inconsistencies(s.campaignId)).toEqual([]);
  });

  it('leaves an ambiguous answer (5xx after Plivo queued it, a dropped connection) to reconciliation, never sending it again directly', async () => {
    const dsts = numbers(6);
    const s = await setup(dsts, { batchSize: 2, answer: (req, n) => {
      if (n === 0) { // Plivo queued it, then failed to answer
        s.plivo.queue(req);
        return { kind: 'ambiguous', status: 503, reason: "HTTP 503 (an unexpected error occurred): no Plivo document says a 5xx means nothing was queued" };
      }
      if (n === 1) return { kind: 'ambiguous', reason: 'ECONNRESET: the message(s) may have been queued' }; // it never got there
      return s.plivo.queue(req);
    } });
    const running = s.dispatcher.run();
    const [fiveXx, dropped] = await batches(s.campaignId);
    await waitFor('both answers to be recorded ambiguous (or a batch sent again: a failure)', async () =>
      s.sent.length > 3 || (await batches(s.campaignId)).filter((b) => b.status === 'ambiguous').length === 2);
    expect(s.sent.length).toBeLessThanOrEqual(3);
    // The sender's loop goes round while they are unsettled; it never picks them up again.
    await waitFor('the third batch to be sent', () => s.sent.length >= 3);
    await waitFor('the third batch to be recorded', async () => (await batches(s.campaignId))[2]!.status === 'accepted');
    const counted = countQueries(db);
    await waitFor('the dispatcher to go round its loops a few more times', () => counted.n >= 20);
    counted.stop();
    expect(s.sent).toHaveLength(3);
    expect(await inconsistencies(s.campaignId)).toEqual([]);
    expect((await attempts(fiveXx!.id)).map((a) => [a.status, a.http_status])).toEqual([['ambiguous', 503]]);
    expect((await attempts(dropped!.id)).map((a) => [a.status, a.http_status])).toEqual([['ambiguous', null]]);

    // Reconciliation (a clock moved past the windows, and a minute on for the second listing) settles them:
    // the 5xx batch is found at Plivo, the dropped one is missing twice and only then sent again.
    const reconciler = new Reconciler({
      db, client: s.plivo, campaignId: s.campaignId, owner: 'test-reconciler', ledger: new LedgerRetry(60_000), limiters: s.limiters,
      stopper: s.stopper, clock: s.clock, options: { requestTimeoutMs: 1000, confirmAbsentMs: 60_000, maxFailures: 3 },
    });
    s.clock.advance(20_000);
    await reconciler.pass();
    s.clock.advance(60_000);
    await reconciler.pass();
    await running;
    expect(s.sent.map((x) => [...x.dst].sort())).toEqual([dsts.slice(0, 2), dsts.slice(2, 4), dsts.slice(4, 6), dsts.slice(2, 4)]);
    expect((await batches(s.campaignId)).map((b) => b.status)).toEqual(['accepted', 'accepted', 'accepted']);
    expect((await attempts(dropped!.id)).map((a) => a.status)).toEqual(['absent', 'accepted']);
    // Each number is at Plivo once.
    expect(s.plivo.records.map((r) => r.toNumber).sort()).toEqual([...dsts].sort());
    expect(await inconsistencies(s.campaignId)).toEqual([]);
  });

  it.each([
    ['accepted', (p: FakePlivo, req: SendRequest): SendOutcome => p.queue(req), 'accepted'],
    ['cut off', (): SendOutcome => ({ kind: 'ambiguous', reason: 'UND_ERR_SOCKET: the message(s) may have been queued' }), 'ambiguous'],
  ] as const)('a stop while a request is in flight (answer %s): the answer is recorded, nothing more is claimed, the ledger is consistent', async (_, answer, expected) => {
    let release!: () => void;
    const answered = new Promise<void>((resolve) => { release = resolve; });
    // 2 numbers a second with batches of 2: the second batch's tokens are a second away when the stop comes.
    const s = await setup(numbers(6), { batchSize: 2, rate: 2, answer: async (req, n) => {
      if (n === 0) await answered;
      return answer(s.plivo, req);
    } });
    const running = s.dispatcher.run();
    await waitFor('the first request to reach Plivo', () => s.sent.length === 1);
    s.stopper.stop('SIGINT');
    release();
    await running;
    expect(s.sent).toHaveLength(1);
    const [first, ...rest] = await batches(s.campaignId);
    expect(first!.status).toBe(expected);
    expect((await attempts(first!.id)).map((a) => a.status)).toEqual([expected]);
    for (const b of rest) {
      expect(b.status).toBe('pending');
      expect(await attempts(b.id)).toEqual([]); // never claimed
    }
    expect(await inconsistencies(s.campaignId)).toEqual([]);
  });
  it('keeps a number with one process: a process whose requests leave late never bunches them with another\'s on time', async () => {
    // Two processes (dispatchers with a pacing each) on one campaign from one number at 5/s. B's requests are held
    // 120 ms between their slot and Plivo, as on a loaded machine; A's leave on time. Had the number's slots gone
    // to both, B's late request and A's next one would arrive 80 ms apart (docs/decisions.md, "Issue 11: two
    // processes on one number, measured"). The number stays with whichever claims it first, whose own gate spaces
    // its requests by when they actually left.
    const s = await setup(numbers(12), { batchSize: 1, rate: 5 });
    const late = { send: async (req: SendRequest) => {
      await new Promise((resolve) => setTimeout(resolve, 120)); // a stalled process: what this test is about
      return s.plivo.send(req);
    } };
    const b = new Dispatcher({
      db, client: late, job: validateJob({ name: 'dispatch', recipients: 'r.csv', src: SENDER, text: 'hi', rate: 5, batch_size: 1 }, '/nonexistent/job.json'),
      campaignId: s.campaignId, account: TEST_ACCOUNT, owner: `test-dispatcher-b-${s.campaignId}`, stopper: s.stopper, ledger: new LedgerRetry(60_000),
      options: { leaseMs: 60_000, maxAttempts: 3, retryBaseMs: 50, requestTimeoutMs: 1000 },
    });
    await Promise.all([s.dispatcher.run(), b.run()]);
    expect(s.sent).toHaveLength(12);
    const gaps = s.sent.slice(1).map((x, i) => x.at - s.sent[i]!.at);
    expect(Math.min(...gaps), JSON.stringify(gaps)).toBeGreaterThanOrEqual(200 - TIMER_SLACK_MS - 1); // a lower bound: load only adds
  });
});

/** Counts the ledger queries made from now on (through `db.query` and transactions), until stopped. */
function countQueries(db: Db): { readonly n: number; stop(): void } {
  const query = db.query.bind(db);
  const transaction = db.transaction.bind(db);
  const counter = { n: 0 };
  db.query = ((...args: Parameters<Db['query']>) => {
    counter.n++;
    return query(...args);
  }) as Db['query'];
  db.transaction = ((...args: Parameters<Db['transaction']>) => {
    counter.n++;
    return transaction(...args);
  }) as Db['transaction'];
  return {
    get n() { return counter.n; },
    stop() {
      db.query = query;
      db.transaction = transaction;
    },
  };
}
