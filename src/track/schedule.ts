/**
 * When to look at a message, by its age: young messages change more slowly than we could ask. The
 * schedule is learned from how long this campaign's messages took to reach their final state (Plivo's
 * message_updated_time minus message_time, as polls read it; callbacks' report times count from the ledger when a
 * run or `poll` starts): a message is first looked at
 * when, judging by those latencies, most messages of its age are final (the 80th percentile; the 95th
 * when only the List API is used, since a re-read costs a whole page), again at the 95th and 99th
 * percentiles, and after that at about half its age (ages 40 s, 60 s, 90 s, …), at most an hour apart.
 */

const MIN_LOOK_MS = 2000;
const MAX_FIRST_LOOK_MS = 600_000;
/** Before any message is final, the first look comes this long after the request left. */
export const DEFAULT_FIRST_LOOK_MS = 5000;
const MAX_GAP_MS = 3_600_000;
const SAMPLES = 512;
/** A look is not planned closer than this to the previous one. */
const MIN_GAP_MS = 1000;

/** How long to wait before looking at a message again, by its age alone: about half its age, 1 s to 1 h. */
export function nextLookIn(ageMs: number): number {
  return Math.min(MAX_GAP_MS, Math.max(MIN_GAP_MS, Math.round(ageMs / 2)));
}

export class LookSchedule {
  #samples: number[] = [];
  #next = 0;
  #sorted: number[] | null = null;

  /** `firstQuantile`: the share of messages expected final at their first look. */
  constructor(private readonly firstQuantile = 0.8, seed: readonly number[] = []) {
    for (const s of seed) this.observe(s);
  }

  observe(latencyMs: number): void {
    if (!Number.isFinite(latencyMs) || latencyMs < 0) return;
    if (this.#samples.length < SAMPLES) this.#samples.push(latencyMs);
    else this.#samples[this.#next++ % SAMPLES] = latencyMs;
    this.#sorted = null;
  }

  /** How long after its request a message is first looked at. */
  get firstLookMs(): number {
    const q = this.#quantile(this.firstQuantile);
    return q === undefined ? DEFAULT_FIRST_LOOK_MS : clamp(q, MIN_LOOK_MS, MAX_FIRST_LOOK_MS);
  }

  /** How long to wait before looking again at a message of this age that is not final. */
  nextLookIn(ageMs: number): number {
    for (const p of [this.firstQuantile, 0.95, 0.99]) {
      const q = this.#quantile(p);
      if (q !== undefined && q >= ageMs + MIN_GAP_MS && q <= MAX_FIRST_LOOK_MS) return q - ageMs;
    }
    return nextLookIn(ageMs);
  }

  #quantile(p: number): number | undefined {
    if (this.#samples.length < 5) return undefined;
    this.#sorted ??= [...this.#samples].sort((a, b) => a - b);
    return this.#sorted[Math.min(this.#sorted.length - 1, Math.floor(this.#sorted.length * p))];
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.round(v)));
}
