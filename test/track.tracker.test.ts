/**
 * The tracker's loop (src/track/tracker.ts, src/track/unaccounted.ts), driven directly against the
 * simulator through a real PlivoClient whose fetch can tamper with what "Plivo" answers: a record nobody
 * can read on every List page, a 202 short of a uuid, a message Plivo forgets (404) or holds `queued` for
 * ever. Every message and every recipient must end with a known fate, and the run must end.
 * Also reconciliation against a List page holding an unreadable record, and callback times end to end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/ledger/db.js';
import { openLedger } from '../src/ledger/open.js';
import { recordAccepted, recordAmbiguous, type ClaimedBatch } from '../src/ledger/sending.js';
import { applyProviderUpdates } from '../src/ledger/tracking.js';
import { PlivoClient, type SendRequest } from '../src/plivo/client.js';
import { LedgerRetry } from '../src/send/ledger-retry.js';
import { createLimiters } from '../src/send/limits.js';
import { Reconciler } from '../src/send/reconciler.js';
import { Stopper } from '../src/send/stopper.js';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { callbackUrlFor, startReceiver } from '../src/track/receiver.js';
import type { ListSlots } from '../src/track/list-slots.js';
import { Tracker, type TrackerOptions } from '../src/track/tracker.js';
import { claimedCampaign, recipients, type ClaimedCampaign } from './helpers/campaigns.js';
import { freePort } from './helpers/cli.js';
import { deliveredNumber } from './helpers/csv.js';
import { createTestLedger, LEDGER_KINDS, type TestLedger } from './helpers/ledgers.js';
import { waitFor } from './helpers/wait.js';

type Json = Record<string, unknown>;

/** What to change in "Plivo's" answers. */
interface Tamper {
  /** A send's JSON body, before Plivo sees it. */
  send?(body: Json): Json;
  /** A 202's JSON. */
  accepted?(json: Json): Json;
  /** A record (GET or List object); null hides it: the GET answers 404, the List leaves it out. */
  record?(r: Json): Json | null;
  /** Records put on every List page. */
  listExtra?(): Json[];
}

/** Counts of the reads the client made, by uuid (GET) and by to_number (List). */
interface Reads {
  gets: Map<string, number>;
  listsTo: Map<string, number>;
  lists: number;
}

function tamperedFetch(t: Tamper, reads: Reads): typeof fetch {
  const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  return async (input, init) => {
    const url = new URL(String(input));
    let body = init?.body;
    if (init?.method === 'POST' && t.send && typeof body === 'string') body = JSON.stringify(t.send(JSON.parse(body) as Json));
    const res = await fetch(url, { ...init, body });
    const text = await res.text();
    if (init?.method === 'POST') return res.status === 202 && t.accepted ? json(202, t.accepted(JSON.parse(text) as Json)) : new Response(text, { status: res.status });
    const listing = url.pathname.endsWith('/Message/');
    if (listing) {
      reads.lists++;
      const to = url.searchParams.get('to_number')?.replace(/^\+/, '');
      if (to) reads.listsTo.set(to, (reads.listsTo.get(to) ?? 0) + 1);
    } else {
      const uuid = url.pathname.split('/').at(-2)!;
      reads.gets.set(uuid, (reads.gets.get(uuid) ?? 0) + 1);
    }
    if (res.status !== 200) return new Response(text, { status: res.status });
    const answer = JSON.parse(text) as Json;
    if (listing) {
      const objects = (answer['objects'] as Json[]).map((r) => (t.record ? t.record(r) : r)).filter((r): r is Json => r !== null);
      return json(200, { ...answer, objects: [...(t.listExtra?.() ?? []), ...objects] });
    }
    const record = t.record ? t.record(answer) : answer;
    return record ? json(200, record) : json(404, { api_id: 'a-404', error: 'not found' });
  };
}

const FOREIGN_RECORD: Json = {
  // Another application's message on the account, in a state smsrun does not know, with a time it cannot place.
  message_uuid: 'f0000000-0000-4000-8000-000000000001', message_direction: 'outbound', message_state: 'scheduled',
  message_time: '2024-08-21 18:28:49', message_type: 'sms', from_number: '18005550199', to_number: '14155559999',
  units: 1, total_rate: '0.00500', total_amount: '0.00000', error_code: null,
};

describe.each(LEDGER_KINDS)('the tracker on the %s ledger', (kind) => {
  let ledger: TestLedger;
  let db: Db;
  let sim: Simulator;
  let next = 0;
  /** Fresh numbers for each test: a List by to_number must not find another test's messages. */
  const numbers = (n: number) => Array.from({ length: n }, () => deliveredNumber(40_000 + next++));

  beforeAll(async () => {
    ledger = await createTestLedger(kind);
    db = await openLedger({ databaseUrl: ledger.databaseUrl, home: ledger.home });
    sim = await startSimulator({ mps: 1000, deliveryDelayMs: [20, 200], seed: 10, limits: { requestsPer5s: 300, concurrent: 100, listPerMinute: 600 } });
  });
  afterAll(async () => {
    await sim?.close();
    await db?.close();
    await ledger?.dispose();
  });

  function client(t: Tamper = {}): { client: PlivoClient; reads: Reads } {
    const reads: Reads = { gets: new Map(), listsTo: new Map(), lists: 0 };
    return { client: new PlivoClient({ authId: sim.authId, authToken: sim.authToken, baseUrl: sim.url, fetch: tamperedFetch(t, reads) }), reads };
  }

  /** Sends every claimed batch to the simulator and records the 202. */
  async function send(c: PlivoClient, campaign: ClaimedCampaign, extra: Partial<SendRequest> = {}): Promise<void> {
    for (const b of campaign.batches) {
      const out = await c.send({ src: b.sender, dst: b.dsts, text: 'hi', ...extra });
      if (out.kind !== 'accepted') throw new Error(`send: ${out.kind}: ${out.reason}`);
      await recordAccepted(db, b, { httpStatus: 202, apiId: out.apiId, messageUuids: out.messageUuids, invalidNumbers: out.invalidNumbers });
    }
  }

  /** Runs the tracker until every message and recipient is settled (or a generous safety deadline). */
  async function track(c: PlivoClient, campaignId: number, options: Partial<TrackerOptions> = {}, listSlots?: ListSlots): Promise<{ open: number }> {
    const stopper = new Stopper();
    const limiters = createLimiters({ listPerMinute: 600 });
    const tracker = new Tracker({
      db, client: c, campaignId, limiters, stopper, ledger: new LedgerRetry(60_000), ...(listSlots ? { listSlots } : {}),
      options: { receiptCutoffMs: 3_600_000, trackBy: 'get', callbacks: false, listPerSecond: 10, accounting: { firstLookMs: 200, confirmMs: 500, marginMs: 10_000 }, ...options },
    });
    const deadline = Date.now() + 60_000;
    try {
      return await tracker.run(() => true, () => Date.now() >= deadline);
    } finally {
      await limiters.stop();
    }
  }

  const simUuidOf = (dst: string) => sim.messages().find((m) => m.to === dst)?.uuid;

  it('a List page holding a record it cannot read (another application\'s) does not stop tracking by List', async () => {
    const dsts = numbers(30);
    const campaign = await claimedCampaign(db, dsts);
    const { client: c, reads } = client({ listExtra: () => [FOREIGN_RECORD] });
    await send(c, campaign);
    expect((await track(c, campaign.id, { trackBy: 'list' })).open).toBe(0);
    expect(reads.gets.size).toBe(0);
    expect(reads.lists).toBeGreaterThan(0);
    const via = await db.query<{ final_via: string; n: number }>(
      'SELECT final_via, count(*)::int AS n FROM messages WHERE campaign_id = $1 GROUP BY final_via', [campaign.id]);
    expect(via).toEqual([{ final_via: 'list', n: 30 }]);
    expect((await recipients(db, campaign.id)).every((r) => r.status === 'delivered' && r.message_uuid === simUuidOf(r.dst))).toBe(true);
  });

  /** Tracks 30 messages in auto mode against List slots as `freeIn` describes them; how each was read. */
  async function trackAuto(freeIn: () => number[]): Promise<{ open: number; reads: Reads; via: { final_via: string; n: number }[]; asked: number }> {
    const dsts = numbers(30);
    const campaign = await claimedCampaign(db, dsts);
    const { client: c, reads } = client();
    await send(c, campaign);
    let asked = 0;
    const slots: ListSlots = { freeIn: async () => { asked++; return freeIn(); } };
    const { open } = await track(c, campaign.id, { trackBy: 'auto' }, slots);
    const via = await db.query<{ final_via: string; n: number }>(
      'SELECT final_via, count(*)::int AS n FROM messages WHERE campaign_id = $1 GROUP BY final_via', [campaign.id]);
    return { open, reads, via, asked };
  }

  const HELD = () => Array.from({ length: 20 }, () => 50_000);

  it('auto: with the List slots free, a burst is read by List', async () => {
    const { open, reads } = await trackAuto(() => Array.from({ length: 20 }, () => 0));
    expect(open).toBe(0);
    expect(reads.lists).toBeGreaterThan(0);
  });

  it('auto: with every List slot held by another run for most of its minute, the messages are read by GET, none waits for a slot', async () => {
    const { open, reads, via } = await trackAuto(HELD);
    expect(open).toBe(0);
    expect(reads.lists).toBe(0);
    expect(via).toEqual([{ final_via: 'get', n: 30 }]);
  });

  it('auto: a window planned while slots were free, whose slots another run took before its turn, is read by GET', async () => {
    // Free when the first round plans; held from then on, so the listing, about to start, finds them taken.
    let calls = 0;
    const { open, reads, via, asked } = await trackAuto(() => (calls++ === 0 ? Array.from({ length: 20 }, () => 0) : HELD()));
    expect(open).toBe(0);
    expect(reads.lists).toBe(0);
    expect(via).toEqual([{ final_via: 'get', n: 30 }]);
    expect(asked).toBeGreaterThan(1);
  });

  it('auto, while its run still sends: a window waits for List slots that come sooner than GETs at sending time\'s share', async () => {
    // 30 due messages, the List slots free in 7 s. GETs at tracking's share once sending is over (about 29/s)
    // would take about 1 s, so they would win; while the run sends, tracking has 20 request slots (about
    // 4 GETs/s, ledger/senders.ts), 7.8 s for 30 GETs, so the listing is worth its wait. The run's sending
    // ends once "Plivo" was first asked, whichever way.
    const dsts = numbers(30);
    const campaign = await claimedCampaign(db, dsts);
    const { client: c, reads } = client();
    await send(c, campaign);
    const slots: ListSlots = { freeIn: async () => Array.from({ length: 20 }, () => 7000) };
    const stopper = new Stopper();
    const limiters = createLimiters({ listPerMinute: 600 });
    const tracker = new Tracker({
      db, client: c, campaignId: campaign.id, limiters, stopper, ledger: new LedgerRetry(60_000), listSlots: slots,
      options: { receiptCutoffMs: 3_600_000, trackBy: 'auto', callbacks: false, listPerSecond: 10, accounting: { firstLookMs: 200, confirmMs: 500, marginMs: 10_000 } },
    });
    const deadline = Date.now() + 60_000;
    try {
      const asked = () => reads.lists > 0 || reads.gets.size > 0;
      expect((await tracker.run(asked, () => Date.now() >= deadline)).open).toBe(0);
    } finally {
      await limiters.stop();
    }
    expect(reads.lists).toBeGreaterThan(0);
  });

  it('a 202 short of a uuid: the recipient left without one is found in Plivo\'s records by its number and tracked', async () => {
    const dsts = numbers(3);
    const campaign = await claimedCampaign(db, dsts);
    const { client: c, reads } = client({ accepted: (a) => ({ ...a, message_uuid: (a['message_uuid'] as string[]).slice(0, 2) }) });
    await send(c, campaign);
    expect((await track(c, campaign.id)).open).toBe(0);
    const rows = await recipients(db, campaign.id);
    expect(rows.map((r) => [r.status, r.message_uuid])).toEqual(dsts.map((d) => ['delivered', simUuidOf(d)]));
    const events = await db.query<{ kind: string; detail: Json }>('SELECT kind, detail FROM events WHERE campaign_id = $1 ORDER BY id', [campaign.id]);
    expect(events.map((e) => e.kind)).toEqual(['uuid_count_mismatch', 'unaccounted_looked_up']);
    expect(events[1]!.detail).toMatchObject({ found: 1, failed: 0, settled: true });
    expect([...reads.listsTo.keys()].every((to) => dsts.includes(to))).toBe(true);
  });

  it('a 202 short of a uuid for a number Plivo never got: failed with the reason after two looks, the others delivered', async () => {
    const dsts = numbers(3);
    const missing = dsts[2]!;
    const campaign = await claimedCampaign(db, dsts);
    const { client: c, reads } = client({ send: (b) => ({ ...b, dst: String(b['dst']).split('<').filter((d) => d !== missing).join('<') }) });
    await send(c, campaign);
    expect((await track(c, campaign.id)).open).toBe(0);
    const rows = await recipients(db, campaign.id);
    expect(rows.slice(0, 2).map((r) => [r.status, r.message_uuid])).toEqual(dsts.slice(0, 2).map((d) => ['delivered', simUuidOf(d)]));
    expect(rows[2]).toMatchObject({ status: 'failed', message_uuid: null });
    expect(rows[2]!.reason).toMatch(/^not sent as far as Plivo knows: Plivo's 202 for batch \d+ held 2 message_uuid\(s\) for 3 number\(s\)/);
    expect(reads.listsTo.get(missing)).toBeGreaterThanOrEqual(2);
    const [settled] = await db.query<{ looks: number; settled_at: Date | null }>(
      'SELECT looks, settled_at FROM unaccounted_batches WHERE batch_id = $1', [campaign.batches[0]!.id]);
    expect(settled!.looks).toBeGreaterThanOrEqual(2);
    expect(settled!.settled_at).toBeInstanceOf(Date);
  });

  it('a message Plivo does not know (404) is given up past its expiry, not asked about every 5 s for ever', async () => {
    const [dst] = numbers(1);
    const campaign = await claimedCampaign(db, [dst!], { job: { message_expiry: 5 } });
    let hidden: string | undefined;
    const { client: c, reads } = client({ record: (r) => (r['message_uuid'] === hidden ? null : r) });
    await send(c, campaign, { messageExpiry: 5 });
    hidden = simUuidOf(dst!);
    expect((await track(c, campaign.id, { giveUpMarginMs: 1000 })).open).toBe(0);
    expect(await recipients(db, campaign.id)).toEqual([{ dst, status: 'expired', message_uuid: hidden, reason: null }]);
    const [m] = await db.query<{ final_reason: string; final_via: string }>('SELECT final_reason, final_via FROM messages WHERE message_uuid = $1', [hidden]);
    expect(m!.final_via).toBe('get');
    expect(m!.final_reason).toMatch(/^given up: Plivo had no record of it \(404\) \d+s after it was sent, past its message_expiry \(5s\) and a 1s margin/);
    expect(reads.gets.get(hidden!)).toBeLessThanOrEqual(6);
  });

  it('a message Plivo forgets in a batch of two: expired unread, and its recipient settled from Plivo\'s records', async () => {
    const dsts = numbers(2);
    const campaign = await claimedCampaign(db, dsts, { job: { message_expiry: 5 } });
    let hidden: string | undefined;
    const { client: c } = client({ record: (r) => (r['message_uuid'] === hidden ? null : r) });
    await send(c, campaign, { messageExpiry: 5 });
    hidden = simUuidOf(dsts[1]!);
    expect((await track(c, campaign.id, { giveUpMarginMs: 1000 })).open).toBe(0);
    const rows = await recipients(db, campaign.id);
    expect(rows[0]).toMatchObject({ status: 'delivered', message_uuid: simUuidOf(dsts[0]!) });
    expect(rows[1]).toMatchObject({ status: 'failed', message_uuid: null });
    expect(rows[1]!.reason).toMatch(/no message of batch \d+ could be tied to this number, and its records show no message/);
    const [m] = await db.query<{ final_at: Date | null; final_reason: string }>('SELECT final_at, final_reason FROM messages WHERE message_uuid = $1', [hidden]);
    expect(m!.final_reason).toMatch(/no record of it \(404\)/);
  });

  it('a message Plivo holds queued for ever is given up past its expiry, with the reason', async () => {
    const [dst] = numbers(1);
    const campaign = await claimedCampaign(db, [dst!], { job: { message_expiry: 5 } });
    const { client: c } = client({ record: (r) => ({ ...r, message_state: 'queued', error_code: null, message_sent_time: null }) });
    await send(c, campaign, { messageExpiry: 5 });
    expect((await track(c, campaign.id, { giveUpMarginMs: 1000 })).open).toBe(0);
    const uuid = simUuidOf(dst!);
    expect(await recipients(db, campaign.id)).toEqual([{ dst, status: 'expired', message_uuid: uuid, reason: null }]);
    const [m] = await db.query<{ state: string; final_reason: string }>('SELECT state, final_reason FROM messages WHERE message_uuid = $1', [uuid]);
    expect(m!.state).toBe('queued');
    expect(m!.final_reason).toMatch(/^given up: Plivo still held it queued \d+s after it was sent, past its message_expiry \(5s\)/);
  });

  it('reconciliation reaches its verdict past a record it cannot read that is not the batch\'s, and none past one that may be', async () => {
    const ambiguousBatch = async (dsts: string[], c: PlivoClient): Promise<ClaimedBatch & { campaignId: number }> => {
      const campaign = await claimedCampaign(db, dsts);
      const b = campaign.batches[0]!;
      const out = await c.send({ src: b.sender, dst: b.dsts, text: 'hi' });
      expect(out.kind).toBe('accepted');
      await recordAmbiguous(db, b, 'the answer was lost (test)');
      return { ...b, campaignId: campaign.id };
    };
    const status = async (b: ClaimedBatch) => (await db.query<{ status: string }>('SELECT status FROM batches WHERE id = $1', [b.id]))[0]!.status;
    const reconcile = async (c: PlivoClient, campaignId: number, reads: Reads, until: () => Promise<boolean>) => {
      const stopper = new Stopper();
      const limiters = createLimiters({ listPerMinute: 600 });
      const r = new Reconciler({
        db, client: c, campaignId, owner: 'test-owner', ledger: new LedgerRetry(60_000), limiters, stopper,
        options: { requestTimeoutMs: 1, confirmAbsentMs: 0, maxFailures: 1000 },
      });
      try {
        await waitFor('a reconciliation pass that lists', async () => {
          await r.pass();
          return reads.lists > 0 && (await until());
        }, { intervalMs: 200 });
      } finally {
        await limiters.stop();
      }
    };

    const foreign = client({ listExtra: () => [{ ...FOREIGN_RECORD, from_number: '14155550100' }] }); // our sender, another number
    const b1 = await ambiguousBatch(numbers(2), foreign.client);
    await reconcile(foreign.client, b1.campaignId, foreign.reads, async () => (await status(b1)) !== 'ambiguous');
    expect(await status(b1)).toBe('accepted');

    const dsts = numbers(2);
    const ours = client({ listExtra: () => [{ ...FOREIGN_RECORD, from_number: '14155550100', to_number: dsts[1] }] });
    const b2 = await ambiguousBatch(dsts, ours.client);
    await reconcile(ours.client, b2.campaignId, ours.reads, async () => true);
    expect(await status(b2)).toBe('ambiguous');
  });
});
