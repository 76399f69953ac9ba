/**
 * Settles ambiguous attempts by asking Plivo what it has, never by guessing. Plivo has no idempotency
 * key, so an attempt whose answer was lost (timeout, reset, killed process) is looked up in the List
 * API once its request can no longer be in progress: one time window and one sender cover a whole
 * batch, so a batch costs one List request (a page per 20 messages found), within the List API's
 * 20 requests per minute. What is found is recorded with its uuid; what is absent is sent again.
 */
import type { Db } from '../ledger/db.js';
import { adoptOrphans, inFlightOwners } from '../ledger/sending.js';
import { deadAmong } from '../ledger/runners.js';
import type { LedgerRetry } from './ledger-retry.js';
import { countUnsettledBatches, dueAmbiguousBatches, knownUuids, recordReconciled, type AmbiguousBatch, type FoundMessage } from '../ledger/reconcile.js';
import { recordEvent } from '../ledger/campaigns.js';
import type { ListFilter, ListPage, PlivoClient } from '../plivo/client.js';
import type { Mdr } from '../plivo/types.js';
import { toE164 } from '../sms/numbers.js';
import { RunFailedError } from '../errors.js';
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
    const due = await dueAmbiguousBatches(db, campaignId, options.requestTimeoutMs + options.settleMs);
    for (const batch of due) {
      if (this.deps.stopper.stopped) break;
      await this.#reconcileOne(batch);
    }
    return countUnsettledBatches(db, campaignId);
  }

  async #reconcileOne(batch: AmbiguousBatch): Promise<void> {
    const { db, campaignId, onEvent, options } = this.deps;
    let records: Mdr[];
    try {
      records = await this.#lookUp(batch);
      this.#failures = 0;
    } catch (err) {
      if (++this.#failures >= options.maxFailures) {
        throw new RunFailedError(`cannot reconcile batch ${batch.batchId}: Plivo's List API failed ${this.#failures} times (${(err as Error).message}). ` +
          "Its recipients are held as 'sending' and will not be sent twice; run the same command later, or see 'smsrun status' to resolve it by hand.");
      }
      return;
    }
    const found = match(batch, records, await knownUuids(db, records.map((r) => r.messageUuid)));
    const verdict = await recordReconciled(db, batch, found);
    if (verdict === 'stale') return; // settled meanwhile, by an operator or another process
    await recordEvent(db, campaignId, 'reconciled', { batch: batch.batchId, attempt: batch.attemptId, verdict, found: found.length, size: batch.dsts.length });
    onEvent?.({ kind: 'reconciled', batchId: batch.batchId, verdict, found: found.length, size: batch.dsts.length });
  }

  /** Every outbound message from the batch's sender in a window around the attempt, all pages. */
  async #lookUp(batch: AmbiguousBatch): Promise<Mdr[]> {
    const { client, limiters, options } = this.deps;
    const started = batch.startedAt.getTime();
    const filter: ListFilter = {
      message_direction: 'outbound',
      // A minute either side absorbs clock skew between us and Plivo.
      message_time__gte: new Date(started - 60_000),
      message_time__lte: new Date(started + options.requestTimeoutMs + 60_000),
      ...(batch.sender.startsWith('powerpack:')
        ? { powerpack_id: batch.sender.slice('powerpack:'.length) }
        : { from_number: batch.sender }),
      ...(batch.dsts.length === 1 ? { to_number: toE164(batch.dsts[0]!) } : {}),
    };
    const listed = (call: () => Promise<ListPage>) =>
      limiters.listRequests.schedule(() => limiters.requests.schedule({ priority: PRIORITY.reconcile }, call));
    const records: Mdr[] = [];
    let page = await listed(() => client.listMessages(filter));
    records.push(...page.objects);
    while (page.next) {
      const next = page.next;
      page = await listed(() => client.listNext(next));
      records.push(...page.objects);
    }
    return records;
  }
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
