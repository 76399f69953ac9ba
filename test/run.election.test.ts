/**
 * The election of one reconciler and one tracker per campaign (src/ledger/roles.ts, src/run/election.ts):
 * contenders in this process, each on a connection of its own as separate processes would be, and a
 * reconciler without its role. The CLI side (two `smsrun run`, one killed) is in e2e.election.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Db } from '../src/ledger/db.js';
import { recordAccepted, recordAmbiguous } from '../src/ledger/sending.js';
import { PlivoClient } from '../src/plivo/client.js';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { Tracker } from '../src/track/tracker.js';
import { Election, type RoleEvent } from '../src/run/election.js';
import { LedgerRetry } from '../src/send/ledger-retry.js';
import { createLimiters, type Limiters } from '../src/send/limits.js';
import { Reconciler } from '../src/send/reconciler.js';
import { Stopper } from '../src/send/stopper.js';
import { claimedCampaign } from './helpers/campaigns.js';
import { deliveredNumber } from './helpers/csv.js';
import { FakePlivo, TestClock } from './helpers/fake-plivo.js';
import { LEDGER_KINDS, ledgerPerDescribe, type TestLedger } from './helpers/ledgers.js';
import { waitFor } from './helpers/wait.js';

const SENDER = '14155550100';
const POLL_MS = 100;
let next = 0;
const numbers = (n: number) => Array.from({ length: n }, () => deliveredNumber(9000 + next++));

describe.each(LEDGER_KINDS)('the election (%s)', (kind) => {
  let ledger: TestLedger;
  let db: Db;
  let elections: Election[] = [];
  let limiters: Limiters[] = [];
  let sim: Simulator;
  // Before the block's own hooks: the ledger is closed after the elections and the simulator are stopped.
  ledgerPerDescribe(kind, (opened, testLedger) => { db = opened; ledger = testLedger; });
  beforeAll(async () => {
    sim = await startSimulator({ mps: 1000, deliveryDelayMs: [20, 200], seed: 13 });
  });
  afterEach(async () => {
    await Promise.all(elections.map((e) => e.stop()));
    await Promise.all(limiters.map((l) => l.stop()));
    elections = [];
    limiters = [];
  });
  afterAll(async () => {
    await sim?.close();
  });

  async function contender(campaignId: number, wanted: ('reconcile' | 'track')[] = ['reconcile', 'track'], pollMs = POLL_MS) {
    const events: RoleEvent[] = [];
    const errors: unknown[] = [];
    const e = new Election({ db, campaignId, wanted, pollMs, onEvent: (ev) => events.push(ev), onError: (err) => errors.push(err) });
    elections.push(e);
    await e.start();
    return { e, events, errors };
  }

  it('a lone process takes both roles at once, and gives them back when it stops', async () => {
    const c = await claimedCampaign(db, numbers(1), { sender: SENDER });
    const a = await contender(c.id);
    expect(a.e.held).toEqual(['reconcile', 'track']);
    expect(a.events).toEqual([{ kind: 'roles', held: ['reconcile', 'track'], wanted: ['reconcile', 'track'] }]);
    await a.e.stop();
    expect(a.e.held).toEqual([]);
    const b = await contender(c.id);
    expect(b.e.held).toEqual(['reconcile', 'track']);
  });

  /** A campaign with one batch whose answer was lost, and a Plivo holding its messages, past their window. */
  async function ambiguousCampaign() {
    const dsts = numbers(2);
    const c = await claimedCampaign(db, dsts, { sender: SENDER });
    await recordAmbiguous(db, c.batches[0]!, 'the answer was lost (test)');
    const clock = new TestClock();
    const plivo = new FakePlivo(clock);
    plivo.queue({ src: SENDER, dst: dsts });
    clock.advance(20_000);
    return { campaignId: c.id, batchId: c.batches[0]!.id, clock, plivo };
  }

  function reconciler(campaignId: number, clock: TestClock, plivo: FakePlivo, role: { held: boolean }): Reconciler {
    const l = createLimiters({ listPerMinute: 6000 });
    limiters.push(l);
    return new Reconciler({
      db, client: plivo, campaignId, owner: 'test-reconciler', ledger: new LedgerRetry(60_000), limiters: l, stopper: new Stopper(), clock, role,
      options: { requestTimeoutMs: 1000, confirmAbsentMs: 60_000, maxFailures: 3 },
    });
  }

  const batchStatus = async (id: number) => (await db.query<{ status: string }>('SELECT status FROM batches WHERE id = $1', [id]))[0]!.status;

  it('a reconciler without its role asks Plivo nothing, and returns once the holder has settled the batch', async () => {
    const { campaignId, batchId, clock, plivo } = await ambiguousCampaign();
    // The standby has a Plivo of its own, which would record any call.
    const standbyPlivo = new FakePlivo(clock);
    const standby = reconciler(campaignId, clock, standbyPlivo, { held: false }).run(() => false);
    expect(await reconciler(campaignId, clock, plivo, { held: true }).pass()).toBe(0);
    await standby;
    expect(standbyPlivo.calls).toEqual([]);
    expect(await batchStatus(batchId)).toBe('accepted');
  });

  it('a standby reconciler given the role takes over from where the ledger stands', async () => {
    const { campaignId, batchId, clock, plivo } = await ambiguousCampaign();
    const role = { held: false };
    const run = reconciler(campaignId, clock, plivo, role).run(() => false);
    role.held = true;
    await run;
    expect(plivo.listCalls().length).toBeGreaterThan(0);
    expect(await batchStatus(batchId)).toBe('accepted');
  });

  it('a tracker without its role asks Plivo nothing, and returns once the holder has made every message final', async () => {
    const dsts = numbers(5);
    const c = await claimedCampaign(db, dsts, { sender: SENDER });
    let standbyRequests = 0;
    const plivo = (counting: boolean) => new PlivoClient({
      authId: sim.authId, authToken: sim.authToken, baseUrl: sim.url,
      fetch: (input, init) => { if (counting) standbyRequests++; return fetch(input, init); },
    });
    const out = await plivo(false).send({ src: SENDER, dst: dsts, text: 'hi' });
    if (out.kind !== 'accepted') throw new Error(`send: ${out.kind}`);
    await recordAccepted(db, c.batches[0]!, { httpStatus: 202, apiId: out.apiId, messageUuids: out.messageUuids, invalidNumbers: out.invalidNumbers });
    const tracker = (client: PlivoClient, held: boolean) => {
      const l = createLimiters({ listPerMinute: 600 });
      limiters.push(l);
      return new Tracker({
        db, client, campaignId: c.id, limiters: l, stopper: new Stopper(), ledger: new LedgerRetry(60_000), role: { held },
        options: { receiptCutoffMs: 3_600_000, trackBy: 'get', callbacks: false, listPerSecond: 10 },
      });
    };
    const deadline = Date.now() + 120_000; // a safety net: both end when every message is final
    const standby = tracker(plivo(true), false).run(() => true, () => Date.now() >= deadline);
    const holder = tracker(plivo(false), true).run(() => true, () => Date.now() >= deadline);
    expect(await holder).toEqual({ open: 0 });
    expect(await standby).toEqual({ open: 0 });
    expect(standbyRequests).toBe(0);
  });

  describe.skipIf(kind !== 'postgres')('contenders on one Postgres campaign', () => {
    /** Ends the connection that holds the campaign's role locks, as a crash or a cut network would. */
    async function cutHolder(campaignId: number): Promise<number> {
      const admin = new pg.Client({ connectionString: ledger.databaseUrl });
      await admin.connect();
      try {
        const r = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_locks
           WHERE locktype = 'advisory' AND objsubid = 2 AND objid = $1 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
           GROUP BY pid`, [campaignId]);
        return r.rowCount ?? 0;
      } finally {
        await admin.end();
      }
    }

    it('only one of two wins; when its connection is cut the other takes over within its polling interval', async () => {
      const c = await claimedCampaign(db, numbers(1), { sender: SENDER });
      // a does not poll again within this test: as if its process had died with its connection.
      const a = await contender(c.id, ['reconcile', 'track'], 600_000);
      const b = await contender(c.id);
      expect(a.e.held).toEqual(['reconcile', 'track']);
      expect(b.e.held).toEqual([]);

      expect(await cutHolder(c.id)).toBe(1);
      // The role goes with the connection at once, before anyone else could take it.
      await waitFor('a to lose its roles with its connection', () => a.e.held.length === 0);
      await waitFor('b to take over', () => b.e.held.length === 2);
      expect(b.events.map((e) => e.held)).toEqual([[], ['reconcile', 'track']]);
      const late = await contender(c.id);
      expect(late.e.held).toEqual([]);
      expect([...a.errors, ...b.errors]).toEqual([]);
    });

    it('a holder that stops gives its roles to the standby', async () => {
      const c = await claimedCampaign(db, numbers(1), { sender: SENDER });
      const a = await contender(c.id);
      const b = await contender(c.id);
      expect(b.e.held).toEqual([]);
      await a.e.stop();
      await waitFor('b to take over', () => b.e.held.length === 2);
    });

    it('takes the roles in order: a run never tracks while another process reconciles', async () => {
      const c = await claimedCampaign(db, numbers(1), { sender: SENDER });
      const poll = await contender(c.id, ['track']);
      const run = await contender(c.id);
      expect(poll.e.held).toEqual(['track']);
      expect(run.e.held).toEqual(['reconcile']);
      const other = await contender(c.id);
      expect(other.e.held).toEqual([]);
      await poll.e.stop();
      await waitFor('the reconciling run to track too', () => run.e.held.length === 2);
      expect(other.e.held).toEqual([]);
    });
  });
});
