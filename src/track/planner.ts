/**
 * Chooses, for each message due for a look, between the List API and a single GET, to learn the most
 * per request within the budgets.
 *
 * A List request returns up to 20 records of one time window (every outbound message of the account
 * whose message_time is in it: ours, due or not, and anyone else's), so listing a window costs
 * ⌈records/20⌉ requests and pays off when it holds more due messages than pages. A GET costs one request
 * per message whatever else is going on. The List API allows only 20 requests a minute, so it takes the
 * densest windows first, as many pages as its budget can serve soon; the rest go by GET on the account's
 * spare request budget, so a large backlog does not wait for the List API.
 *
 * "Soon" (auto): a window is listed only if the List slot of its last page comes free within LIST_HORIZON_MS,
 * or before GETs of its due messages would be done (due / GETs a second), whichever is later. The List
 * window is the account's, shared by every run on the ledger: when another run has used it up, its slots
 * come free only as their minute ends, and the few messages due meanwhile are read by GET rather than
 * waiting (and outwaiting `--track-for`). A window with many due messages still waits for its slots as
 * long as its GETs would take: a page of 20 saves 19 requests.
 *
 * Windows are built from our own send times (the request's start to its recorded answer), which bound
 * Plivo's message_time; runs of due messages are cut into adjacent windows, widened by a clock margin at
 * both ends of a run. A due message the listing did not return (a clock further off than the margin) is
 * looked up by GET next time.
 */
import type { DueMessage } from '../ledger/tracking.js';
import { TRACKING_REQUEST_SLOTS, WINDOWS } from '../ledger/senders.js';

export type TrackBy = 'auto' | 'list' | 'get';

export const PAGE_SIZE = 20;
/** A window is listed at least if its slots come free within this long (auto). */
export const LIST_HORIZON_MS = 3000;
/** A window is kept to this many pages by default, so one listing does not hold up the rest for long. */
const MAX_WINDOW_PAGES = 10;

export interface ListWindow {
  from: Date;
  to: Date;
  /** Windows of one run are adjacent: a due message's record may lie in its neighbour's range. */
  run: number;
  /** The due messages it should return. */
  due: DueMessage[];
  /** Estimated pages. */
  pages: number;
}

export interface Plan {
  windows: ListWindow[];
  gets: DueMessage[];
}

export interface PlanInput {
  /** Oldest request first. */
  due: readonly DueMessage[];
  /** When each of our messages around the due ones was sent (ms, ascending). */
  sendTimes: readonly number[];
  marginMs: number;
  /** Records listed per record of ours (≥ 1: other traffic on the account shares the windows). */
  recordsPerOwn: number;
  by: TrackBy;
  /**
   * When each List slot this round may use comes free, ms from now, soonest first (auto only): the account's
   * window less the pages already queued. A window's pages take the next slots in turn.
   */
  listSlots: readonly number[];
  /** GETs tracking can make a second (its share of the account's requests): what waiting for List slots is weighed against. */
  getsPerSecond: number;
  /** @default LIST_HORIZON_MS */
  horizonMs?: number;
  /** Messages a listing missed: looked up by GET. */
  getOnly: ReadonlySet<string>;
  /** @default 10 */
  maxWindowPages?: number;
  /** Now (ms): how long a window's messages have waited decides whether a sparse window is listed yet. */
  now: number;
}

/**
 * `list` mode holds a window until it is worth its pages (this many due messages a page on average), or
 * until its oldest due message has waited HOLD_MS: messages of one send burst fall due over a few
 * seconds, and listing each trickle would read the same records again and again.
 */
const FILL_PER_PAGE = 10;
const HOLD_MS = 5000;

export function planLooks(p: PlanInput): Plan {
  if (p.by === 'get') return { windows: [], gets: [...p.due] };
  const gets: DueMessage[] = [];
  const windows: ListWindow[] = [];
  const maxRecords = (p.maxWindowPages ?? MAX_WINDOW_PAGES) * PAGE_SIZE;
  for (const m of p.due) {
    if (p.getOnly.has(m.message_uuid)) {
      gets.push(m);
      continue;
    }
    const start = m.sent_after.getTime() - p.marginMs;
    const end = m.submitted_at.getTime();
    const last = windows.at(-1);
    if (last && start <= last.to.getTime()) {
      // Contiguous with the current run of windows: grow the last one, or start the next where it ends.
      const to = Math.max(end, last.to.getTime());
      if (estimate(p, last.from.getTime(), to) <= maxRecords) {
        last.due.push(m);
        last.to = new Date(to);
      } else {
        windows.push({ from: last.to, to: new Date(to), due: [m], pages: 0, run: last.run });
      }
    } else {
      if (last) last.to = new Date(last.to.getTime() + p.marginMs);
      windows.push({ from: new Date(start), to: new Date(end), due: [m], pages: 0, run: (last?.run ?? 0) + 1 });
    }
  }
  const last = windows.at(-1);
  if (last) last.to = new Date(last.to.getTime() + p.marginMs);
  for (const w of windows) w.pages = Math.max(1, Math.ceil(estimate(p, w.from.getTime(), w.to.getTime()) / PAGE_SIZE));
  if (p.by === 'list') {
    // A run is listed whole or not at all: listing one window of it alone could miss a record of its own
    // due messages that lies across the boundary, in a neighbour's range.
    const ready = (w: ListWindow) => w.due.length >= w.pages * FILL_PER_PAGE || w.due.some((m) => p.now - m.due_since.getTime() >= HOLD_MS);
    const readyRuns = new Set(windows.filter(ready).map((w) => w.run));
    return { windows: windows.filter((w) => readyRuns.has(w.run)), gets };
  }

  // auto: the List slots go to the windows that find the most due messages per page, while they come soon.
  const worthListing = windows.filter((w) => w.due.length > w.pages).sort((a, b) => b.due.length / b.pages - a.due.length / a.pages);
  const listed = new Set<ListWindow>();
  let taken = 0;
  for (const w of worthListing) {
    const lastPageAt = p.listSlots[taken + w.pages - 1];
    if (lastPageAt === undefined || lastPageAt > listWaitLimitMs(w.due.length, p.getsPerSecond, p.horizonMs)) continue;
    taken += w.pages;
    listed.add(w);
  }
  for (const w of windows) if (!listed.has(w)) gets.push(...w.due);
  return { windows: windows.filter((w) => listed.has(w)), gets };
}

/**
 * The GETs a second tracking can count on: its share of the account's request window (TRACKING_REQUEST_SLOTS,
 * each slot held WINDOWS.request.holdMs), about 29 once nothing is sending and about 4 while this run still
 * sends (20 slots: sending keeps the rest, ledger/senders.ts `takeSlot`). Judged at 29 while sending, a window
 * of 60 due messages went by GET ("2 s") rather than wait 5 s for its List slots, and its GETs then took 15 s.
 * Another campaign of the account sending is not seen here: the estimate may then still be high, as before.
 */
export function trackingGetsPerSecond(sending: boolean): number {
  return (sending ? TRACKING_REQUEST_SLOTS.whileSending : TRACKING_REQUEST_SLOTS.otherwise) / (WINDOWS.request.holdMs / 1000);
}

/**
 * How long a listing of a window with `due` due messages may wait for its slots (auto) before its messages
 * are better read by GET: the horizon, or as long as the GETs would take.
 */
export function listWaitLimitMs(due: number, getsPerSecond: number, horizonMs = LIST_HORIZON_MS): number {
  return Math.max(horizonMs, (due / getsPerSecond) * 1000);
}

/** Records a listing of [from, to] is expected to return: our messages sent in it, scaled by other traffic. */
function estimate(p: PlanInput, from: number, to: number): number {
  return Math.ceil((upperBound(p.sendTimes, to) - lowerBound(p.sendTimes, from)) * p.recordsPerOwn);
}

function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
