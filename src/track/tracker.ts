/**
 * Brings every accepted message to a final state and learns its cost, within the account's budgets and
 * after sending: tracking requests have the lowest priority on the account's request bucket, and the List
 * API's bucket serves reconciliation first.
 *
 * Each round takes the messages due for a look (ledger/tracking.ts: never a final one, none before its
 * first look, and with callbacks none before the callbacks had their chance), lets the planner split them
 * between List windows and single GETs, and applies what it learns as it goes, a page or a few dozen
 * records at a time, so a crash repeats little. Everything it knows is in the ledger: a resumed run picks
 * up where this one stopped.
 *
 * `sent` with no receipt after the job's receipt cut-off is final-without-receipt: carriers in some
 * countries never send one. Such a message is looked at once more when its cut-off passes.
 *
 * Nothing is waited for without end. A message Plivo still holds `queued`, or does not know (404), once its
 * message_expiry (the job's, else Plivo's 3 h) plus GIVE_UP_MARGIN_MS has passed since its 202 is given up
 * on: final, `expired`, with the reason (Plivo itself fails a message that waits that long, 420). Until
 * then a 404 is asked again with the look schedule's spacing, not every few seconds. Recipients no
 * message reaches (a 202 short of uuids) are settled from Plivo's records (unaccounted.ts).
 */
import PQueue from 'p-queue';
import type { Db } from '../ledger/db.js';
import {
  applyProviderUpdates, applyWaitingCallbacks, dueMessages, giveUpUnknown, postponeLookups, sendTimes, trackingBacklog,
  type DueMessage, type ProviderUpdate, type TrackingBacklog, type UpdateSource,
} from '../ledger/tracking.js';
import { enrollUnlinked, unaccountedBacklog } from '../ledger/unaccounted.js';
import { ALWAYS_HELD, type Role } from '../ledger/roles.js';
import { PlivoApiError, type PlivoClient } from '../plivo/client.js';
import { FINAL_STATES, type Mdr } from '../plivo/types.js';
import { PRIORITY, type Limiters } from '../send/limits.js';
import type { LedgerRetry } from '../send/ledger-retry.js';
import { listPages } from '../send/list-pages.js';
import type { Stopper } from '../send/stopper.js';
import { bucketListSlots, type ListSlots } from './list-slots.js';
import { listWaitLimitMs, planLooks, trackingGetsPerSecond, type ListWindow, type TrackBy } from './planner.js';
import { LookSchedule, nextLookIn } from './schedule.js';
import { Accounting, DEFAULT_ACCOUNTING, type AccountingOptions } from './unaccounted.js';

const GETS_AT_ONCE = 16;
const DUE_PER_ROUND = 1000;
const RETRY_LOOKUP_MS = 5000;
/** Results are written at least this often, and in chunks of at most SAVE_EVERY. */
const SAVE_EVERY = 50;
/**
 * In auto mode windows are kept small (the planner lists a window only if its slots come soon, planner.ts
 * LIST_HORIZON_MS): the List API reads 6 records a second at best, and what it cannot read soon is read by GET.
 */
const AUTO_WINDOW_PAGES = 3;
/** Plivo gives up retrying a callback about 7 minutes after the first try; poll only after that. */
const CALLBACK_GRACE_MS = 600_000;
const BASE_MARGIN_MS = 1000;
const MAX_SKEW_MS = 60_000;
/**
 * How long past its expiry a message still `queued` at Plivo, or unknown to it, is waited for: Plivo's
 * own expiry, its callback and its records may each lag a little, and clocks differ.
 */
export const GIVE_UP_MARGIN_MS = 15 * 60_000;
/** Batches with unaccounted recipients are checked for a due look at most this often (or their own delays, if shorter). */
const ACCOUNTING_EVERY_MS = 5000;
/** How often a process without the `track` role looks whether the tracking is over. */
const STANDBY_WAIT_MS = 1000;

export interface TrackerOptions {
  receiptCutoffMs: number;
  trackBy: TrackBy;
  /** Whether smsrun's own receiver is taking status callbacks for this run. */
  callbacks: boolean;
  /** The List budget's refill rate (requests per second), for planning without `listSlots`. */
  listPerSecond: number;
  /** GETs tracking can make a second, weighed against waiting for List slots. @default trackingGetsPerSecond (planner.ts) */
  getsPerSecond?: number;
  /** @default GIVE_UP_MARGIN_MS */
  giveUpMarginMs?: number;
  /** @default DEFAULT_ACCOUNTING */
  accounting?: Partial<AccountingOptions>;
}

/** A List window waiting for its turn; `seen` is shared by the windows planned together. */
type QueuedWindow = ListWindow & { seen: Set<string> };

export type TrackEvent = { kind: 'final'; count: number };


export class Tracker {
  readonly #schedule: LookSchedule;
  /** Windows waiting for the List budget, listed one at a time in the background while GETs go on. */
  #listQueue: QueuedWindow[] = [];
  /** Due messages in a queued or running listing: not planned again meanwhile. */
  #listing = new Set<string>();
  #listWorker: Promise<void> | null = null;
  /** The window being listed now. */
  #current: QueuedWindow | null = null;
  #listFailure: unknown;
  /** Due messages a listing did not return: the next look is a GET. */
  #getOnly = new Set<string>();
  /** Records listed per record of ours, learned: other traffic on the account shares every window. */
  #recordsPerOwn = 1;
  /** How far Plivo's message_time was seen outside our own send window. */
  #skewMs = 0;
  readonly #accounting: Accounting;
  readonly #accountingEveryMs: number;
  #nextAccounting = 0;
  /** This run still sends (its dispatcher is active): tracking then has the smaller share of the account's requests. */
  #sending = false;
  readonly #listSlots: ListSlots;

  constructor(private readonly deps: {
    db: Db; client: PlivoClient; campaignId: number; limiters: Limiters; stopper: Stopper; ledger: LedgerRetry;
    options: TrackerOptions; onEvent?: (e: TrackEvent) => void;
    /** This process's `track` role (ledger/roles.ts): without it, nothing is asked of Plivo. @default ALWAYS_HELD */
    role?: Role;
    /**
     * When the List slots come free (list-slots.ts): with a ledger, the account's window that other runs
     * share (`ledgerListSlots`). @default the in-process List bucket's reservoir and `options.listPerSecond`
     */
    listSlots?: ListSlots;
  }) {
    this.#listSlots = deps.listSlots ?? bucketListSlots(deps.limiters.listRequests, deps.options.listPerSecond);
    this.#schedule = new LookSchedule(deps.options.trackBy === 'list' ? 0.95 : 0.8);
    const accounting = { ...DEFAULT_ACCOUNTING, ...deps.options.accounting };
    this.#accounting = new Accounting({ ...deps, options: accounting, read: (mdr) => this.#update(mdr, 'list'), onFinals: (n) => this.#finals(n) });
    this.#accountingEveryMs = Math.min(ACCOUNTING_EVERY_MS, accounting.firstLookMs, accounting.confirmMs);
  }

  /**
   * Tracks until every message is final, or `until()` says to stop waiting (the tracking deadline).
   * `sendingDone()` keeps it going while more messages may still be accepted.
   */
  async run(sendingDone: () => boolean, until: () => boolean): Promise<{ open: number }> {
    const { db, campaignId, stopper, ledger } = this.deps;
    try {
      return await this.#loop(sendingDone, until);
    } finally {
      this.#listQueue = [];
      await this.#listWorker;
    }
  }

  async #loop(sendingDone: () => boolean, until: () => boolean): Promise<{ open: number }> {
    const { db, campaignId, stopper, ledger } = this.deps;
    while (!stopper.stopped) {
      if (this.#listFailure !== undefined) throw this.#listFailure;
      this.#sending = !sendingDone();
      if (sendingDone() && until()) break;
      // Without the role, another process tracks: wait for its work to show in the ledger, ready to take over.
      const tracking = this.#role.held;
      if (tracking) {
        const early = await ledger.run(() => applyWaitingCallbacks(db));
        this.#finals(early.finals);
        if (Date.now() >= this.#nextAccounting) {
          this.#nextAccounting = Date.now() + this.#accountingEveryMs;
          await this.#accounting.pass();
        }
        const due = await ledger.run(() => dueMessages(db, campaignId, this.#dueRule(), DUE_PER_ROUND));
        if (due.length > 0) {
          await this.#round(due);
          continue;
        }
      }
      let backlog = await this.#backlog();
      // Sending over and every message final: a recipient still without one can no longer be linked by tracking.
      if (sendingDone() && backlog.open === 0 && (await ledger.run(() => enrollUnlinked(db, campaignId))) > 0) backlog = await this.#backlog();
      if (sendingDone() && (backlog.open + backlog.unaccounted === 0 || until())) return { open: backlog.open + backlog.unaccounted };
      await stopper.sleep(tracking ? this.#idleWait(backlog) : STANDBY_WAIT_MS);
    }
    const backlog = await this.#backlog();
    return { open: backlog.open + backlog.unaccounted };
  }

  get #role(): Role {
    return this.deps.role ?? ALWAYS_HELD;
  }

  /** Open messages, and recipients being accounted for. */
  async #backlog(): Promise<TrackingBacklog & { unaccounted: number }> {
    const { db, campaignId, ledger } = this.deps;
    const [messages, unaccounted] = await ledger.run(() => Promise.all([trackingBacklog(db, campaignId), unaccountedBacklog(db, campaignId)]));
    const nextAt = [messages.nextAt, unaccounted.recipients > 0 ? unaccounted.nextAt : null]
      .filter((d): d is Date => d !== null).sort((a, b) => a.getTime() - b.getTime())[0] ?? null;
    return { open: messages.open, unaccounted: unaccounted.recipients, nextAt };
  }

  #dueRule() {
    const { options } = this.deps;
    return {
      firstLookMs: this.#schedule.firstLookMs,
      callbackGraceMs: options.callbacks ? Math.min(CALLBACK_GRACE_MS, options.receiptCutoffMs) : null,
      giveUpMarginMs: this.#giveUpMarginMs,
    };
  }

  get #giveUpMarginMs(): number {
    return this.deps.options.giveUpMarginMs ?? GIVE_UP_MARGIN_MS;
  }

  #idleWait(backlog: TrackingBacklog): number {
    const wait = backlog.nextAt ? backlog.nextAt.getTime() - Date.now() : 1000;
    return Math.min(1000, Math.max(100, wait));
  }

  async #round(all: DueMessage[]): Promise<void> {
    const { db, campaignId, ledger, options, stopper } = this.deps;
    // A message in a listing's time range is read by that listing, due when it was planned or not.
    const covered = (m: DueMessage) => this.#listQueue.some((w) => m.sent_after >= w.from && m.sent_after <= w.to) ||
      (this.#current !== null && m.sent_after >= this.#current.from && m.sent_after <= this.#current.to);
    const due = all.filter((m) => !this.#listing.has(m.message_uuid) && !covered(m));
    if (due.length === 0) {
      await stopper.sleep(250); // all of them are being listed
      return;
    }
    const margin = BASE_MARGIN_MS + this.#skewMs;
    const from = new Date(due[0]!.sent_after.getTime() - margin);
    const to = new Date(Math.max(...due.map((m) => m.submitted_at.getTime())) + margin);
    const times = options.trackBy === 'get' ? [] : await ledger.run(() => sendTimes(db, campaignId, from, to, 50 * DUE_PER_ROUND));
    // The slots the queued windows will take are not this round's.
    const queued = this.#listQueue.reduce((n, w) => n + w.pages, 0);
    const listSlots = options.trackBy === 'auto' ? (await ledger.run(() => this.#listSlots.freeIn())).slice(queued) : [];
    const plan = planLooks({
      due, sendTimes: times, marginMs: margin, recordsPerOwn: this.#recordsPerOwn, by: options.trackBy,
      listSlots, getsPerSecond: this.#getsPerSecond, getOnly: this.#getOnly,
      ...(options.trackBy === 'auto' ? { maxWindowPages: AUTO_WINDOW_PAGES } : {}), now: Date.now(),
    });
    // Windows of one round are adjacent: a record one returns may be due in the next; `seen` spans them.
    const seen = new Set<string>();
    for (const w of plan.windows) {
      this.#listQueue.push({ ...w, seen });
      for (const m of w.due) this.#listing.add(m.message_uuid);
    }
    this.#startListing();
    await this.#getEach(plan.gets);
    if (plan.gets.length === 0) await stopper.sleep(250);
  }

  #startListing(): void {
    if (this.#listWorker || this.#listQueue.length === 0 || this.#listFailure !== undefined) return;
    this.#listWorker = this.#drainListQueue().finally(() => {
      this.#listWorker = null;
      this.#startListing(); // windows queued while it was finishing
    });
  }

  /** Lists the queued windows in order; a due message no listing returned is asked for by GET next. */
  async #drainListQueue(): Promise<void> {
    for (let w = this.#listQueue.shift(); w && !this.deps.stopper.stopped && this.#role.held; w = this.#listQueue.shift()) {
      this.#current = w;
      try {
        if (!(await this.#slotsSoon(w.due.length, w.pages))) {
          // Another run took the List slots since the window was planned: read its messages by GET now.
          for (const m of w.due) this.#getOnly.add(m.message_uuid);
          continue;
        }
        await this.#listWindow(w, w.seen);
        // Whatever no listing returned (Plivo's clock further off than our margin) is asked for by uuid.
        for (const m of w.due) if (!w.seen.has(m.message_uuid)) this.#getOnly.add(m.message_uuid);
      } catch (err) {
        if (!(err instanceof PlivoApiError) || err.kind === 'auth') {
          this.#listFailure ??= err;
          return;
        }
        for (const m of w.due) this.#getOnly.add(m.message_uuid); // the List API is unwell: GET them
      } finally {
        this.#current = null;
        for (const m of w.due) this.#listing.delete(m.message_uuid);
      }
    }
    for (const w of this.#listQueue) for (const m of w.due) this.#listing.delete(m.message_uuid);
  }

  /** Lists one window, applying each page as it comes; `seen` collects the uuids returned. */
  async #listWindow(w: ListWindow, seen: Set<string>): Promise<void> {
    const { db, ledger } = this.deps;
    const due = new Map(w.due.map((m) => [m.message_uuid, m]));
    let records = 0;
    let ours = 0;
    await listPages(
      this.deps,
      { message_direction: 'outbound', message_time__gte: w.from, message_time__lte: w.to },
      PRIORITY.track,
      async (page) => {
        // A record that cannot be read is skipped: if it is one of ours, its message was not seen, and a
        // due message not seen is asked for by GET (#drainListQueue). It still took its place on the page.
        const fresh = page.objects.filter((r) => r.direction === 'outbound' && !seen.has(r.messageUuid));
        records += fresh.length + page.unreadable.length;
        for (const r of page.objects) seen.add(r.messageUuid);
        if (fresh.length > 0) {
          const { finals, matched } = await ledger.run(() => applyProviderUpdates(db, fresh.map((r) => this.#update(r, 'list', due.get(r.messageUuid)))));
          ours += matched;
          this.#finals(finals);
        }
        // The next page's slot went to another run meanwhile: the due messages not seen yet go by GET.
        if (page.next && !(await this.#slotsSoon(w.due.filter((m) => !seen.has(m.message_uuid)).length, 1))) return 'abandon';
        return undefined;
      },
    );
    if (ours > 0) this.#recordsPerOwn = Math.max(1, 0.7 * this.#recordsPerOwn + 0.3 * (records / ours));
  }

  get #getsPerSecond(): number {
    return this.deps.options.getsPerSecond ?? trackingGetsPerSecond(this.#sending);
  }

  /**
   * Whether `pages` List slots come free soon enough for a listing that should find `due` due messages
   * (auto; the other modes always wait), judged as the planner judged it: within the horizon, or before
   * GETs of those messages would be done.
   */
  async #slotsSoon(due: number, pages: number): Promise<boolean> {
    if (this.deps.options.trackBy !== 'auto') return true;
    const slots = await this.deps.ledger.run(() => this.#listSlots.freeIn());
    return (slots[pages - 1] ?? Infinity) <= listWaitLimitMs(due, this.#getsPerSecond);
  }

  async #getEach(due: readonly DueMessage[]): Promise<void> {
    if (due.length === 0) return;
    const { client, limiters, stopper, db, ledger, campaignId } = this.deps;
    const queue = new PQueue({ concurrency: GETS_AT_ONCE });
    let updates: ProviderUpdate[] = [];
    let retryLater: { uuid: string; delayMs: number }[] = [];
    let gone: { uuid: string; reason: string }[] = [];
    const save = async (): Promise<void> => {
      const [u, r, g] = [updates, retryLater, gone];
      updates = [];
      retryLater = [];
      gone = [];
      const { finals } = await ledger.run(async () => {
        await postponeLookups(db, r);
        return applyProviderUpdates(db, u);
      });
      const givenUp = await ledger.run(() => giveUpUnknown(db, g));
      // A message given up before its number was learnt may leave its recipient unlinked.
      if (givenUp.length > 0) await ledger.run(() => enrollUnlinked(db, campaignId, givenUp));
      this.#finals(finals + givenUp.length);
    };
    let saving = Promise.resolve();
    let fatal: unknown;
    const saveSoon = () => {
      if (updates.length + retryLater.length + gone.length >= SAVE_EVERY) saving = saving.then(save).catch((err: unknown) => { fatal ??= err; });
    };
    for (const m of due) {
      void queue.add(async () => {
        if (stopper.stopped || fatal !== undefined || !this.#role.held) return;
        try {
          const mdr = await limiters.requests.schedule({ priority: PRIORITY.track }, () => client.getMessage(m.message_uuid));
          this.#getOnly.delete(m.message_uuid);
          if (mdr) updates.push(this.#update(mdr, 'get', m));
          else if (Date.now() >= m.give_up_at.getTime()) gone.push({ uuid: m.message_uuid, reason: this.#givenUp('unknown', m) });
          else retryLater.push({ uuid: m.message_uuid, delayMs: this.#untilGiveUp(m, nextLookIn(Date.now() - m.sent_after.getTime())) });
        } catch (err) {
          if (!(err instanceof PlivoApiError) || err.kind === 'auth') fatal ??= err;
          // Plivo busy: soon again. An answer we cannot read would read the same soon after: space those out.
          else retryLater.push({ uuid: m.message_uuid, delayMs: err.kind === 'permanent' ? nextLookIn(Date.now() - m.sent_after.getTime()) : RETRY_LOOKUP_MS });
        }
        saveSoon();
      });
    }
    await queue.onIdle();
    await saving;
    await save();
    if (fatal !== undefined) throw fatal;
  }

  /** `delayMs`, or less so that the look lands just after the message's give-up time. */
  #untilGiveUp(m: DueMessage, delayMs: number): number {
    return Math.max(0, Math.min(delayMs, m.give_up_at.getTime() - Date.now() + 1000));
  }

  #givenUp(what: 'queued' | 'unknown', m: DueMessage): string {
    const after = `${duration(Date.now() - m.sent_after.getTime())} after it was sent, past its message_expiry (${duration(m.expiry_s * 1000)}) ` +
      `and a ${duration(this.#giveUpMarginMs)} margin`;
    return what === 'queued'
      ? `given up: Plivo still held it queued ${after}; Plivo fails such a message (error 420), so it was most likely never sent`
      : `given up: Plivo had no record of it (404) ${after}; not delivered as far as anyone can tell`;
  }

  #update(mdr: Mdr, via: UpdateSource, sent?: DueMessage): ProviderUpdate {
    const now = Date.now();
    const age = now - mdr.messageTime.getTime();
    const cutoff = this.deps.options.receiptCutoffMs;
    const expired = mdr.state === 'queued' && sent !== undefined && now >= sent.give_up_at.getTime();
    const final = FINAL_STATES.has(mdr.state) || (mdr.state === 'sent' && age >= cutoff) || expired;
    if (sent) {
      // Ours for sure (a List page also holds other traffic): what it shows teaches the look schedule.
      this.#learnSkew(mdr.messageTime.getTime(), sent);
      if (!final) this.#schedule.observe(mdr.messageUuid, { ms: age, final: false });
      // Only Plivo's own final states time a delivery; smsrun's cut-offs (sent, queued) would bias the schedule.
      else if (FINAL_STATES.has(mdr.state) && mdr.updatedTime) this.#schedule.observe(mdr.messageUuid, { ms: mdr.updatedTime.getTime() - mdr.messageTime.getTime(), final: true });
    }
    // A message still `sent` is looked at again when its cut-off passes, if that comes first.
    const again = this.#schedule.nextLookIn(age);
    const next = mdr.state === 'sent' ? Math.min(again, cutoff - age + 1)
      : mdr.state === 'queued' && sent ? this.#untilGiveUp(sent, again) : again;
    return {
      uuid: mdr.messageUuid,
      toNumber: mdr.toNumber.replace(/^\+/, ''),
      state: mdr.state,
      final,
      reason: expired ? this.#givenUp('queued', sent) : null,
      errorCode: mdr.errorCode,
      units: mdr.units,
      totalRate: mdr.totalRate,
      totalAmount: mdr.totalAmount,
      messageTime: mdr.messageTime,
      providerUpdatedAt: mdr.updatedTime ?? null,
      sequence: null,
      via,
      nextPollAt: new Date(now + Math.max(1000, next)),
    };
  }

  #learnSkew(messageTime: number, m: DueMessage): void {
    const off = Math.max(m.sent_after.getTime() - messageTime, messageTime - m.submitted_at.getTime(), 0);
    if (off > this.#skewMs) this.#skewMs = Math.min(MAX_SKEW_MS, off);
  }

  #finals(count: number): void {
    if (count > 0) this.deps.onEvent?.({ kind: 'final', count });
  }
}

/** 3h00m, 15m, 42s. */
function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.round(s / 60);
  return m < 60 ? `${m}m` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
