/**
 * The claim statement (src/ledger/sending.ts `claimDue`) on every available ledger, with the clock passed in:
 * a number's budget is one row whoever claims from it (campaigns, processes, a restarted run), every due
 * sender's first batch comes in one claim, and the account's request window is shared.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/ledger/db.js';
import { openLedger } from '../src/ledger/open.js';
import { claimDue, HANDOVER_MS, type ClaimOptions } from '../src/ledger/sending.js';
import { freeSlots, holdAllSlots, prepareBudgets, rateConflicts, takeSlot, TRACKING_REQUEST_SLOTS } from '../src/ledger/senders.js';
import { loadedCampaign } from './helpers/campaigns.js';
import { createTestLedger, LEDGER_KINDS, type TestLedger } from './helpers/ledgers.js';

let seq = 0;
/** Numbers of their own for each test: budgets are per number, and tests share the ledger. */
function numbers(n: number): string[] {
  seq++;
  return Array.from({ length: n }, (_, i) => `1415666${String(seq).padStart(2, '0')}${String(i).padStart(2, '0')}`);
}
function dsts(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `1415777${String(seq).padStart(2, '0')}${String(i).padStart(2, '0')}`);
}

describe.each(LEDGER_KINDS)('claiming on the %s ledger', (kind) => {
  let ledger: TestLedger;
  let db: Db;
  // Each test has an account of its own, so request slots taken by one do not bind another.
  let account = '';
  const T0 = Date.parse('2031-01-01T00:00:00Z');
  const at = (ms: number) => new Date(T0 + ms);
  const claim = (campaignId: number, ms: number, o: Partial<ClaimOptions> = {}) =>
    claimDue(db, { account, campaignId, owner: 'p1', leaseMs: 60_000, max: 100, now: at(ms), ...o });

  beforeAll(async () => {
    ledger = await createTestLedger(kind);
    db = await openLedger({ databaseUrl: ledger.databaseUrl, home: ledger.home });
  });
  afterAll(async () => {
    await db?.close();
    await ledger?.dispose();
  });

  async function campaign(senders: string[], rows: number, job: Record<string, unknown>) {
    const c = await loadedCampaign(db, dsts(rows), { senders, batchSize: 1, job });
    await prepareBudgets(db, account, c.id, 20);
    return c;
  }

  it('paces a number shared by two campaigns on one budget: its batches are cost / rate apart whichever campaign claims', async () => {
    account = 'MA-shared';
    const [s] = numbers(1);
    const a = await campaign([s!], 4, { rate: 2 });
    const b = await campaign([s!], 4, { rate: 2 });
    expect((await claim(a.id, 0)).batches).toHaveLength(1);
    const early = await claim(b.id, 10);
    expect(early.batches).toHaveLength(0);
    expect(early.nextInMs).toBeCloseTo(490, 0); // one message at 2/s: 500 ms after the first
    expect((await claim(b.id, 500)).batches).toHaveLength(1);
    expect((await claim(a.id, 600)).batches).toHaveLength(0);
    expect((await claim(a.id, 1000)).batches).toHaveLength(1);
  });

  it('resumes a sender where its budget stood: a new process (or a restart) waits out the time the last claim bought', async () => {
    account = 'MA-restart';
    const [s] = numbers(1);
    const c = await campaign([s!], 6, { rate: 1 });
    const [first, second] = (await loadedBatchIds(c.id));
    // Two batches of 1 message at 1/s, claimed by a process that then dies.
    expect((await claim(c.id, 0)).batches.map((b) => b.id)).toEqual([first]);
    await prepareBudgets(db, account, c.id, 20); // what a restarted run does first: the budget must survive it
    const restarted = await claim(c.id, 200, { owner: 'p2' });
    expect(restarted.batches).toHaveLength(0);
    expect(restarted.nextInMs).toBeCloseTo(800, 0);
    expect((await claim(c.id, 1000, { owner: 'p2' })).batches.map((b) => b.id)).toEqual([second]);
  });

  it('keeps a number with the process that claimed it: another takes it only once its time is the hand-over margin past', async () => {
    account = 'MA-pacer';
    const [s] = numbers(1);
    const a = await campaign([s!], 6, { rate: 10 }); // 100 ms per message
    const b = await campaign([s!], 6, { rate: 10 });
    const asA = { pacer: 'A', lookaheadMs: 50 };
    const asB = { pacer: 'B', owner: 'p2', lookaheadMs: 50 };
    expect((await claim(a.id, 0, asA)).batches.map((x) => x.slotMs - T0)).toEqual([0]);
    // Due at 100: A's other campaign (same pacer) takes it within the lookahead, B does not, and is told to look
    // again when the margin has passed.
    const early = await claim(b.id, 60, asB);
    expect(early.batches).toHaveLength(0);
    expect(early.nextInMs).toBeCloseTo(100 + HANDOVER_MS - 60, 0);
    expect((await claim(b.id, 60, { ...asA, owner: 'p1' })).batches.map((x) => x.slotMs - T0)).toEqual([100]);
    // A stops claiming (dead, or behind): B waits out the margin after the number's time, then takes it at its own now.
    expect((await claim(b.id, 200 + HANDOVER_MS - 1, asB)).batches).toHaveLength(0);
    expect((await claim(b.id, 200 + HANDOVER_MS, asB)).batches.map((x) => x.slotMs - T0)).toEqual([200 + HANDOVER_MS]);
    // Now it is B's: B's next one comes on time, and A is the one held back.
    expect((await claim(a.id, 300 + HANDOVER_MS - 40, asA)).batches).toHaveLength(0);
    expect((await claim(b.id, 300 + HANDOVER_MS - 40, asB)).batches.map((x) => x.slotMs - T0)).toEqual([300 + HANDOVER_MS]);
    // A claim that names no pacer (the statement alone) is held back by nobody.
    expect((await claim(a.id, 400 + HANDOVER_MS)).batches).toHaveLength(1);
  });

  it('claims a sender due within the lookahead now, with its slot: the time its budget allows, cost / rate after the last', async () => {
    account = 'MA-ahead';
    const [s] = numbers(1);
    const c = await campaign([s!], 5, { rate: 10 }); // 100 ms per message
    const first = await claim(c.id, 0);
    expect(first.dbNowMs).toBe(T0);
    expect(first.batches.map((b) => [b.slotMs - T0, b.intervalMs])).toEqual([[0, 100]]);
    // Due at 100: not yet without a lookahead, and the next claim is due in 50 ms.
    const notYet = await claim(c.id, 50);
    expect(notYet.batches).toHaveLength(0);
    expect(notYet.nextInMs).toBeCloseTo(50, 0);
    // With a 60 ms lookahead it is claimed at 50, and its slot is still 100: the process holds the request till then.
    const ahead = await claim(c.id, 50, { lookaheadMs: 60 });
    expect(ahead.batches.map((b) => b.slotMs - T0)).toEqual([100]);
    const after = await claim(c.id, 60, { lookaheadMs: 60 });
    expect(after.batches).toHaveLength(0);
    expect(after.nextInMs).toBeCloseTo(140, 0); // due at 200 (claimable from 140 with this lookahead)
    // Claimed late, the slot is the claim's own now: nothing is caught up, so slots are never closer than 100 ms.
    expect((await claim(c.id, 5000)).batches.map((b) => b.slotMs - T0)).toEqual([5000]);
    expect((await claim(c.id, 5010, { lookaheadMs: 60 })).batches).toHaveLength(0);
    expect((await claim(c.id, 5040, { lookaheadMs: 60 })).batches.map((b) => b.slotMs - T0)).toEqual([5100]);
  });

  it('counts a batch in units unless the job counts messages', async () => {
    account = 'MA-units';
    const [u, m] = numbers(2);
    const units = await loadedCampaign(db, dsts(4), { senders: [u!], batchSize: 2, job: { rate: 4 } });
    await db.query('UPDATE batches SET units = 2 WHERE campaign_id = $1', [units.id]);
    await prepareBudgets(db, account, units.id, 20);
    await claim(units.id, 0);
    expect((await claim(units.id, 10)).nextInMs).toBeCloseTo(990, 0); // 2 messages × 2 units at 4/s: 1 s
    const messages = await loadedCampaign(db, dsts(4), { senders: [m!], batchSize: 2, job: { rate: 4, rate_counts: 'messages' } });
    await db.query('UPDATE batches SET units = 2 WHERE campaign_id = $1', [messages.id]);
    await prepareBudgets(db, account, messages.id, 20);
    await claim(messages.id, 0);
    expect((await claim(messages.id, 10)).nextInMs).toBeCloseTo(490, 0); // 2 messages at 4/s: 0.5 s
  });

  it('claims every due sender\'s first batch in one statement, each with a request slot of its own', async () => {
    account = 'MA-all';
    const senders = numbers(40);
    const c = await campaign(senders, 80, { rate: 1 });
    const first = await claim(c.id, 0);
    expect(new Set(first.batches.map((b) => b.sender)).size).toBe(40);
    const [slots] = await db.query<{ busy: number }>(
      `SELECT count(*)::int AS busy FROM account_slots WHERE account = $1 AND kind = 'request' AND free_at > $2`, [account, at(0)]);
    expect(slots!.busy).toBe(40);
  });

  it('takes no more requests than the account window holds, and a 429 holds the whole window', async () => {
    account = 'MA-window';
    const senders = numbers(2);
    const c = await campaign(senders, 4, { rate: 1000 });
    await holdAllSlots(db, account, 0); // no-op on a free window
    await db.query(`UPDATE account_slots SET free_at = $2 WHERE account = $1 AND kind = 'request' AND slot > 0`, [account, at(3000)]);
    // One free slot: one of the two due senders gets it, the other waits for a slot.
    expect((await claim(c.id, 0)).batches).toHaveLength(1);
    const waiting = await claim(c.id, 10);
    expect(waiting.batches).toHaveLength(0);
    expect(waiting.nextInMs).toBeGreaterThan(2900);
    expect((await claim(c.id, 6000)).batches).toHaveLength(2);
  });

  it('lends tracking a fifteenth of the request window while a number of the account is sending, half of it otherwise', async () => {
    account = 'MA-tracking-share';
    const senders = numbers(1);
    await campaign(senders, 1, { rate: 1 });
    const limit = TRACKING_REQUEST_SLOTS;
    const takeAll = async () => {
      let n = 0;
      while ((await takeSlot(db, account, 'request', limit)).slot !== null) n++;
      return n;
    };
    // The number was claimed a moment ago (its time is ahead): sends are due.
    await db.query('UPDATE sender_budgets SET tat = now() + interval \'1 second\' WHERE account = $1', [account]);
    expect(await freeSlots(db, account, 'request', limit)).toBe(limit.whileSending);
    expect(await takeAll()).toBe(limit.whileSending);
    // Its last claim was longer ago than a window: tracking may take up to half of the window.
    await db.query('UPDATE sender_budgets SET tat = now() - interval \'1 minute\' WHERE account = $1', [account]);
    expect(await takeAll()).toBe(limit.otherwise - limit.whileSending);
    expect(await freeSlots(db, account, 'request', 300)).toBe(300 - limit.otherwise);
  });

  it('paces the account\'s messages (account_rate) in the ledger: slots a message / rate apart across senders and campaigns', async () => {
    account = 'MA-account-rate';
    // 3 numbers at 10/s each (100 ms per message), but 4 messages a second for the whole account (250 ms).
    const limited = await campaign(numbers(3), 6, { rate: 10, account_rate: 4 });
    await db.query('UPDATE campaigns SET suppression_account = $2 WHERE id = $1', [limited.id, account]);
    const first = await claim(limited.id, 0, { lookaheadMs: 600 });
    expect(first.batches.map((b) => b.slotMs - T0)).toEqual([0, 250, 500]);
    expect(first.nextInMs).toBeCloseTo(750, 0);
    // A campaign of the same account without account_rate of its own, on other numbers, shares the budget.
    const other = await campaign(numbers(2), 2, { rate: 10 });
    const early = await claim(other.id, 600);
    expect(early.batches).toHaveLength(0);
    expect(early.nextInMs).toBeCloseTo(150, 0);
    expect((await claim(other.id, 750)).batches.map((b) => b.slotMs - T0)).toEqual([750]);
    // Senders due long ago still get the account's slots one message / rate apart, from where it stood.
    expect((await claim(limited.id, 1000, { lookaheadMs: 300 })).batches.map((b) => b.slotMs - T0)).toEqual([1000, 1250]);
  });

  it('lets the lowest rate hold when two campaigns give a number different rates, and names the other campaign', async () => {
    account = 'MA-conflict';
    const [s] = numbers(1);
    const slow = await campaign([s!], 2, { rate: 2 });
    const fast = await campaign([s!], 2, { rate: 10 });
    const [row] = await db.query<{ rate: number }>('SELECT rate FROM sender_budgets WHERE account = $1 AND sender = $2', [account, s]);
    expect(row!.rate).toBe(2);
    const conflicts = await rateConflicts(db, fast.name, [s!], 10);
    expect(conflicts).toEqual([{ sender: s, asked: 10, holds: 2, others: [{ name: slow.name, rate: 2 }] }]);
    await claim(fast.id, 0);
    expect((await claim(fast.id, 10)).nextInMs).toBeCloseTo(490, 0); // 1 message at 2/s, not at 10/s
  });

  it('analyzes the budgets only when a run adds numbers to them, not on a resume', async () => {
    account = 'MA-analyze';
    // ANALYZE sets pg_class.reltuples at once (and exactly, for a table this small): it tells whether one ran.
    const counted = async () => (await db.query<{ n: number }>("SELECT reltuples::int AS n FROM pg_class WHERE relname = 'sender_budgets'"))[0]!.n;
    const a = await campaign(numbers(2), 2, { rate: 2 });
    const all = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM sender_budgets'))[0]!.n;
    expect(await counted()).toBe(await all());
    // A row ANALYZE has not seen: the next prepareBudgets that adds nothing must leave the count as it was.
    await db.query('INSERT INTO sender_budgets (account, sender, rate) VALUES ($1, $2, 1)', ['MA-analyze-other', numbers(1)[0]]);
    const before = await counted();
    await prepareBudgets(db, account, a.id, 20);
    expect(await counted()).toBe(before);
    await campaign(numbers(1), 2, { rate: 2 }); // a new number: analyzed again
    expect(await counted()).toBe(await all());
  });

  it.runIf(kind === 'postgres')('never gives one sender to two processes claiming at once', async () => {
    account = 'MA-race';
    const senders = numbers(10);
    const c = await campaign(senders, 100, { rate: 1 });
    const claims = await Promise.all(Array.from({ length: 6 }, (_, i) => claim(c.id, 0, { owner: `p${i}` })));
    const got = claims.flatMap((x) => x.batches.map((b) => b.sender));
    expect(got.sort()).toEqual([...senders].sort()); // each sender once, across all six
  });

  async function loadedBatchIds(campaignId: number): Promise<number[]> {
    return (await db.query<{ id: number }>('SELECT id FROM batches WHERE campaign_id = $1 ORDER BY id', [campaignId])).map((r) => r.id);
  }
});
