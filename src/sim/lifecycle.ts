/**
 * Plivo's side of throughput: each sender has a FIFO queue drained at its MPS;
 * excess is queued, not dropped. A message leaves the queue at its drain slot
 * (`sent`, or `failed` 90 for a …98 number), and its sender is then busy for
 * cost / mps seconds, where cost is its units (a 3-unit message takes 3 slots)
 * or 1 when the simulator counts messages. A message still queued
 * message_expiry seconds after acceptance fails with 420 and gives up its slot.
 *
 * Slots are computed in virtual time (the previous slot + its cost, never
 * "when the timer happened to fire"), so a late timer does not slow the drain.
 */

import type { Rng } from './rng.js';
import type { Scheduler } from './scheduler.js';
import { msToUs } from './clock.js';
import { transition, type MessageRecord } from './message.js';
import { EXPIRED, outcomeFor } from './outcome.js';

export interface LifecycleConfig {
  mpsFor(sender: string): number;
  counts: 'units' | 'messages';
  deliveryDelayMs: [number, number];
  /** Draws delivery delays. */
  rng: Rng;
  /** Whether a number opted out: its messages fail with 200 when they leave the queue. */
  isOptedOut(to: string): boolean;
  /** Told of every state change after it happened (not of the initial `queued`). */
  onChange(m: MessageRecord): void;
}

interface SenderQueue {
  items: MessageRecord[];
  head: number;
  /** When the sender can hand over its next message (ms). */
  freeAtMs: number;
  /** Whether a drain event is in the scheduler. */
  draining: boolean;
}

// Drop the consumed front of a queue array once it is this long.
const COMPACT_AT = 1024;

export class Lifecycle {
  #queues = new Map<string, SenderQueue>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly config: LifecycleConfig,
  ) {}

  /** Queues a just-accepted (state `queued`) message arriving at `nowMs`. */
  admit(m: MessageRecord, nowMs: number): void {
    const q = this.#queue(m.sender);
    q.items.push(m);
    this.scheduler.at(nowMs + m.expirySec * 1000, (due) => this.#expire(m, due));
    if (!q.draining) {
      q.draining = true;
      this.scheduler.at(Math.max(nowMs, q.freeAtMs), (slot) => this.#drain(m.sender, q, slot));
    }
  }

  /** Messages still waiting, per sender. */
  queued(sender: string): number {
    const q = this.#queues.get(sender);
    if (!q) return 0;
    let n = 0;
    for (let i = q.head; i < q.items.length; i++) if (q.items[i]?.state === 'queued') n++;
    return n;
  }

  #queue(sender: string): SenderQueue {
    let q = this.#queues.get(sender);
    if (!q) {
      q = { items: [], head: 0, freeAtMs: 0, draining: false };
      this.#queues.set(sender, q);
    }
    return q;
  }

  #drain(sender: string, q: SenderQueue, slotMs: number): void {
    const m = this.#popQueued(q);
    if (!m) {
      q.draining = false;
      return;
    }
    const cost = this.config.counts === 'units' ? m.units : 1;
    q.freeAtMs = slotMs + (cost * 1000) / this.config.mpsFor(sender);
    this.#handOver(m, slotMs);
    if (q.head < q.items.length) {
      this.scheduler.at(q.freeAtMs, (slot) => this.#drain(sender, q, slot));
    } else {
      q.draining = false;
    }
  }

  #popQueued(q: SenderQueue): MessageRecord | undefined {
    while (q.head < q.items.length) {
      const m = q.items[q.head++];
      if (m?.state === 'queued') {
        this.#compact(q);
        return m;
      }
    }
    this.#compact(q);
    return undefined;
  }

  #compact(q: SenderQueue): void {
    if (q.head >= COMPACT_AT && q.head * 2 >= q.items.length) {
      q.items = q.items.slice(q.head);
      q.head = 0;
    }
  }

  #handOver(m: MessageRecord, slotMs: number): void {
    const outcome = outcomeFor(m.to, this.config.isOptedOut(m.to));
    if (outcome.kind === 'fail-at-handoff') {
      this.#change(m, 'failed', slotMs, outcome.errorCode);
      return;
    }
    this.#change(m, 'sent', slotMs, null);
    if (outcome.kind === 'no-receipt') return;
    const [min, max] = this.config.deliveryDelayMs;
    const receiptAt = slotMs + this.config.rng.between(min, max);
    this.scheduler.at(receiptAt, (due) => this.#change(m, outcome.state, due, outcome.errorCode));
  }

  #expire(m: MessageRecord, dueMs: number): void {
    // Left in the queue array; the drain skips anything no longer queued.
    if (m.state === 'queued') this.#change(m, 'failed', dueMs, EXPIRED);
  }

  #change(m: MessageRecord, state: MessageRecord['state'], atMs: number, errorCode: string | null): void {
    transition(m, state, msToUs(atMs), errorCode);
    this.config.onChange(m);
  }
}
