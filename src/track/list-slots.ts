/**
 * When the List API's slots come free, as tracking plans its listings (planner.ts): a listing waits for its
 * pages' slots, and a window whose slots come too late is read by GET instead.
 *
 * Two sources: the ledger's account slots (every run: the List window is the account's, shared by every run
 * and process on the ledger, so another run's listings count), and, without a ledger (direct tests of the
 * tracker), the in-process List bucket's reservoir and refill rate.
 */
import type { Queryable } from '../ledger/db.js';
import { listSlotsFreeIn } from '../ledger/tracking.js';
import type { SlotLimiter } from '../send/limits.js';

export interface ListSlots {
  /** Milliseconds from now until each List slot comes free (0: free now), soonest first. */
  freeIn(): Promise<number[]>;
}

/** The account's List window in the ledger: its first `limit` slots (`--list-per-minute`). */
export function ledgerListSlots(db: Queryable, account: string, limit: number): ListSlots {
  return { freeIn: () => listSlotsFreeIn(db, account, limit) };
}

/**
 * An in-process List bucket: what it holds now is free now, the next ones come one per 1/`perSecond`.
 * `count` slots are described (enough for any plan).
 */
export function bucketListSlots(limiter: SlotLimiter, perSecond: number, count = 20): ListSlots {
  return {
    async freeIn() {
      const now = Math.max(0, Math.floor((await limiter.currentReservoir()) ?? 0));
      return Array.from({ length: Math.max(count, now) }, (_, i) => (i < now ? 0 : ((i - now + 1) / perSecond) * 1000));
    },
  };
}
