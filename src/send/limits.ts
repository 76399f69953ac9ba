/**
 * The account's request limits as seen by tracking and reconciliation (sending's own limits are taken in
 * its claim statement, ledger/sending.ts `claimDue`).
 *
 * With a ledger (every run), both windows are the ledger's account slots (ledger/senders.ts): Plivo's 300
 * requests per 5 s and 20 List requests a minute are shared by every campaign and process on one database,
 * and tracking takes at most half of the request window (TRACKING_REQUEST_SLOTS), and a fifteenth of it while the
 * account's numbers are sending, so sending has the rest. Without one (unit tests of the tracker), in-process token buckets stand in for them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Bottleneck from 'bottleneck';
import type { Queryable } from '../ledger/db.js';
import { ACCOUNT_REQUESTS } from './account-limits.js';
import { freeSlots, holdSlotAgain, takeSlot, TRACKING_REQUEST_SLOTS, type SlotLimit, type WindowKind } from '../ledger/senders.js';

export interface BucketOptions {
  /** Tokens per second. */
  rate: number;
  /** Bucket size: the largest single job's weight (the burst allowed). */
  burst: number;
  maxConcurrent?: number | null;
}

/** A tick of about one token, between 50 ms and 1 s, short enough that one tick's credit fits in the bucket. */
function tickFor(rate: number, burst: number): number {
  const aboutOneToken = Math.min(1000, Math.max(50, 1000 / rate));
  return Math.max(5, Math.round(Math.min(aboutOneToken, (1000 * burst) / rate)));
}

export function bucketSettings({ rate, burst, maxConcurrent = null }: BucketOptions): Bottleneck.ConstructorOptions {
  const tickMs = tickFor(rate, burst);
  return {
    reservoir: burst,
    reservoirIncreaseInterval: tickMs - 1,
    reservoirIncreaseAmount: (rate * tickMs) / 1000,
    reservoirIncreaseMaximum: burst,
    maxConcurrent,
    heartbeatInterval: tickMs,
  } as Bottleneck.ConstructorOptions;
}

export function tokenBucket(opts: BucketOptions): Bottleneck {
  return new Bottleneck(bucketSettings(opts));
}

/** Plivo's List API limit, per minute, unless Plivo raised the account's. */
export const LIST_PER_MINUTE = 20;

/**
 * A bucket that never exceeds `perMinute` (2 or more) in any sliding minute: burst + rate·60 s = perMinute
 * (20 → 2 + 0.3/s). A small burst leaves the most for the steady rate that tracking lives on.
 */
export function listBucket(perMinute: number): BucketOptions {
  const burst = Math.max(1, Math.floor(perMinute / 10));
  return { rate: (perMinute - burst) / 60, burst };
}

export const PRIORITY = { send: 1, reconcile: 2, track: 6 } as const;

/** What tracking and reconciliation need of a limiter (a Bottleneck limiter has the same shape). */
export interface SlotLimiter {
  schedule<T>(options: { priority?: number }, fn: () => Promise<T>): Promise<T>;
  /** Requests that could leave now. */
  currentReservoir(): Promise<number | null>;
}

export interface Limiters {
  requests: SlotLimiter;
  listRequests: SlotLimiter;
  stop(): Promise<void>;
}

export interface LimiterOptions {
  /** @default LIST_PER_MINUTE */
  listPerMinute?: number | undefined;
  /** The ledger and account whose shared windows to draw from; in-process buckets without it. */
  ledger?: { db: Queryable; account: string } | undefined;
}

export function createLimiters(o: LimiterOptions = {}): Limiters {
  const listPerMinute = o.listPerMinute ?? LIST_PER_MINUTE;
  if (o.ledger) {
    const { db, account } = o.ledger;
    let stopped = false;
    const slots = (kind: WindowKind, limit: SlotLimit): SlotLimiter => {
      // One caller of this process at a time asks the ledger for a slot; the others wait their turn. Without
      // it, every waiting GET polled the ledger and all woke together when a slot freed (the cost bench counted
      // six slot statements per GET).
      let turn: Promise<unknown> = Promise.resolve();
      const take = async (): Promise<number | null> => {
        for (;;) {
          const { slot, waitMs } = await takeSlot(db, account, kind, limit);
          if (slot !== null || stopped) return slot;
          await sleep(Math.min(waitMs, 1000));
        }
      };
      return {
        async schedule(_options, fn) {
          const mine = turn.then(take);
          turn = mine.catch(() => undefined);
          const slot = await mine;
          try {
            return await fn();
          } finally {
            // Best effort: without it (a lost connection) the slot is still held from when it was taken.
            if (slot !== null) await holdSlotAgain(db, account, kind, slot).catch(() => undefined);
          }
        },
        currentReservoir: () => freeSlots(db, account, kind, limit),
      };
    };
    return {
      requests: slots('request', TRACKING_REQUEST_SLOTS),
      listRequests: slots('list', listPerMinute),
      async stop() { stopped = true; },
    };
  }
  const requests = tokenBucket(ACCOUNT_REQUESTS);
  const listRequests = tokenBucket(listBucket(listPerMinute));
  for (const limiter of [requests, listRequests]) limiter.on('error', () => undefined);
  return {
    requests,
    listRequests,
    async stop() {
      await Promise.all([requests.disconnect(), listRequests.disconnect()]);
    },
  };
}
