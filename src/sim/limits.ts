/**
 * Plivo's account limits: requests in any sliding 5 s, requests in flight,
 * and List requests in any sliding 60 s.
 *
 * Only admitted requests count towards the windows: a request refused with 429
 * was not processed, so a client that backs off recovers at the rate the
 * limits allow rather than being locked out by its own refused attempts.
 */

import type { Limits } from './options.js';

export type RequestKind = 'create' | 'get' | 'list' | 'other';
export type ThrottleReason = 'rate' | 'concurrent' | 'list';

export type Admission = { ok: true; release(): void } | { ok: false; reason: ThrottleReason };

const RATE_WINDOW_MS = 5_000;
const LIST_WINDOW_MS = 60_000;

/** Timestamps inside a sliding window. */
class SlidingWindow {
  #times: number[] = [];
  #head = 0;

  constructor(private readonly widthMs: number) {}

  count(nowMs: number): number {
    while (this.#head < this.#times.length && (this.#times[this.#head] as number) <= nowMs - this.widthMs) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#times.length) {
      this.#times = this.#times.slice(this.#head);
      this.#head = 0;
    }
    return this.#times.length - this.#head;
  }

  add(nowMs: number): void {
    this.#times.push(nowMs);
  }
}

export class RequestLimiter {
  #limits: Limits | false;
  #requests = new SlidingWindow(RATE_WINDOW_MS);
  #lists = new SlidingWindow(LIST_WINDOW_MS);
  #inFlight = 0;
  #peakInFlight = 0;

  constructor(limits: Limits | false) {
    this.#limits = limits;
  }

  set(limits: Limits | false): void {
    this.#limits = limits;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get peakInFlight(): number {
    return this.#peakInFlight;
  }

  /** Admits a request or says which limit refuses it. Call `release` once when its answer is done. */
  admit(kind: RequestKind, nowMs: number): Admission {
    const limits = this.#limits;
    if (limits) {
      if (this.#inFlight >= limits.concurrent) return { ok: false, reason: 'concurrent' };
      if (this.#requests.count(nowMs) >= limits.requestsPer5s) return { ok: false, reason: 'rate' };
      if (kind === 'list' && this.#lists.count(nowMs) >= limits.listPerMinute) return { ok: false, reason: 'list' };
    }
    // Windows are kept while limits are off too, so re-enabling them sees recent traffic.
    this.#requests.add(nowMs);
    if (kind === 'list') this.#lists.add(nowMs);
    this.#inFlight++;
    this.#peakInFlight = Math.max(this.#peakInFlight, this.#inFlight);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.#inFlight--;
      },
    };
  }
}
