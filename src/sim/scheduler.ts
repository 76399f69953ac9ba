/**
 * One timer over a min-heap of due events: every queue drain, delivery
 * receipt, expiry and callback retry of a simulator goes through here, so
 * 100 000 queued messages cost heap entries, not 100 000 timers.
 *
 * `runDue()` is also called at the start of every API request, so a GET or a
 * List answers with the state as of now even when the event loop was busy and
 * the timer is late.
 */

import { MinHeap } from './heap.js';
import { nowMs } from './clock.js';

/** An event runs with the instant it was due (ms), which may be a little before now. */
export type DueEvent = (dueMs: number) => void;

// setTimeout's ceiling (~24.8 days); a later event re-arms when this fires.
const MAX_DELAY_MS = 2 ** 31 - 1;

export class Scheduler {
  /** Where an event that throws is reported; the other events still run. */
  constructor(private readonly onError: (error: unknown) => void) {}

  #heap = new MinHeap<{ dueMs: number; run: DueEvent }>();
  #timer: NodeJS.Timeout | undefined;
  #armedFor = Infinity;
  #closed = false;
  #running = false;

  /** Runs `run` at `dueMs` (ms since the epoch, as nowMs()). A time in the past runs at the next pass. */
  at(dueMs: number, run: DueEvent): void {
    if (this.#closed) return;
    this.#heap.push(dueMs, { dueMs, run });
    if (!this.#running) this.#arm();
  }

  /** Runs every event that is due, in due order, including ones they schedule for the past. */
  runDue(): void {
    if (this.#closed || this.#running) return;
    this.#running = true;
    try {
      const now = nowMs();
      for (;;) {
        const key = this.#heap.peekKey();
        if (key === undefined || key > now) break;
        const event = this.#heap.pop();
        if (!event) break;
        try {
          event.run(event.dueMs);
        } catch (error) {
          this.onError(error);
        }
      }
    } finally {
      this.#running = false;
    }
    this.#arm();
  }

  get pending(): number {
    return this.#heap.size;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#heap.clear();
  }

  #arm(): void {
    const next = this.#heap.peekKey();
    if (next === undefined || this.#closed) return;
    if (this.#timer && next >= this.#armedFor) return;
    if (this.#timer) clearTimeout(this.#timer);
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, Math.ceil(next - nowMs())));
    this.#armedFor = next;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#armedFor = Infinity;
      this.runDue();
    }, delay);
    // The HTTP server keeps the process alive while the simulator is open.
    this.#timer.unref();
  }
}
