/**
 * Injected misbehaviour, drawn from the seeded fault stream.
 *
 * Which faults hit which requests (a choice the brief left open):
 * - create requests: dropBeforeAccept, then rate429, then rate5xx, each tried
 *   in that order before any processing; dropAfterAccept, then
 *   rate5xxAfterAccept, after the messages were recorded (only when the
 *   request was going to be a 202);
 * - reads (GET one, List): rate429 and rate5xx, never the drops, since a lost
 *   read cannot cause a duplicate send and a drop there only tests the
 *   client's socket handling twice;
 * - latency: every API request, before its answer (for a create, after the
 *   messages were recorded, which is exactly when a client timeout is ambiguous);
 *   slowList: a List request's answer is delayed further by slowListMs.
 * `/__sim/*` inspection requests get no faults.
 */

import type { Rng } from './rng.js';
import { mergeFaults, type Faults } from './options.js';

export type PreFault = 'drop' | '429' | '5xx';

export class FaultInjector {
  #faults: Faults;

  constructor(
    faults: Faults,
    private readonly rng: Rng,
  ) {
    this.#faults = faults;
  }

  get current(): Faults {
    return { ...this.#faults, latencyMs: [...this.#faults.latencyMs] };
  }

  set(change: Partial<Faults>): void {
    this.#faults = mergeFaults(this.#faults, change);
  }

  /** The fault that replaces processing this request, if any. */
  before(kind: 'create' | 'read'): PreFault | null {
    const f = this.#faults;
    if (kind === 'create' && this.rng.chance(f.dropBeforeAccept)) return 'drop';
    if (this.rng.chance(f.rate429)) return '429';
    if (this.rng.chance(f.rate5xx)) return '5xx';
    return null;
  }

  /** What replaces the 202 of a create whose messages were just recorded, if anything. */
  afterAccept(): 'drop' | '5xx' | null {
    if (this.rng.chance(this.#faults.dropAfterAccept)) return 'drop';
    if (this.rng.chance(this.#faults.rate5xxAfterAccept)) return '5xx';
    return null;
  }

  /** The extra delay of a List answer (0 unless this one is slow). */
  slowListMs(): number {
    if (!this.rng.chance(this.#faults.slowList)) return 0;
    const [min, max] = this.#faults.slowListMs;
    return this.rng.between(min, max);
  }

  /** The 5xx status to answer with: Plivo's load balancers give all three. */
  serverErrorStatus(): number {
    return [500, 502, 503][this.rng.int(0, 2)] as number;
  }

  /** The status of Plivo's API itself failing after it queued the messages (a JSON body, not a proxy's page). */
  apiErrorStatus(): number {
    return [500, 503][this.rng.int(0, 1)] as number;
  }

  latencyMs(): number {
    const [min, max] = this.#faults.latencyMs;
    return max === 0 ? 0 : this.rng.between(min, max);
  }
}
