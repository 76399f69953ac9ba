/**
 * Settles the fate of recipients that no message_uuid reaches (see ledger/unaccounted.ts): each one's
 * number is looked up in Plivo's records, never guessed at.
 *
 * For a batch due for a look, each unlinked number is listed with `to_number` (E.164) and the window of the
 * batch's accepted attempt widened by a margin: a few records at most. A record counts when it is
 * outbound and from the batch's sender. Then:
 * - a record of one of the batch's own messages (its number not yet learnt) is applied, which links it;
 * - a record of a message the ledger already holds in another batch is someone else's;
 * - an unknown record is adopted as the batch's message, unless an unsettled batch in the ledger (ambiguous
 *   or in flight, any campaign) from the same sender wants the same number: it may be that batch's
 *   evidence, so the number waits for that batch to settle;
 * - an unreadable record that may be the number's (plivo/list.ts, mayBeAmong) leaves it in doubt.
 * A number with no record and nothing in doubt is absent. Plivo's List index may lag its 202 (by how much
 * is undocumented), so the first look comes a minute after the 202, and a number is failed only when a
 * second look, a minute after the first, still misses it.
 */
import type { Db } from '../ledger/db.js';
import type { ProviderUpdate } from '../ledger/tracking.js';
import { applyProviderUpdates } from '../ledger/tracking.js';
import {
  adoptMessages, batchesOf, contestedNumbers, dueUnaccounted, postponeUnaccounted, recordUnaccountedLook, type UnaccountedBatch,
} from '../ledger/unaccounted.js';
import { recordEvent } from '../ledger/campaigns.js';
import { PlivoApiError, type PlivoClient } from '../plivo/client.js';
import { mayBeAmong } from '../plivo/list.js';
import type { Mdr } from '../plivo/types.js';
import type { LedgerRetry } from '../send/ledger-retry.js';
import { PRIORITY, type Limiters } from '../send/limits.js';
import { listPages } from '../send/list-pages.js';
import type { Stopper } from '../send/stopper.js';

export interface AccountingOptions {
  /** A batch's records are first looked up this long after its 202. @default 60000 */
  firstLookMs: number;
  /** A number is failed only when a look at least this long after the first still misses it. @default 60000 */
  confirmMs: number;
  /** How far the window is widened around the attempt, for clocks and Plivo's queueing. @default 60000 */
  marginMs: number;
}

export const DEFAULT_ACCOUNTING: AccountingOptions = { firstLookMs: 60_000, confirmMs: 60_000, marginMs: 60_000 };
/** A look the List API could not serve is tried again this much later. */
const RETRY_MS = 10_000;

/** Why a number absent from Plivo's records is failed. */
export function absentReason(b: UnaccountedBatch): string {
  const why = b.cause === 'uuid_count'
    ? `Plivo's 202 for batch ${b.batchId} held ${b.uuids} message_uuid(s) for ${b.numbers} number(s)`
    : `no message of batch ${b.batchId} could be tied to this number`;
  return `not sent as far as Plivo knows: ${why}, and its records show no message to this number from ${b.sender} ` +
    '(looked up twice, a minute apart)';
}

export class Accounting {
  constructor(private readonly deps: {
    db: Db; client: PlivoClient; campaignId: number; limiters: Limiters; stopper: Stopper; ledger: LedgerRetry;
    options: AccountingOptions;
    /** Reads a record into an update, as the tracker does. */
    read(mdr: Mdr): ProviderUpdate;
    onFinals(count: number): void;
  }) {}

  /** Looks at every batch due for a look. */
  async pass(): Promise<void> {
    const { db, campaignId, ledger, options, stopper } = this.deps;
    const due = await ledger.run(() => dueUnaccounted(db, campaignId, options.firstLookMs));
    for (const batch of due) {
      if (stopper.stopped) return;
      await this.#look(batch);
    }
  }

  async #look(batch: UnaccountedBatch): Promise<void> {
    const { db, campaignId, ledger, options } = this.deps;
    let found: Map<string, Mdr[]>;
    let doubtful: Set<string>;
    try {
      ({ found, doubtful } = await this.#records(batch));
    } catch (err) {
      if (!(err instanceof PlivoApiError) || err.kind === 'auth') throw err;
      await ledger.run(() => postponeUnaccounted(db, batch.batchId, RETRY_MS));
      return;
    }
    if (this.deps.stopper.stopped) return; // a listing cut short proves nothing
    const all = [...found.values()].flat();
    const owners = await ledger.run(() => batchesOf(db, all.map((r) => r.messageUuid)));
    const contested = await ledger.run(() => contestedNumbers(db, batch.sender, [...found.keys()]));
    const adopt: { uuid: string; dst: string }[] = [];
    const apply: Mdr[] = [];
    const absent: string[] = [];
    for (const dst of batch.dsts) {
      const records = found.get(dst) ?? [];
      const own = records.find((r) => owners.get(r.messageUuid) === batch.batchId);
      const unknown = records.find((r) => !owners.has(r.messageUuid));
      if (own) apply.push(own);
      else if (unknown && !contested.has(dst)) {
        adopt.push({ uuid: unknown.messageUuid, dst });
        apply.push(unknown);
      } else if (!unknown && !doubtful.has(dst)) absent.push(dst);
    }
    await ledger.run(() => adoptMessages(db, batch.batchId, adopt));
    const { finals } = await ledger.run(() => applyProviderUpdates(db, apply.map((r) => this.deps.read(r))));
    this.deps.onFinals(finals);
    const result = await ledger.run(() => recordUnaccountedLook(db, batch.batchId, { absent, confirmMs: options.confirmMs, reason: absentReason(batch) }));
    if (adopt.length > 0 || result.failed > 0) {
      await ledger.run(() => recordEvent(db, campaignId, 'unaccounted_looked_up', {
        batch: batch.batchId, look: batch.looks + 1, found: adopt.length, failed: result.failed, settled: result.settled,
      }));
    }
  }

  /** Each unlinked number's outbound records from the batch's sender, and the numbers an unreadable record leaves in doubt. */
  async #records(batch: UnaccountedBatch): Promise<{ found: Map<string, Mdr[]>; doubtful: Set<string> }> {
    const { options } = this.deps;
    const found = new Map<string, Mdr[]>();
    const doubtful = new Set<string>();
    const window = {
      message_direction: 'outbound' as const,
      message_time__gte: new Date(batch.startedAt.getTime() - options.marginMs),
      message_time__lte: new Date(batch.endedAt.getTime() + options.marginMs),
    };
    for (const dst of batch.dsts) {
      if (this.deps.stopper.stopped) break;
      const records: Mdr[] = [];
      await listPages(this.deps, { ...window, to_number: dst }, PRIORITY.track, (page) => {
        records.push(...page.objects.filter((r) => r.direction === 'outbound' && bare(r.toNumber) === dst && fromSender(r, batch.sender)));
        if (page.unreadable.some((r) => mayBeAmong(r, { sender: batch.sender, to: new Set([dst]) }))) doubtful.add(dst);
      });
      found.set(dst, records);
    }
    return { found, doubtful };
  }
}

const bare = (n: string) => n.replace(/^\+/, '');

/** Whether a record was sent from a sender key: a sanitised src, or `powerpack:<uuid>`. */
function fromSender(r: Mdr, sender: string): boolean {
  if (sender.startsWith('powerpack:')) return r.raw?.['powerpack_id'] === sender.slice('powerpack:'.length);
  return bare(r.fromNumber) === sender;
}
