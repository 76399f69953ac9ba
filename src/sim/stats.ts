/**
 * Counters of what the simulator saw and did, so a test or a benchmark can
 * show, for example, that a run caused no 429 of its own making
 * (`throttled === 0`) while injected faults (`injected.*`) were survived.
 */

import type { ThrottleReason } from './limits.js';

export interface SimStats {
  /** Plivo API requests received (not counting /__sim inspection). */
  requests: number;
  /** Per route: create, get, list, other (unknown paths, wrong methods). */
  byEndpoint: Record<string, number>;
  /** Per status code answered; 'dropped' for connections destroyed on purpose. */
  byStatus: Record<string, number>;
  /** 429s caused by the account limits (the client's own pacing). */
  throttled: number;
  throttledBy: Record<ThrottleReason, number>;
  /** Faults injected on purpose. */
  injected: { rate429: number; rate5xx: number; dropBeforeAccept: number; dropAfterAccept: number; rate5xxAfterAccept: number; slowList: number };
  /** 401s. */
  unauthorized: number;
  /** Requests in flight now, and the most there ever were at once. */
  inFlight: number;
  peakConcurrent: number;
  /** Successful creates (202) and what they carried. */
  accepted: { requests: number; messages: number; units: number; invalidNumbers: number };
  callbacks: { attempts: number; ok: number; failed: number };
  /** Bugs in the simulator: answered 500 with a JSON body. Should stay 0. */
  internalErrors: number;
  lastInternalError: string | null;
}

/** A read request (GET of one message, or a List page), for telling whose traffic it was and when. */
export interface ReadEntry {
  kind: 'get' | 'list';
  /** When it reached the simulator, ms since the epoch. */
  at: number;
  /** The request's User-Agent header: which client sent it. */
  client: string | null;
}

export function emptyStats(): SimStats {
  return {
    requests: 0,
    byEndpoint: {},
    byStatus: {},
    throttled: 0,
    throttledBy: { rate: 0, concurrent: 0, list: 0 },
    injected: { rate429: 0, rate5xx: 0, dropBeforeAccept: 0, dropAfterAccept: 0, rate5xxAfterAccept: 0, slowList: 0 },
    unauthorized: 0,
    inFlight: 0,
    peakConcurrent: 0,
    accepted: { requests: 0, messages: 0, units: 0, invalidNumbers: 0 },
    callbacks: { attempts: 0, ok: 0, failed: 0 },
    internalErrors: 0,
    lastInternalError: null,
  };
}

export function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
