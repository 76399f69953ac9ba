/**
 * Settles ambiguous attempts by asking Plivo what it has, never by guessing. Plivo has no idempotency
 * key, so an attempt whose answer was lost (timeout, reset, killed process) is looked up in the List
 * API once its request can no longer be in progress. All of one sender's due batches are looked up in
 * one listing: one sender and one time window around their attempts, a page per 20 messages in it,
 * within the List API's 20 requests per minute. The window is closed (wholly in the past) before it is
 * paged, so offset paging cannot skip a record that arrives meanwhile. What is found is recorded with its
 * uuid; what is provably absent is sent again.
 */
import type { Db } from '../ledger/db.js';
import { adoptOrphans, inFlightOwners } from '../ledger/sending.js';
import { deadAmong } from '../ledger/runners.js';
import type { LedgerRetry } from './ledger-retry.js';
import { countUnsettledBatches, dueAmbiguousBatches, knownUuids, recordReconciled, type AmbiguousBatch, type FoundMessage } from '../ledger/reconcile.js';
import { recordEvent } from '../ledger/campaigns.js';
import { PlivoApiError, type ListFilter, type PlivoClient } from '../plivo/client.js';
import { mayBeAmong } from '../plivo/list.js';
import type { Mdr } from '../plivo/types.js';
import { toE164 } from '../sms/numbers.js';
import { RunFailedError } from '../errors.js';
import { listPages } from './list-pages.js';
import { PRIORITY, type Limiters } from './limits.js';
import type { Stopper } from './stopper.js';

export interface ReconcileOptions {
  /** The request timeout: until it has passed, the original request may still be processed. */
  requestTimeoutMs: number;
  /** Extra wait for Plivo's records to show a message it accepted. */
  settleMs: number;
  /** Consecutive List failures after which the run stops (ambiguous batches stay for a later run). */
  maxFailures: number;
}

export type ReconcileEvent = { kind: 'reconciled'; batchId: number; verdict: 'accepted' | 'absent' | 'split'; found: number; size: number };

export class Reconciler {
  #failures = 0;

  constructor(private readonly deps: {
    db: Db; client: PlivoClient; campaignId: number; owner: string; ledger: LedgerRetry;
    limiters: Limiters; options: ReconcileOptions; stopper: Stopper; onEvent?: (e: ReconcileEvent) => void;
  }) {}

  /** Runs until `keepGoing` says the senders are done and nothing ambiguous is left, or the run stops. */
  async run(keepGoing: () => boolean): Promise<void> {
    const { stopper } = this.deps;
    while (!stopper.stopped) {
      const pending = await this.deps.ledger.run(() => this.pass());
      if (!keepGoing() && pending === 0) return;
      await stopper.sleep(pending > 0 ? 250 : 1000);
    }
  }

  /** Adopts orphaned attempts and reconciles every ambiguous batch that is due. Returns how many remain. */
  async pass(): Promise<number> {
    const { db, campaignId, owner, options } = this.deps;
    await adoptOrphans(db, campaignId, owner, await deadAmong(db, await inFlightOwners(db, campaignId, owner), owner));
    // Due once the window it will be looked up in has closed: no record can enter it while we page.
    const due = await dueAmbiguousBatches(db, campaignId, options.requestTimeoutMs + CLOCK_MARGIN_MS + options.settleMs);
    for (const group of groupBySender(due)) {
      if (this.deps.stopper.stopped) break;
      await this.#reconcileGroup(group);
    }
    return countUnsettledBatches(db, campaignId);
  }

  /** One sender's due batches, settled from one listing of the window that covers all their attempts. */
  async #reconcileGroup(batches: readonly AmbiguousBatch[]): Promise<void> {
    const { db, campaignId, onEvent, options } = this.deps;
    let records: Mdr[];
    try {
      records = await this.#lookUp(batches);
      this.#failures = 0;
    } catch (err) {
      if (!(err instanceof PlivoApiError) || err.kind === 'auth' || ++this.#failures >= options.maxFailures) {
        throw new RunFailedError(`cannot reconcile ${batches.length} batch(es) from ${batches[0]!.sender}: Plivo's List API failed (${(err as Error).message}). ` +
          "Their recipients are held as 'sending' and will not be sent twice; run the same command later, or see 'smsrun status' to resolve them by hand.", { cause: err });
      }
      return;
    }
    const known = await knownUuids(db, records.map((r) => r.messageUuid));
    for (const batch of batches) {
      const found = match(batch, records, known);
      const verdict = await recordReconciled(db, batch, found);
      if (verdict === 'stale') continue; // settled meanwhile, by an operator or another process
      await recordEvent(db, campaignId, 'reconciled', { batch: batch.batchId, attempt: batch.attemptId, verdict, found: found.length, size: batch.dsts.length });
      onEvent?.({ kind: 'reconciled', batchId: batch.batchId, verdict, found: found.length, size: batch.dsts.length });
    }
  }

  /** Every outbound message from the batches' sender in the window around their attempts, all pages. */
  async #lookUp(batches: readonly AmbiguousBatch[]): Promise<Mdr[]> {
    const { client, options } = this.deps;
    const dsts = batches.flatMap((b) => b.dsts);
    const sender = batches[0]!.sender;
    const filter: ListFilter = {
      message_direction: 'outbound',
      message_time__gte: new Date(Math.min(...batches.map((b) => b.startedAt.getTime())) - CLOCK_MARGIN_MS),
      message_time__lte: new Date(Math.max(...batches.map((b) => windowEnd(b, options.requestTimeoutMs)))),
      ...(sender.startsWith('powerpack:') ? { powerpack_id: sender.slice('powerpack:'.length) } : { from_number: sender }),
      ...(dsts.length === 1 ? { to_number: toE164(dsts[0]!) } : {}),
    };
    const records: Mdr[] = [];
    const wanted = { sender, to: new Set(dsts) };
    await listPages(this.deps, filter, PRIORITY.reconcile, (page) => {
      // A record we cannot read is skipped if it cannot be these batches' (list.ts, mayBeAmong); else no verdict.
      const doubt = page.unreadable.find((r) => mayBeAmong(r, wanted));
      if (doubt) throw new PlivoApiError('retryable', `Plivo listed a record that may be one of these batches' messages but cannot be read (${doubt.reason})`);
      records.push(...page.objects);
    });
    return records;
  }
}

/**
 * How far Plivo's clock may be from the ledger's. The look-up window is widened by this much on both
 * sides, and an attempt is reconciled only once the widened window lies wholly in the past.
 */
const CLOCK_MARGIN_MS = 5000;
/** Batches of one sender whose windows are further apart than this are looked up separately. */
const GROUP_GAP_MS = 60_000;

/**
 * The latest time Plivo can have accepted the attempt: it was still in progress, at most, until it was
 * found ambiguous (or its process dead), and a server may take up to a request timeout to process it.
 * The claim time would not do: a claimed request can wait in the account limiter before it leaves.
 */
function windowEnd(b: AmbiguousBatch, requestTimeoutMs: number): number {
  return b.endedAt.getTime() + requestTimeoutMs + CLOCK_MARGIN_MS;
}

/** Per sender, runs of batches close enough in time that one window covers them without paging through much else. */
function groupBySender(batches: readonly AmbiguousBatch[]): AmbiguousBatch[][] {
  const bySender = new Map<string, AmbiguousBatch[]>();
  for (const b of batches) bySender.set(b.sender, [...(bySender.get(b.sender) ?? []), b]);
  const groups: AmbiguousBatch[][] = [];
  for (const list of bySender.values()) {
    list.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
    let group: AmbiguousBatch[] = [];
    let end = -Infinity;
    for (const b of list) {
      if (group.length > 0 && b.startedAt.getTime() > end + GROUP_GAP_MS) {
        groups.push(group);
        group = [];
      }
      group.push(b);
      end = Math.max(end, b.endedAt.getTime());
    }
    groups.push(group);
  }
  return groups;
}

/** Each of the batch's numbers matched to at most one outbound record not already attributed. */
export function match(batch: AmbiguousBatch, records: readonly Mdr[], known: ReadonlySet<string>): FoundMessage[] {
  const wanted = new Set(batch.dsts);
  const found: FoundMessage[] = [];
  for (const r of records) {
    const dst = r.toNumber.replace(/^\+/, '');
    if (r.direction !== 'outbound' || known.has(r.messageUuid) || !wanted.has(dst)) continue;
    wanted.delete(dst);
    found.push({ uuid: r.messageUuid, dst });
  }
  return found;
}
