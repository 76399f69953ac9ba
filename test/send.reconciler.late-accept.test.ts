/**
 * A late acceptance: Plivo (or a starved simulator) takes a request whose client had given up, and stamps its
 * message_time later than the attempt's window allows for (E + T' + K, src/send/window.ts). The listing whose
 * miss sends the messages again must see every record stamped before it began, or the recipient is texted
 * twice. Driven directly with the fake Plivo and a clock the test moves, like test/send.reconciler.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Db } from '../src/ledger/db.js';
import { recordAmbiguous, type ClaimedBatch } from '../src/ledger/sending.js';
import { LedgerRetry } from '../src/send/ledger-retry.js';
import { createLimiters, type Limiters } from '../src/send/limits.js';
import { Reconciler, type ReconcileEvent } from '../src/send/reconciler.js';
import { Stopper } from '../src/send/stopper.js';
import { claimedCampaign, recipients } from './helpers/campaigns.js';
import { deliveredNumber } from './helpers/csv.js';
import { FakePlivo, TestClock } from './helpers/fake-plivo.js';
import { LEDGER_KINDS, ledgerPerDescribe } from './helpers/ledgers.js';

const SENDER = '14155550100';
let next = 0;
const numbers = (n: number) => Array.from({ length: n }, () => deliveredNumber(8300 + next++));
/** The margin the windows use before the skew is measured: no window of these tests reaches further past E + T'. */
const MARGIN_MS = 5000;
/** Past any window the reconciler may use before it has measured the skew. */
const PAST_WINDOW_MS = 20_000;
const CONFIRM_MS = 60_000;

describe.each(LEDGER_KINDS)('reconciler and late acceptances (%s)', (kind) => {
  let db: Db;
  let limiters: Limiters[] = [];
  ledgerPerDescribe(kind, (opened) => { db = opened; });
  afterEach(async () => {
    await Promise.all(limiters.map((l) => l.stop()));
    limiters = [];
  });

  function reconciler(campaignId: number, clock: TestClock, plivo: FakePlivo, events: ReconcileEvent[] = []): Reconciler {
    const l = createLimiters({ listPerMinute: 6000 });
    limiters.push(l);
    return new Reconciler({
      db, client: plivo, campaignId, owner: `test-reconciler-${campaignId}`, ledger: new LedgerRetry(60_000), limiters: l, stopper: new Stopper(), clock,
      onEvent: (e) => { if (e.kind !== 'reconciling') events.push(e); },
      options: { requestTimeoutMs: 1000, confirmAbsentMs: CONFIRM_MS, maxFailures: 3 },
    });
  }

  /** A campaign with one batch whose answer was lost (request timeout 1 s), and E, when it was found ambiguous. */
  async function ambiguous(dsts: string[]): Promise<{ campaignId: number; batch: ClaimedBatch; endedAt: number }> {
    const c = await claimedCampaign(db, dsts, { sender: SENDER, requestTimeoutMs: 1000 });
    await recordAmbiguous(db, c.batches[0]!, 'no answer within 1000 ms (test)');
    const [row] = await db.query<{ e: Date }>('SELECT finished_at AS e FROM attempts WHERE id = $1', [c.batches[0]!.attemptId]);
    return { campaignId: c.id, batch: c.batches[0]!, endedAt: row!.e.getTime() };
  }

  const batchStatus = async (id: number) => (await db.query<{ status: string }>('SELECT status FROM batches WHERE id = $1', [id]))[0]!.status;
  const lteOf = (plivo: FakePlivo, call: number) =>
    Date.parse(new URLSearchParams(plivo.listCalls()[call]!.query!.slice(1)).get('message_time__lte')!.replace(' ', 'T') + 'Z');

  it("finds, in the confirming listing, a message Plivo stamped after E + T' + K (accepted late): nothing is sent again", async () => {
    const dsts = numbers(2);
    const { campaignId, batch, endedAt } = await ambiguous(dsts);
    const clock = new TestClock();
    const plivo = new FakePlivo(clock);
    const r = reconciler(campaignId, clock, plivo);

    clock.advance(PAST_WINDOW_MS);
    await r.pass(); // the first listing: nothing there yet, nothing sent
    expect(await batchStatus(batch.id)).toBe('ambiguous');
    expect(lteOf(plivo, 0) - endedAt).toBeLessThanOrEqual(1000 + MARGIN_MS); // the first listing stays narrow: E + T' + K

    // Plivo takes the request only now, half a minute after the client gave up, and stamps it now.
    clock.advance(10_000);
    const late = plivo.queue({ src: SENDER, dst: dsts });
    const stamped = late.kind === 'accepted' ? plivo.records.find((m) => m.messageUuid === late.messageUuids[0])!.messageTime.getTime() : 0;
    expect(stamped - endedAt).toBeGreaterThan(1000 + MARGIN_MS); // outside every window E + T' + K

    clock.advance(CONFIRM_MS - 10_000);
    const confirmingAt = clock.now();
    await r.pass();
    expect(plivo.listCalls()).toHaveLength(2);
    expect(await batchStatus(batch.id)).toBe('accepted'); // main: 'pending', sent again (the number texted twice)
    const rows = await recipients(db, campaignId);
    expect(rows.map((x) => x.status)).toEqual(['submitted', 'submitted']);
    expect(new Set(rows.map((x) => x.message_uuid))).toEqual(new Set(late.kind === 'accepted' ? late.messageUuids : []));
    expect(lteOf(plivo, 1)).toBeGreaterThanOrEqual(confirmingAt); // up to when the confirming listing began
  });

  it('still sends again what the confirming listing misses', async () => {
    const dsts = numbers(2);
    const { campaignId, batch } = await ambiguous(dsts);
    const clock = new TestClock();
    const plivo = new FakePlivo(clock);
    const r = reconciler(campaignId, clock, plivo);
    plivo.add({ from: SENDER, to: deliveredNumber(8290), at: clock.now() + 30_000 }); // the sender's other traffic, another number
    clock.advance(PAST_WINDOW_MS);
    await r.pass();
    clock.advance(CONFIRM_MS);
    await r.pass();
    expect(await batchStatus(batch.id)).toBe('pending');
    expect((await recipients(db, campaignId)).map((x) => x.status)).toEqual(['pending', 'pending']);
  });

  it("holds a late record another open batch (same sender and number) could own, even past that batch's own window", async () => {
    // Campaigns A and B text one number from one sender; both answers were lost. A's request never reached
    // Plivo; B's was taken late, after B's window. A record carries no text: it may be A's or B's, so neither
    // batch takes it, and neither is sent again (were A to take it, B would be sent again: B texted twice).
    const dst = numbers(1);
    const a = await ambiguous(dst);
    const b = await ambiguous(dst);
    const clock = new TestClock();
    const plivo = new FakePlivo(clock);
    const events: ReconcileEvent[] = [];
    const ra = reconciler(a.campaignId, clock, plivo, events);
    const rb = reconciler(b.campaignId, clock, plivo, events);
    clock.advance(PAST_WINDOW_MS);
    await ra.pass();
    await rb.pass();
    clock.advance(10_000);
    plivo.queue({ src: SENDER, dst }); // B's request, taken late
    clock.advance(CONFIRM_MS);
    await ra.pass();
    await rb.pass();
    expect([await batchStatus(a.batch.id), await batchStatus(b.batch.id)]).toEqual(['ambiguous', 'ambiguous']);
    expect([...await recipients(db, a.campaignId), ...await recipients(db, b.campaignId)].map((x) => x.status)).toEqual(['sending', 'sending']);
    expect(events.slice(-2)).toEqual([
      { kind: 'reconcile_held', batchId: a.batch.id, reason: expect.stringContaining(`batch ${b.batch.id}`) },
      { kind: 'reconcile_held', batchId: b.batch.id, reason: expect.stringContaining(`batch ${a.batch.id}`) },
    ]);
  });
});
