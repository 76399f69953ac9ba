/**
 * When to look at a message, by its age: young messages change more slowly than we could ask, so a
 * message is first looked at once most messages of its campaign would be final (learned from Plivo's
 * own timestamps), then at about half its age again (ages 10 s, 15 s, 22 s, …), at most an hour apart.
 */

const MIN_FIRST_LOOK_MS = 2000;
const MAX_FIRST_LOOK_MS = 600_000;
/** Before any message is final, the first look comes this long after the request left. */
export const DEFAULT_FIRST_LOOK_MS = 5000;
const MAX_GAP_MS = 3_600_000;
const SAMPLES = 256;
/** The share of messages final at their first look: more looks later for the rest, or fewer for everyone. */
const FIRST_LOOK_QUANTILE = 0.8;

/** How long to wait before looking at a message again, by its age: about half its age, 1 s to 1 h. */
export function nextLookIn(ageMs: number): number {
  return Math.min(MAX_GAP_MS, Math.max(1000, Math.round(ageMs / 2)));
}

/**
 * The first-look delay, learned from how long messages took to reach their final state (Plivo's
 * message_updated_time minus message_time, or a callback's report time): its 80th percentile.
 */
export class FirstLook {
  #samples: number[] = [];
  #next = 0;

  constructor(seed: readonly number[] = []) {
    for (const s of seed) this.observe(s);
  }

  observe(latencyMs: number): void {
    if (!Number.isFinite(latencyMs) || latencyMs < 0) return;
    if (this.#samples.length < SAMPLES) this.#samples.push(latencyMs);
    else this.#samples[this.#next++ % SAMPLES] = latencyMs;
  }

  get ms(): number {
    if (this.#samples.length < 5) return DEFAULT_FIRST_LOOK_MS;
    const sorted = [...this.#samples].sort((a, b) => a - b);
    const q = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * FIRST_LOOK_QUANTILE))]!;
    return Math.min(MAX_FIRST_LOOK_MS, Math.max(MIN_FIRST_LOOK_MS, Math.round(q)));
  }
}
