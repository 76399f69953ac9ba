/**
 * Settles ambiguous attempts by asking Plivo what it has, never by guessing. Plivo has no idempotency
 * key, so an attempt whose answer was lost (timeout, reset, 5xx, killed process) is looked up in the List
 * API once its window has closed (src/send/window.ts has the arithmetic and its proof). All of one
 * sender's due batches whose windows lie close together are looked up in one listing, within the List
 * API's 20 requests per minute.
 *
 * A verdict comes only from a complete listing of a closed window, taken while the measured clock skew
 * is within the margin:
 * - a record is attributed to a batch only when no other open batch (of any campaign) could own it:
 *   Plivo's records carry no text, so a contested record waits until the others settle, or for the
 *   operator (`smsrun resolve`);
 * - what is missing is sent again only after a second listing, at least a minute after the first, misses
 *   it too (Plivo's List index lag is undocumented); that second listing reaches up to when it began, since
 *   Plivo may take a request long after its client gave up (window.ts).
 */
import type { Db } from '../ledger/db.js';
import { adoptOrphans, inFlightOwners } from '../ledger/sending.js';
import { deadAmong } from '../ledger/runners.js';
import { ALWAYS_HELD, type Role } from '../ledger/roles.js';
import type { LedgerRetry } from './ledger-retry.js';
import {
  absentAttempts, countUnsettledBatches, dueAmbiguousBatches, knownUuids, recordFirstMiss, recordReconciled, rivalBatches,
  type AmbiguousBatch, type FoundMessage,
} from '../ledger/reconcile.js';
import { recordEvent } from '../ledger/campaigns.js';
import { PlivoApiError, type ListFilter, type ListPage } from '../plivo/client.js';
import { mayBeAmong, senderFilter } from '../plivo/list.js';
import type { Mdr } from '../plivo/types.js';
import { RunFailedError } from '../errors.js';
import { listPages, ListingStoppedError, type ListClient } from './list-pages.js';
import { PRIORITY, type Limiters } from './limits.js';
import { ledgerOffset, plivoOffset, skewBound } from './skew.js';
import { foldTallies } from '../ledger/tallies.js';
import type { Stopper } from './stopper.js';
import {
  closedAt, CONFIRM_ABSENT_MS, GROUP_GAP_MS, MAX_SKEW_MS, SKEW_HEADROOM_MS, SYSTEM_CLOCK, searchEnd, windowStart, type Clock,
} from './window.js';

/**
 * How often the reconcile role's holder folds the campaign's tally rows: each connection that wrote adds rows of
 * its own, a few per sender and status, so a fold every half minute keeps a summary's rows from growing with
 * the connections a long campaign opens.
 */
const FOLD_EVERY_MS = 30_000;

export interface ReconcileOptions {
  /** This run's request timeout: the window of an attempt written before sql/008 uses at least this. */
  requestTimeoutMs: number;
  /** Least time between the two listings that must both miss a message before it is sent again. @default 60000 */
  confirmAbsentMs?: number;
  /** Consecutive List failures after which the run stops (ambiguous batches stay for a later run). */
  maxFailures: number;
  /**
   * Times one batch may be answered ambiguously (a 5xx, say) and then found absent before the run stops:
   * every 5xx now goes through reconciliation, so a Plivo failing every send would otherwise loop. @default 8
   */
  maxAbsent?: number;
}

export type ReconcileEvent =
  /** A lookup in Plivo's records begins, for `batches` ambiguous batches (`size` recipients) of one sender. */
  | { kind: 'reconciling'; sender: string; batches: number; size: number }
  | { kind: 'reconciled'; batchId: number; verdict: 'accepted' | 'absent' | 'split'; found: number; size: number }
  | { kind: 'reconcile_held'; batchId: number; reason: string };

export class Reconciler {
  #failures = 0;
  /** The bound on |Plivo − ledger| the next windows are widened by: the margin until it is measured. */
  #skewMs = MAX_SKEW_MS;
  /** Per sender, the records per ms its last window listing counted: to skip a first page that would be abandoned. */
  readonly #density = new Map<string, number>();
  readonly #clock: Clock;
  /**
   * When this process, holding the reconcile role, next folds the campaign's tally rows (ledger/tallies.ts): not
   * in the first pass, which runs beside a run's or a resume's first claim; the end of a run folds in any case.
   */
  #foldAt: number;

  constructor(private readonly deps: {
    db: Db; client: ListClient; campaignId: number; owner: string; ledger: LedgerRetry;
    limiters: Limiters; options: ReconcileOptions; stopper: Stopper; onEvent?: (e: ReconcileEvent) => void; clock?: Clock;
    /** This process's `reconcile` role (ledger/roles.ts): without it, a pass only counts what is left. @default ALWAYS_HELD */
    role?: Role;
  }) {
    this.#clock = deps.clock ?? SYSTEM_CLOCK;
    this.#foldAt = this.#clock.now() + FOLD_EVERY_MS;
  }

  /**
   * Runs until `keepGoing` says the senders are done and nothing ambiguous is left, or the run stops. While
   * another process holds the role, it waits for that one's work to show in the ledger, ready to take over.
   */
  async run(keepGoing: () => boolean): Promise<void> {
    const { stopper, db, campaignId } = this.deps;
    while (!stopper.stopped) {
      const reconciling = this.#role.held;
      const pending = await this.deps.ledger.run(() => (reconciling ? this.pass() : countUnsettledBatches(db, campaignId)));
      if (!keepGoing() && pending === 0) return;
      await stopper.sleep(pending > 0 && reconciling ? 250 : 1000);
    }
  }

  get #role(): Role {
    return this.deps.role ?? ALWAYS_HELD;
  }

  /** The skew bound the windows are widened by now (ms). */
  get skewMs(): number {
    return this.#skewMs;
  }

  /** Adopts orphaned attempts and reconciles every ambiguous batch that is due. Returns how many remain. */
  async pass(): Promise<number> {
    const { db, campaignId, owner, options } = this.deps;
    if (this.#clock.now() >= this.#foldAt) {
      await foldTallies(db, campaignId);
      this.#foldAt = this.#clock.now() + FOLD_EVERY_MS;
    }
    await adoptOrphans(db, campaignId, owner, await deadAmong(db, await inFlightOwners(db, campaignId, owner), owner));
    const due = await dueAmbiguousBatches(db, campaignId, {
      now: new Date(this.#clock.now()), skewMs: this.#skewMs, requestTimeoutMs: options.requestTimeoutMs, confirmMs: this.#confirmMs,
    });
    await this.#reconcileAll(due);
    return countUnsettledBatches(db, campaignId);
  }

  /**
   * Reconciles the due batches group by group. A listing measures the skew, and the windows of the groups not
   * listed yet are recomputed with it: the first lookup of a run uses the 5 s margin, the next ones the
   * measurement (about 2 s), so they page through less traffic and windows that no longer touch are listed
   * apart. A batch whose window is not closed under a larger new bound waits for a later pass.
   */
  async #reconcileAll(due: readonly AmbiguousBatch[]): Promise<void> {
    let left = [...due];
    while (left.length > 0 && !this.deps.stopper.stopped) {
      const skewMs = this.#skewMs;
      for (const group of groupBySender(left, skewMs, this.#clock.now())) {
        if (this.deps.stopper.stopped || !this.#role.held) return; // a role lost mid-pass: its new holder lists
        await this.#reconcileGroup(group);
        left = left.filter((b) => !group.includes(b));
        if (this.#skewMs !== skewMs) {
          const now = this.#clock.now();
          left = left.filter((b) => closedAt(b, this.#skewMs) <= now);
          break;
        }
      }
    }
  }

  get #confirmMs(): number {
    return this.deps.options.confirmAbsentMs ?? CONFIRM_ABSENT_MS;
  }

  /** One sender's due batches, settled from one listing of the window that covers all their attempts. */
  async #reconcileGroup(batches: readonly AmbiguousBatch[]): Promise<void> {
    const { db, options, stopper } = this.deps;
    const skewUsed = this.#skewMs;
    const listedAt = new Date(this.#clock.now());
    this.deps.onEvent?.({ kind: 'reconciling', sender: batches[0]!.sender, batches: batches.length, size: batches.reduce((n, b) => n + b.dsts.length, 0) });
    let listing: { records: Mdr[]; skewMs: number };
    try {
      listing = await this.#lookUp(batches, skewUsed, listedAt.getTime());
    } catch (err) {
      if (stopper.stopped) return; // a listing cut short proves nothing; the batches stay ambiguous
      if (!(err instanceof PlivoApiError) || err.kind === 'auth' || ++this.#failures >= options.maxFailures) {
        throw new RunFailedError(`cannot reconcile ${batches.length} batch(es) from ${batches[0]!.sender}: Plivo's List API failed (${(err as Error).message}). ` +
          "Their recipients are held as 'sending' and will not be sent twice; run the same command later, or see 'smsrun status' to resolve them by hand.", { cause: err });
      }
      return;
    }
    // Windows as narrow as the measurement allows, with headroom for the next measurement's jitter.
    this.#skewMs = Math.min(MAX_SKEW_MS, listing.skewMs + SKEW_HEADROOM_MS);
    if (listing.skewMs > MAX_SKEW_MS) {
      // Refused while the clocks differ by more than the margin: a window cannot be trusted.
      if (++this.#failures >= options.maxFailures) {
        throw new RunFailedError(`cannot reconcile: Plivo's clock and the ledger's differ by up to ${(listing.skewMs / 1000).toFixed(1)} s ` +
          `(measured from Plivo's Date header), more than the ${MAX_SKEW_MS / 1000} s reconciliation allows. Ambiguous batches stay held as 'sending'; ` +
          "synchronise this machine's clock and the database server's (NTP), then run the same command again.");
      }
      return;
    }
    if (listing.skewMs > skewUsed) return; // the window was narrower than the clocks' difference: list again, wider
    this.#failures = 0;
    const known = await knownUuids(db, listing.records.map((r) => r.messageUuid));
    for (const batch of batches) await this.#settle(batch, listing.records, known, skewUsed, listedAt);
  }

  /** Decides one batch from a complete listing begun at `listedAt`, or holds it with a stated reason. */
  async #settle(batch: AmbiguousBatch, records: readonly Mdr[], known: ReadonlySet<string>, skewMs: number, listedAt: Date): Promise<void> {
    const { db, campaignId, onEvent, options } = this.deps;
    const found = match(batch, records, known, skewMs, listedAt.getTime());
    const rivals = await rivalBatches(db, batch, found.map((f) => ({ dst: f.dst, time: f.time })), { skewMs });
    if (rivals.size > 0) {
      const others = [...new Set([...rivals.values()].flat())].sort((a, b) => a - b);
      return this.#hold(batch, `${rivals.size} record(s) could also be batch ${others.join(', ')}'s (same sender and number, still unsettled, claimed before the record's time): ` +
        "held until those settle; if they never do, see 'smsrun resolve'");
    }
    if (found.length < batch.dsts.length) {
      const confirmed = batch.absentSeenAt !== null && listedAt.getTime() >= batch.absentSeenAt.getTime() + this.#confirmMs;
      if (!confirmed) {
        if (batch.absentSeenAt === null) await recordFirstMiss(db, batch, listedAt);
        return this.#hold(batch, `${batch.dsts.length - found.length} of ${batch.dsts.length} not in Plivo's records yet: ` +
          `listed again in ${Math.round(this.#confirmMs / 1000)} s before anything is sent again`);
      }
    }
    const verdict = await recordReconciled(db, batch, found);
    if (verdict === 'stale') return; // settled meanwhile, by an operator or another process
    await recordEvent(db, campaignId, 'reconciled', { batch: batch.batchId, attempt: batch.attemptId, verdict, found: found.length, size: batch.dsts.length });
    onEvent?.({ kind: 'reconciled', batchId: batch.batchId, verdict, found: found.length, size: batch.dsts.length });
    const absent = verdict === 'absent' ? await absentAttempts(db, batch.batchId) : 0;
    if (absent >= (options.maxAbsent ?? 8)) {
      throw new RunFailedError(`batch ${batch.batchId} (from ${batch.sender}) got no clear answer ${absent} times, and each time Plivo's records showed nothing was sent. ` +
        'Its recipients are pending and nothing was lost or sent twice; Plivo seems to be failing: run the same command again later.');
    }
  }

  async #hold(batch: AmbiguousBatch, reason: string): Promise<void> {
    await recordEvent(this.deps.db, this.deps.campaignId, 'reconcile_held', { batch: batch.batchId, attempt: batch.attemptId, reason });
    this.deps.onEvent?.({ kind: 'reconcile_held', batchId: batch.batchId, reason });
  }

  /**
   * Every outbound message from the batches' sender in the window around their attempts (up to `listedAtMs`
   * for a batch whose first listing missed messages: window.ts, searchEnd), all pages, and
   * the skew bound measured from the pages' Date headers and the ledger's clock. The cheapest lookup: the
   * sender's window, unless its first page shows more pages left than there are numbers, in which case
   * one listing per number (`to_number`, usually one page each) replaces the rest. When the sender's last
   * window showed traffic that would fill more than twice as many pages as there are numbers, that first
   * page is skipped too (an estimate only chooses the cost, never what is concluded).
   */
  async #lookUp(batches: readonly AmbiguousBatch[], skewMs: number, listedAtMs: number): Promise<{ records: Mdr[]; skewMs: number }> {
    const dsts = [...new Set(batches.flatMap((b) => b.dsts))];
    const sender = batches[0]!.sender;
    const window: ListFilter = {
      message_direction: 'outbound',
      message_time__gte: new Date(Math.min(...batches.map((b) => windowStart(b, skewMs)))),
      message_time__lte: new Date(Math.max(...batches.map((b) => searchEnd(b, skewMs, listedAtMs)))),
      ...senderFilter(sender),
    };
    const records: Mdr[] = [];
    const wanted = { sender, to: new Set(dsts) };
    let plivo: { lo: number; hi: number } | null = null;
    const read = (page: ListPage): void => {
      // A record we cannot read is skipped if it cannot be these batches' (list.ts, mayBeAmong); else no verdict.
      const doubt = page.unreadable.find((r) => mayBeAmong(r, wanted));
      if (doubt) throw new PlivoApiError('retryable', `Plivo listed a record that may be one of these batches' messages but cannot be read (${doubt.reason})`);
      records.push(...page.objects);
      const offset = page.answered ? plivoOffset(page.answered) : null;
      if (offset) plivo = plivo === null ? offset : { lo: Math.min(plivo.lo, offset.lo), hi: Math.max(plivo.hi, offset.hi) };
    };
    const spanMs = window.message_time__lte!.getTime() - window.message_time__gte!.getTime();
    const density = this.#density.get(sender);
    const busy = density !== undefined && Math.ceil((density * spanMs) / PAGE_SIZE) > 2 * dsts.length;
    let whole: 'complete' | 'abandoned' = 'abandoned';
    if (dsts.length > 1 && !busy) {
      whole = await listPages(this.deps, window, PRIORITY.reconcile, (page) => {
        read(page);
        if (page.totalCount === undefined) return undefined;
        this.#density.set(sender, page.totalCount / Math.max(1, spanMs));
        if (page.next && Math.ceil(page.totalCount / PAGE_SIZE) - 1 > dsts.length) {
          records.length = 0;
          return 'abandon';
        }
        return undefined;
      });
    }
    if (whole === 'abandoned') {
      for (const dst of dsts) {
        if (this.deps.stopper.stopped) throw new ListingStoppedError(0);
        await listPages(this.deps, { ...window, to_number: dst }, PRIORITY.reconcile, read);
      }
    }
    // Without a Date header nothing is measured: the margin stands.
    const measured = plivo === null ? MAX_SKEW_MS : skewBound(plivo, await ledgerOffset(this.deps.db));
    return { records, skewMs: measured };
  }
}

/** Records per List page (Plivo's largest limit, and its default). */
const PAGE_SIZE = 20;

/**
 * Per sender, runs of batches whose windows overlap or touch: one listing covers them. Windows further
 * apart are listed separately, so a listing never pages through the traffic between them (at 20 msg/s a
 * minute between two windows is 60 pages). A confirming window reaches up to its listing (`now`), so the
 * sender's later batches are listed with it: that listing pages through their windows in any case.
 */
function groupBySender(batches: readonly AmbiguousBatch[], skewMs: number, now: number): AmbiguousBatch[][] {
  const bySender = new Map<string, AmbiguousBatch[]>();
  for (const b of batches) bySender.set(b.sender, [...(bySender.get(b.sender) ?? []), b]);
  const groups: AmbiguousBatch[][] = [];
  for (const list of bySender.values()) {
    list.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
    let group: AmbiguousBatch[] = [];
    let end = -Infinity;
    for (const b of list) {
      if (group.length > 0 && windowStart(b, skewMs) > end + GROUP_GAP_MS) {
        groups.push(group);
        group = [];
      }
      group.push(b);
      end = Math.max(end, searchEnd(b, skewMs, now));
    }
    groups.push(group);
  }
  return groups;
}

/**
 * Each of the batch's numbers matched to at most one outbound record inside the batch's own window (for a
 * confirming listing, up to when it began at `listedAtMs`) and not already attributed.
 */
export function match(
  batch: AmbiguousBatch, records: readonly Mdr[], known: ReadonlySet<string>, skewMs: number, listedAtMs: number,
): (FoundMessage & { time: Date })[] {
  const wanted = new Set(batch.dsts);
  const from = windowStart(batch, skewMs);
  const to = searchEnd(batch, skewMs, listedAtMs);
  const found: (FoundMessage & { time: Date })[] = [];
  for (const r of records) {
    const dst = r.toNumber.replace(/^\+/, '');
    const t = r.messageTime.getTime();
    if (r.direction !== 'outbound' || known.has(r.messageUuid) || !wanted.has(dst) || t < from || t > to) continue;
    wanted.delete(dst);
    found.push({ uuid: r.messageUuid, dst, time: r.messageTime });
  }
  return found;
}
