import { describe, expect, it } from 'vitest';
import type { DueMessage } from '../src/ledger/tracking.js';
import { planLooks, type PlanInput } from '../src/track/planner.js';
import { LookSchedule, nextLookIn, DEFAULT_FIRST_LOOK_MS } from '../src/track/schedule.js';

const T0 = Date.UTC(2026, 10, 25, 12);

/** A message whose request left at T0 + `atMs` and was answered 100 ms later. */
function due(atMs: number, uuid = `u${atMs}`): DueMessage {
  return { message_uuid: uuid, sent_after: new Date(T0 + atMs), submitted_at: new Date(T0 + atMs + 100), due_since: new Date(T0 + atMs + 5000),
    expiry_s: 10_800, give_up_at: new Date(T0 + atMs + 100 + 10_800_000 + 600_000) };
}

/** `n` List slots, all free now. */
const freeNow = (n: number): number[] => Array.from({ length: n }, () => 0);

function input(over: Partial<PlanInput>): PlanInput {
  return { due: [], sendTimes: [], marginMs: 1000, recordsPerOwn: 1, by: 'auto', listSlots: freeNow(100), getsPerSecond: 25, getOnly: new Set(), now: T0 + 60_000, ...over };
}

/** `n` messages sent `everyMs` apart from T0. */
function burst(n: number, everyMs: number): DueMessage[] {
  return Array.from({ length: n }, (_, i) => due(i * everyMs));
}

describe('planLooks', () => {
  it('lists a dense run of due messages in windows of at most 10 pages, estimated from our own send times', () => {
    const msgs = burst(1000, 10); // 100 a second for 10 s
    const plan = planLooks(input({ due: msgs, sendTimes: msgs.map((m) => m.sent_after.getTime()) }));
    expect(plan.gets).toEqual([]);
    expect(plan.windows.flatMap((w) => w.due)).toHaveLength(1000);
    for (const w of plan.windows) expect(w.pages).toBeLessThanOrEqual(10);
    expect(plan.windows.reduce((a, w) => a + w.pages, 0)).toBeLessThanOrEqual(Math.ceil(1000 / 20) + plan.windows.length);
  });

  it('asks by GET for stragglers whose windows hold mostly messages already final (fewer due than pages)', () => {
    const all = burst(200, 10);
    const stragglers = [all[5]!, all[150]!];
    const plan = planLooks(input({ due: stragglers, sendTimes: all.map((m) => m.sent_after.getTime()) }));
    expect(plan.windows).toEqual([]);
    expect(plan.gets.map((m) => m.message_uuid)).toEqual(stragglers.map((m) => m.message_uuid));
  });

  it('gives the List budget to the densest windows and the rest to GET, so a backlog does not wait for the List API', () => {
    const msgs = burst(2000, 10);
    const plan = planLooks(input({ due: msgs, sendTimes: msgs.map((m) => m.sent_after.getTime()), listSlots: freeNow(12) }));
    const pages = plan.windows.reduce((a, w) => a + w.pages, 0);
    expect(pages).toBeLessThanOrEqual(12);
    expect(pages).toBeGreaterThan(0);
    expect(plan.windows.flatMap((w) => w.due).length + plan.gets.length).toBe(2000);
    expect(plan.gets.length).toBeGreaterThan(1000);
  });

  it('auto: when another run has used up the account\'s List slots, the few due messages go by GET instead of waiting', () => {
    const msgs = burst(30, 10);
    const times = msgs.map((m) => m.sent_after.getTime());
    const free = planLooks(input({ due: msgs, sendTimes: times }));
    expect(free.gets).toEqual([]);
    // Every slot held for most of its minute: no listing could start before 45 s.
    const taken = planLooks(input({ due: msgs, sendTimes: times, listSlots: Array.from({ length: 20 }, () => 45_000) }));
    expect(taken.windows).toEqual([]);
    expect(taken.gets.map((m) => m.message_uuid)).toEqual(msgs.map((m) => m.message_uuid));
    // A slot coming within the horizon (3 s) is waited for.
    const soon = planLooks(input({ due: msgs, sendTimes: times, listSlots: [2500, 2900, 45_000] }));
    expect(soon.gets).toEqual([]);
  });

  it('auto: a window with many due messages waits for its slots as long as reading them by GET would take', () => {
    const msgs = burst(60, 10); // one window of 3 pages
    const times = msgs.map((m) => m.sent_after.getTime());
    const at = (ms: number) => Array.from({ length: 3 }, () => ms);
    // 60 GETs at 5 a second take 12 s: slots free in 10 s are worth waiting for, in 14 s not.
    const waits = planLooks(input({ due: msgs, sendTimes: times, maxWindowPages: 3, getsPerSecond: 5, listSlots: at(10_000) }));
    expect(waits.windows.flatMap((w) => w.due)).toHaveLength(60);
    const gets = planLooks(input({ due: msgs, sendTimes: times, maxWindowPages: 3, getsPerSecond: 5, listSlots: at(14_000) }));
    expect(gets.windows).toEqual([]);
    expect(gets.gets).toHaveLength(60);
  });

  it('auto: windows take the slots in turn; one whose slots come too late goes by GET while an earlier one is listed', () => {
    const first = burst(40, 10); // two pages
    const second = Array.from({ length: 40 }, (_, i) => due(600_000 + i * 10)); // two pages, ten minutes later
    const msgs = [...first, ...second];
    const plan = planLooks(input({ due: msgs, sendTimes: msgs.map((m) => m.sent_after.getTime()), listSlots: [0, 0, 30_000, 30_000] }));
    expect(plan.windows.map((w) => w.pages)).toEqual([2]);
    expect(plan.gets).toHaveLength(40);
  });

  it('counts other traffic on the account: windows shrink as records per message of ours grow', () => {
    const msgs = burst(400, 10);
    const times = msgs.map((m) => m.sent_after.getTime());
    const alone = planLooks(input({ due: msgs, sendTimes: times, by: 'list' }));
    const crowded = planLooks(input({ due: msgs, sendTimes: times, by: 'list', recordsPerOwn: 5 }));
    expect(crowded.windows.length).toBeGreaterThan(alone.windows.length);
    expect(crowded.windows.reduce((a, w) => a + w.pages, 0)).toBeGreaterThan(alone.windows.reduce((a, w) => a + w.pages, 0) * 4);
  });

  it('with --track-by list, holds a sparse window until it fills or its oldest due message has waited 5 s', () => {
    const all = burst(200, 10);
    const times = all.map((m) => m.sent_after.getTime());
    const trickle = all.slice(0, 3); // the first of a burst to fall due
    expect(planLooks(input({ due: trickle, sendTimes: times, by: 'list', now: T0 + 5100 })).windows).toEqual([]);
    expect(planLooks(input({ due: trickle, sendTimes: times, by: 'list', now: T0 + 10_100 })).windows).toHaveLength(1);
    expect(planLooks(input({ due: all, sendTimes: times, by: 'list', now: T0 + 5100 })).windows.flatMap((w) => w.due)).toHaveLength(200);
  });

  it('with --track-by list, lists a run of adjacent windows whole: a record may lie across a boundary', () => {
    const all = burst(400, 10); // 4 s of sends: one run, several windows
    const times = all.map((m) => m.sent_after.getTime());
    // 150 fall due together (a dense window); one more, close enough to share the run, lands in a sparse
    // window of its own: it is listed with its run, not held.
    const due = [...all.slice(0, 150), all[255]!];
    const plan = planLooks(input({ due, sendTimes: times, by: 'list', now: T0 + 5100 }));
    expect(plan.windows.length).toBe(2);
    expect(plan.windows[1]!.due.map((m) => m.message_uuid)).toEqual([all[255]!.message_uuid]);
    for (let i = 1; i < plan.windows.length; i++) expect(plan.windows[i]!.from.getTime()).toBe(plan.windows[i - 1]!.to.getTime());
  });

  it('honours a forced channel, and sends what a listing missed by GET', () => {
    const msgs = burst(100, 10);
    const times = msgs.map((m) => m.sent_after.getTime());
    expect(planLooks(input({ due: msgs, sendTimes: times, by: 'get' }))).toEqual({ windows: [], gets: msgs });
    const missed = new Set([msgs[3]!.message_uuid]);
    const plan = planLooks(input({ due: msgs, sendTimes: times, by: 'list', getOnly: missed }));
    expect(plan.gets.map((m) => m.message_uuid)).toEqual([msgs[3]!.message_uuid]);
    expect(plan.windows.flatMap((w) => w.due)).toHaveLength(99);
  });
});

describe('the look schedule', () => {
  it('looks again after about half the age, between 1 s and 1 h', () => {
    expect(nextLookIn(0)).toBe(1000);
    expect(nextLookIn(20_000)).toBe(10_000);
    expect(nextLookIn(10 * 3_600_000)).toBe(3_600_000);
  });

  it('learns the looks from delivery latencies: percentiles, counting messages still open (censored), then half the age', () => {
    const fresh = new LookSchedule();
    expect(fresh.firstLookMs).toBe(DEFAULT_FIRST_LOOK_MS);
    expect(fresh.nextLookIn(5000)).toBe(nextLookIn(5000));
    // 100 messages with latencies 0.1 s … 10 s, all read final.
    const s = new LookSchedule(0.8);
    for (let i = 1; i <= 100; i++) s.observe(`m${i}`, { ms: i * 100, final: true });
    expect(s.firstLookMs).toBe(8000);
    expect(s.nextLookIn(8000)).toBe(9500 - 8000);
    expect(s.nextLookIn(20_000)).toBe(10_000);
    // Only the fast half is final yet; the other half was seen open at 5 s: the 80th percentile is unknown,
    // not 4 s (the finals alone would say so).
    const early = new LookSchedule(0.8);
    for (let i = 1; i <= 50; i++) early.observe(`m${i}`, { ms: i * 100, final: true });
    for (let i = 51; i <= 100; i++) early.observe(`m${i}`, { ms: 5000, final: false });
    expect(early.quantile(0.8)).toBeUndefined();
    expect(early.quantile(0.4)).toBe(4000);
    expect(early.firstLookMs).toBe(DEFAULT_FIRST_LOOK_MS);
    const listOnly = new LookSchedule(0.95);
    for (let i = 1; i <= 100; i++) listOnly.observe(`m${i}`, { ms: i * 100, final: true });
    expect(listOnly.firstLookMs).toBe(9500);
  });
});
