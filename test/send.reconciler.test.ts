/**
 * The reconciler's loop (src/send/reconciler.ts) and list paging (src/send/list-pages.ts), driven directly
 * with a fake Plivo (test/helpers/fake-plivo.ts) and a clock the test moves: what a verdict may rest on.
 * The CLI end-to-end tests (e2e.*, cli.resolve) stay the outer layer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Db } from '../src/ledger/db.js';
import { recordAccepted, recordAmbiguous, type ClaimedBatch } from '../src/ledger/sending.js';
import { LedgerRetry } from '../src/send/ledger-retry.js';
import { createLimiters, type Limiters } from '../src/send/limits.js';
import { listPages } from '../src/send/list-pages.js';
import { Reconciler, type ReconcileEvent } from '../src/send/reconciler.js';
import { Stopper } from '../src/send/stopper.js';
import { claimedCampaign, recipients } from './helpers/campaigns.js';
import { deliveredNumber } from './helpers/csv.js';
import { FakePlivo, listError, TestClock } from './helpers/fake-plivo.js';
import { LEDGER_KINDS, ledgerPerDescribe } from './helpers/ledgers.js';

const SENDER = '14155550100';
let next = 0;
const numbers = (n: number) => Array.from({ length: n }, () => deliveredNumber(7000 + next++));

describe.each(LEDGER_KINDS)('reconciler (%s)', (kind) => {
  let db: Db;
  let limiters: Limiters[] = [];
  ledgerPerDescribe(kind, (opened) => { db = opened; });
  afterEach(async () => {
    await Promise.all(limiters.map((l) => l.stop()));
    limiters = [];
  });

  interface Setup {
    clock: TestClock;
    plivo: FakePlivo;
    stopper: Stopper;
    events: ReconcileEvent[];
    reconciler: Reconciler;
  }

  function setup(campaignId: number, o: { clock?: TestClock; plivo?: FakePlivo; maxFailures?: number } = {}): Setup {
    const clock = o.clock ?? new TestClock();
    const plivo = o.plivo ?? new FakePlivo(clock);
    const stopper = new Stopper();
    const events: ReconcileEvent[] = [];
    const l = createLimiters({ listPerMinute: 6000 });
    limiters.push(l);
    const reconciler = new Reconciler({
      db, client: plivo, campaignId, owner: 'test-reconciler', ledger: new LedgerRetry(60_000), limiters: l, stopper, clock,
      onEvent: (e) => {
        if (e.kind !== 'reconciling') events.push(e); // verdicts and holds only: the lookups are counted in plivo.calls
      },
      options: { requestTimeoutMs: 1000, confirmAbsentMs: 60_000, maxFailures: o.maxFailures ?? 3 },
    });
    return { clock, plivo, stopper, events, reconciler };
  }

  /** A campaign with one batch whose answer was lost. */
  async function ambiguous(dsts: string[], o: { requestTimeoutMs?: number; sender?: string } = {}): Promise<{ campaignId: number; batch: ClaimedBatch }> {
    const c = await claimedCampaign(db, dsts, { sender: SENDER, ...o });
    await recordAmbiguous(db, c.batches[0]!, 'the answer was lost (test)');
    return { campaignId: c.id, batch: c.batches[0]! };
  }

  const batchStatus = async (id: number) => (await db.query<{ status: string }>('SELECT status FROM batches WHERE id = $1', [id]))[0]!.status;
  /** Past any window the reconciler may use before it has measured the skew (5 s margin each side). */
  const PAST_WINDOW_MS = 20_000;

  it('settles a batch whose messages Plivo holds as accepted, each recipient linked to its uuid', async () => {
    const dsts = numbers(3);
    const { campaignId, batch } = await ambiguous(dsts);
    const s = setup(campaignId);
    const sent = s.plivo.queue({ src: SENDER, dst: dsts });
    s.clock.advance(PAST_WINDOW_MS);
    expect(await s.reconciler.pass()).toBe(0);
    expect(await batchStatus(batch.id)).toBe('accepted');
    const rows = await recipients(db, campaignId);
    expect(rows.map((r) => r.status)).toEqual(['submitted', 'submitted', 'submitted']);
    expect(new Set(rows.map((r) => r.message_uuid))).toEqual(new Set(sent.kind === 'accepted' ? sent.messageUuids : []));
  });

  it.each(['12345', 'ACME'])('finds the messages of sender %s (a short code, a sender ID) by filtering on it exactly', async (sender) => {
    const dsts = numbers(2);
    const { campaignId, batch } = await ambiguous(dsts, { sender });
    const s = setup(campaignId);
    s.plivo.queue({ src: sender, dst: dsts });
    s.clock.advance(PAST_WINDOW_MS);
    await s.reconciler.pass();
    expect(new URLSearchParams(s.plivo.listCalls()[0]!.query!.slice(1)).get('from_number')).toBe(sender);
    expect(await batchStatus(batch.id)).toBe('accepted');
  });

  it('looks nothing up before the window has closed', async () => {
    const { campaignId, batch } = await ambiguous(numbers(1));
    const s = setup(campaignId);
    await s.reconciler.pass();
    expect(s.plivo.listCalls()).toEqual([]);
    expect(await batchStatus(batch.id)).toBe('ambiguous');
  });

  it('gives no verdict when the run stops during a listing (Ctrl-C on page 1 of 2): no recipient goes back to pending', async () => {
    const dsts = numbers(3);
    const { campaignId, batch } = await ambiguous(dsts);
    const s = setup(campaignId);
    s.plivo.pageSize = 2;
    s.plivo.queue({ src: SENDER, dst: dsts });
    s.plivo.beforePage = (page) => {
      if (page === 1) s.stopper.stop('SIGINT');
    };
    s.clock.advance(PAST_WINDOW_MS);
    await s.reconciler.pass();
    expect(await batchStatus(batch.id)).toBe('ambiguous');
    expect((await recipients(db, campaignId)).map((r) => r.status)).toEqual(['sending', 'sending', 'sending']);
    expect(s.events).toEqual([]);
  });

  it('gives no verdict when Plivo refuses the credentials on page 2: the run stops, the batch stays held', async () => {
    const dsts = numbers(3);
    const { campaignId, batch } = await ambiguous(dsts);
    const s = setup(campaignId);
    s.plivo.pageSize = 2;
    s.plivo.queue({ src: SENDER, dst: dsts });
    s.plivo.beforePage = (page) => {
      if (page === 2) throw listError('auth', 401);
    };
    s.clock.advance(PAST_WINDOW_MS);
    await expect(s.reconciler.pass()).rejects.toThrow(/List API failed/);
    expect(await batchStatus(batch.id)).toBe('ambiguous');
    expect((await recipients(db, campaignId)).every((r) => r.status === 'sending')).toBe(true);
  });

  it('sends nothing again on one listing that misses: only a second listing, a minute or more later, proves absent', async () => {
    const dsts = numbers(2);
    const { campaignId, batch } = await ambiguous(dsts);
    const s = setup(campaignId);
    s.clock.advance(PAST_WINDOW_MS);
    await s.reconciler.pass();
    expect(await batchStatus(batch.id)).toBe('ambiguous');
    expect(s.events.map((e) => e.kind)).toEqual(['reconcile_held']);
    expect(s.plivo.listCalls()).toHaveLength(1);

    s.clock.advance(59_000);
    await s.reconciler.pass();
    expect(s.plivo.listCalls()).toHaveLength(1); // not listed again before the minute is up
    expect(await batchStatus(batch.id)).toBe('ambiguous');

    s.clock.advance(1_000);
    await s.reconciler.pass();
    expect(s.plivo.listCalls()).toHaveLength(2);
    expect(await batchStatus(batch.id)).toBe('pending');
    expect((await recipients(db, campaignId)).map((r) => r.status)).toEqual(['pending', 'pending']);
  });

  it('attributes what the second listing finds (Plivo\'s records showed the message late): nothing is sent again', async () => {
    const dsts = numbers(2);
    const { campaignId, batch } = await ambiguous(dsts);
    const s = setup(campaignId);
    const at = s.clock.now();
    s.clock.advance(PAST_WINDOW_MS);
    await s.reconciler.pass();
    expect(await batchStatus(batch.id)).toBe('ambiguous');
    s.plivo.queue({ src: SENDER, dst: dsts }, at); // the index lagged: the records appear now, with their real time
    s.clock.advance(60_000);
    await s.reconciler.pass();
    expect(await batchStatus(batch.id)).toBe('accepted');
    expect((await recipients(db, campaignId)).map((r) => r.status)).toEqual(['submitted', 'submitted']);
  });

  it("refuses to reconcile while Plivo's Date header is further from the ledger's clock than the margin", async () => {
    const dsts = numbers(1);
    const { campaignId, batch } = await ambiguous(dsts);
    const s = setup(campaignId, { maxFailures: 2 });
    s.plivo.queue({ src: SENDER, dst: dsts });
    s.plivo.skewMs = 9_000;
    s.clock.advance(PAST_WINDOW_MS + 20_000);
    await s.reconciler.pass();
    expect(await batchStatus(batch.id)).toBe('ambiguous'); // the record is there, but no window can be trusted
    await expect(s.reconciler.pass()).rejects.toThrow(/clock and the ledger's differ by up to (9|10)\.\d s .*\(NTP\)/);
    expect(await batchStatus(batch.id)).toBe('ambiguous');
  });

  it('narrows its windows to the measured skew', async () => {
    const dsts = numbers(1);
    const { campaignId } = await ambiguous(dsts);
    const s = setup(campaignId);
    s.plivo.queue({ src: SENDER, dst: dsts });
    expect(s.reconciler.skewMs).toBe(5000); // the margin, until measured
    s.clock.advance(PAST_WINDOW_MS);
    await s.reconciler.pass();
    // The Date header's whole second and the round trips, plus a second of headroom: about 2 s, not 5.
    expect(s.reconciler.skewMs).toBeLessThan(3000);
    expect(s.reconciler.skewMs).toBeGreaterThan(1000);
  });

  it('sizes the window by the request timeout the attempt ran under, stored with it', async () => {
    const { campaignId, batch } = await ambiguous(numbers(1), { requestTimeoutMs: 60_000 });
    const s = setup(campaignId); // this run's timeout is 1 s
    s.clock.advance(PAST_WINDOW_MS + 30_000);
    await s.reconciler.pass();
    expect(s.plivo.listCalls()).toEqual([]); // E + 60 s + 2·5 s has not passed
    s.clock.advance(25_000);
    await s.reconciler.pass();
    expect(s.plivo.listCalls()).toHaveLength(1);
    const [a] = await db.query<{ request_timeout_ms: number }>('SELECT request_timeout_ms FROM attempts WHERE batch_id = $1', [batch.id]);
    expect(a!.request_timeout_ms).toBe(60_000);
  });

  it("ends the window at the answer when Plivo's API itself answered (its api_id in a 5xx body), not a request timeout later", async () => {
    const dsts = numbers(1);
    const c = await claimedCampaign(db, dsts, { sender: SENDER, requestTimeoutMs: 60_000 });
    const batch = c.batches[0]!;
    const s = setup(c.id);
    const sent = s.plivo.queue({ src: SENDER, dst: dsts }); // Plivo queued it, then answered 503
    await recordAmbiguous(db, batch, 'HTTP 503 (an unexpected error occurred)', 503, 'api-503');
    const [{ ended }] = await db.query<{ ended: Date }>('SELECT finished_at AS ended FROM attempts WHERE id = $1', [batch.attemptId]) as [{ ended: Date }];
    // Someone's later message to the same number from the same sender, 20 s on: inside E + T, outside E + K.
    s.plivo.add({ from: SENDER, to: dsts[0]!, at: s.clock.now() + 20_000 });
    s.clock.advance(PAST_WINDOW_MS + 5_000); // E + 2K has passed; E + 60 s has not
    await s.reconciler.pass();
    expect(s.plivo.listCalls()).toHaveLength(1);
    const lte = Date.parse(new URLSearchParams(s.plivo.listCalls()[0]!.query!.slice(1)).get('message_time__lte')!.replace(' ', 'T') + 'Z');
    expect(lte - ended.getTime()).toBeLessThanOrEqual(5_000); // E + K, K at most the 5 s margin
    expect(await batchStatus(batch.id)).toBe('accepted');
    expect((await recipients(db, c.id))[0]!.message_uuid).toBe(sent.kind === 'accepted' ? sent.messageUuids[0] : '');
  });

  it('lists the later groups of a pass in windows narrowed by the skew its first listing measured', async () => {
    const dsts = numbers(6);
    const c = await claimedCampaign(db, dsts, { sender: SENDER, batchSize: 2 });
    const s = setup(c.id);
    // Three answered 5xx (windows end at the answer): X long ago, then A and B 8 s apart. With the 5 s margin
    // A's and B's windows touch; with the measured ~2 s they do not, and the sender's traffic between them
    // (100 messages 4 s after A) is outside both.
    const at = (b: number) => s.clock.now() - [100_000, 40_000, 32_000][b]!;
    for (const [i, batch] of c.batches.entries()) {
      await recordAmbiguous(db, batch, 'HTTP 503 (an unexpected error occurred)', 503, `api-${i}`);
      await db.query('UPDATE attempts SET started_at = $2, finished_at = $3 WHERE id = $1', [batch.attemptId, new Date(at(i)), new Date(at(i) + 200)]);
      s.plivo.queue({ src: SENDER, dst: batch.dsts }, at(i) + 100);
    }
    for (let i = 0; i < 100; i++) s.plivo.add({ from: SENDER, to: deliveredNumber(95_000 + i), at: at(1) + 4000 + i });
    await s.reconciler.pass();
    expect((await Promise.all(c.batches.map((b) => batchStatus(b.id))))).toEqual(['accepted', 'accepted', 'accepted']);
    const queries = s.plivo.listCalls().map((call) => new URLSearchParams(call.query!.slice(1)));
    // X, then A and B apart: 3 pages. Merged, A and B's window would hold 6 pages: 1 + one per number instead.
    expect(queries.map((q) => q.get('to_number'))).toEqual([null, null, null]);
  });

  it("skips the first page of a busy sender's window once an earlier listing showed how busy it is", async () => {
    const dsts = numbers(4);
    const c = await claimedCampaign(db, dsts, { sender: SENDER, batchSize: 2 });
    const s = setup(c.id);
    const at = (b: number) => s.clock.now() - [100_000, 40_000][b]!;
    for (const [i, batch] of c.batches.entries()) {
      await recordAmbiguous(db, batch, 'HTTP 503 (an unexpected error occurred)', 503, `api-${i}`);
      await db.query('UPDATE attempts SET started_at = $2, finished_at = $3 WHERE id = $1', [batch.attemptId, new Date(at(i)), new Date(at(i) + 200)]);
      s.plivo.queue({ src: SENDER, dst: batch.dsts }, at(i) + 100);
      for (let k = 0; k < 300; k++) s.plivo.add({ from: SENDER, to: deliveredNumber(96_000 + 300 * i + k), at: at(i) + 500 + k });
    }
    await s.reconciler.pass();
    expect((await Promise.all(c.batches.map((b) => batchStatus(b.id))))).toEqual(['accepted', 'accepted']);
    const numbersAsked = s.plivo.listCalls().map((call) => new URLSearchParams(call.query!.slice(1)).get('to_number'));
    // The first window's first page shows 16 pages for 2 numbers; the second window goes per number at once.
    expect(numbersAsked[0]).toBeNull();
    expect(numbersAsked.slice(1).sort()).toEqual(dsts.map((d) => `+${d}`).sort());
  });

  it("holds a record two open batches could own (same sender and number): the other campaign's message is not taken for this one's", async () => {
    const dst = numbers(1);
    const a = await ambiguous(dst); // campaign A: its answer was lost, and in fact Plivo never got it
    const b = await claimedCampaign(db, dst, { sender: SENDER }); // campaign B: in flight to the same number
    const s = setup(a.campaignId);
    const sent = s.plivo.queue({ src: SENDER, dst }); // B's message
    s.clock.advance(PAST_WINDOW_MS);
    await s.reconciler.pass();
    expect(await batchStatus(a.batch.id)).toBe('ambiguous');
    expect(s.events).toEqual([{ kind: 'reconcile_held', batchId: a.batch.id, reason: expect.stringContaining(`batch ${b.batches[0]!.id}`) }]);

    // B's answer arrives: the record is B's, so A has no message, and is sent again once that is confirmed.
    await recordAccepted(db, b.batches[0]!, { httpStatus: 202, apiId: 'b', messageUuids: sent.kind === 'accepted' ? sent.messageUuids : [], invalidNumbers: [] });
    s.clock.advance(1000);
    await s.reconciler.pass();
    s.clock.advance(60_000);
    await s.reconciler.pass();
    expect(await batchStatus(a.batch.id)).toBe('pending');
    expect((await recipients(db, b.id))[0]).toMatchObject({ status: 'submitted', message_uuid: sent.kind === 'accepted' ? sent.messageUuids[0] : '' });
  });

  it('attributes a record when the other batch that wants the number cannot own it (its window is elsewhere)', async () => {
    const dst = numbers(1);
    const a = await ambiguous(dst);
    const s = setup(a.campaignId);
    const sent = s.plivo.queue({ src: SENDER, dst });
    s.clock.advance(PAST_WINDOW_MS);
    const b = await claimedCampaign(db, dst, { sender: SENDER });
    // B's request left 30 s after the record's time: its window cannot hold it, only A's can.
    await db.query("UPDATE attempts SET started_at = started_at + interval '30 seconds' WHERE batch_id = $1", [b.batches[0]!.id]);
    await s.reconciler.pass();
    expect(await batchStatus(a.batch.id)).toBe('accepted');
    expect((await recipients(db, a.campaignId))[0]!.message_uuid).toBe(sent.kind === 'accepted' ? sent.messageUuids[0] : '');
  });

  it("lists per number when the sender's window holds more pages than the batch has numbers (a busy sender)", async () => {
    const dsts = numbers(2);
    const { campaignId, batch } = await ambiguous(dsts);
    const s = setup(campaignId);
    const at = s.clock.now();
    for (let i = 0; i < 200; i++) s.plivo.add({ from: SENDER, to: deliveredNumber(90_000 + i), at }); // others' traffic
    s.plivo.queue({ src: SENDER, dst: dsts }, at);
    s.clock.advance(PAST_WINDOW_MS);
    await s.reconciler.pass();
    expect(await batchStatus(batch.id)).toBe('accepted');
    const calls = s.plivo.listCalls().map((c) => new URLSearchParams(c.query!.slice(1)).get('to_number'));
    expect(calls).toEqual([null, `+${dsts[0]}`, `+${dsts[1]}`]); // 3 requests, not 11 pages
  });
});

describe('listPages', () => {
  it('throws, rather than returning, when the run stops before the last page', async () => {
    const clock = new TestClock();
    const plivo = new FakePlivo(clock);
    plivo.pageSize = 1;
    for (const to of numbers(3)) plivo.add({ from: SENDER, to, at: clock.now() });
    const stopper = new Stopper();
    const limiters = createLimiters({ listPerMinute: 6000 });
    const seen: number[] = [];
    try {
      const listing = listPages({ client: plivo, limiters, stopper }, { message_direction: 'outbound' }, 1, (page) => {
        seen.push(page.objects.length);
        if (seen.length === 2) stopper.stop('SIGINT');
      });
      await expect(listing).rejects.toThrow(/cut short after 2 page/);
      expect(seen).toEqual([1, 1]);
    } finally {
      await limiters.stop();
    }
  });
});
