/**
 * Brings every accepted message to a final state by reading Plivo's records (GET /Message/{uuid}/),
 * within the account's request budget at low priority, so sending always goes first.
 *
 * Young messages change slowly compared with how often we could ask, so each message is looked at on a
 * schedule by age (see nextLookIn), and never again once final. `sent` with no receipt after the job's
 * `receipt_cutoff_hours` is final-without-receipt: carriers in some countries never send one.
 */
import PQueue from 'p-queue';
import type { Db } from '../ledger/db.js';
import { applyMessageUpdates, dueMessages, postponeLookups, trackingBacklog, type DueMessage, type MessageUpdate } from '../ledger/tracking.js';
import { PlivoApiError, type PlivoClient } from '../plivo/client.js';
import { FINAL_STATES, type Mdr } from '../plivo/types.js';
import { PRIORITY, type Limiters } from '../send/limits.js';
import type { LedgerRetry } from '../send/ledger-retry.js';
import type { Stopper } from '../send/stopper.js';

const LOOKUPS_AT_ONCE = 16;
const DUE_PER_ROUND = 200;
const RETRY_LOOKUP_MS = 5000;

export interface PollerOptions {
  receiptCutoffMs: number;
}

export type TrackEvent = { kind: 'final'; count: number };

export class Poller {
  constructor(private readonly deps: {
    db: Db; client: PlivoClient; campaignId: number; limiters: Limiters; stopper: Stopper; ledger: LedgerRetry;
    options: PollerOptions; onEvent?: (e: TrackEvent) => void;
  }) {}

  /**
   * Polls until every message is final, or `until()` says to stop waiting (the tracking deadline).
   * `sendingDone()` keeps it going while more messages may still be accepted.
   */
  async run(sendingDone: () => boolean, until: () => boolean): Promise<{ open: number }> {
    const { db, campaignId, stopper, ledger } = this.deps;
    while (!stopper.stopped) {
      if (sendingDone() && until()) break;
      const due = await ledger.run(() => dueMessages(db, campaignId, DUE_PER_ROUND));
      if (due.length > 0) {
        await this.#lookUp(due);
        continue;
      }
      const backlog = await ledger.run(() => trackingBacklog(db, campaignId));
      if (sendingDone() && (backlog.open === 0 || until())) return backlog;
      const wait = backlog.nextAt ? backlog.nextAt.getTime() - Date.now() : 500;
      await stopper.sleep(Math.min(1000, Math.max(50, wait)));
    }
    return ledger.run(() => trackingBacklog(db, campaignId));
  }

  async #lookUp(due: readonly DueMessage[]): Promise<void> {
    const { client, limiters, db, onEvent, stopper } = this.deps;
    const queue = new PQueue({ concurrency: LOOKUPS_AT_ONCE });
    const updates: MessageUpdate[] = [];
    const retryLater: string[] = [];
    for (const m of due) {
      void queue.add(async () => {
        if (stopper.stopped) return;
        try {
          const mdr = await limiters.requests.schedule({ priority: PRIORITY.track }, () => client.getMessage(m.message_uuid));
          if (mdr) updates.push(this.#update(mdr, m));
          else retryLater.push(m.message_uuid);
        } catch (err) {
          if (!(err instanceof PlivoApiError) || err.kind === 'auth') throw err;
          retryLater.push(m.message_uuid);
        }
      });
    }
    await queue.onIdle();
    await this.deps.ledger.run(async () => {
      await applyMessageUpdates(db, updates);
      await postponeLookups(db, retryLater, RETRY_LOOKUP_MS);
    });
    const finals = updates.filter((u) => u.final).length;
    if (finals > 0) onEvent?.({ kind: 'final', count: finals });
  }

  #update(mdr: Mdr, m: DueMessage): MessageUpdate {
    const now = Date.now();
    const sentTooLong = mdr.state === 'sent' && now - (mdr.messageTime?.getTime() ?? m.submitted_at.getTime()) >= this.deps.options.receiptCutoffMs;
    const final = FINAL_STATES.has(mdr.state) || sentTooLong;
    return {
      uuid: mdr.messageUuid,
      toNumber: mdr.toNumber.replace(/^\+/, ''),
      status: final ? recipientStatus(mdr.state) : 'submitted',
      providerState: mdr.state,
      errorCode: mdr.errorCode,
      units: mdr.units,
      totalRate: mdr.totalRate,
      totalAmount: mdr.totalAmount,
      messageTime: mdr.messageTime,
      final,
      nextPollAt: new Date(now + nextLookIn(now - m.submitted_at.getTime())),
    };
  }
}

/** The recipient status for a final provider state. */
function recipientStatus(state: string): string {
  if (state === 'read') return 'delivered';
  return state;
}

/** How long to wait before looking at a message again, by its age: about half its age, 1 s to 10 min. */
export function nextLookIn(ageMs: number): number {
  return Math.min(600_000, Math.max(1000, Math.round(ageMs / 2)));
}
