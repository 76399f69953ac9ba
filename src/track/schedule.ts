/**
 * When to look at a message, by its age: young messages change more slowly than we could ask.
 *
 * The schedule is learned from this campaign's own messages. For a message read final, Plivo's
 * timestamps give its exact delivery latency (message_updated_time − message_time); a message read
 * still open at age a only tells that its latency is more than a. Using only the first would bias the
 * estimate low (early on, only the fast messages are final), so the latency distribution is estimated
 * with both, as right-censored data (Kaplan–Meier), over a cohort of the first messages looked at.
 *
 * A message is first looked at when, by that estimate, 80 % of messages are final (95 % with
 * `--track-by list`, where a re-read costs a whole page); then at the 95th, 99th and 99.9th percentiles;
 * after that, or while too little is known, at about half its age (at most an hour apart).
 */

const MIN_LOOK_MS = 2000;
const MAX_FIRST_LOOK_MS = 600_000;
/** Before anything is known, the first look comes this long after the request left. */
export const DEFAULT_FIRST_LOOK_MS = 5000;
const MAX_GAP_MS = 3_600_000;
/** Messages followed for the estimate: the first ones looked at (their latencies are as good as any). */
const COHORT = 2000;
/** Looks are not planned closer together than this. */
const MIN_GAP_MS = 1000;
const LATER_QUANTILES = [0.95, 0.99, 0.999];

/** How long to wait before looking at a message again, by its age alone: about half its age, 1 s to 1 h. */
export function nextLookIn(ageMs: number): number {
  return Math.min(MAX_GAP_MS, Math.max(MIN_GAP_MS, Math.round(ageMs / 2)));
}

interface Observation {
  /** The latency if final, else the age at which it was seen open. */
  ms: number;
  final: boolean;
}

export class LookSchedule {
  #cohort = new Map<string, Observation>();
  #quantiles = new Map<number, number | undefined>();

  /** `firstQuantile`: the share of messages expected final at their first look. */
  constructor(private readonly firstQuantile = 0.8) {}

  /** What a look at one message showed: final with its latency, or open at this age. */
  observe(uuid: string, o: Observation): void {
    if (!Number.isFinite(o.ms) || o.ms < 0) return;
    const known = this.#cohort.get(uuid);
    if (!known && this.#cohort.size >= COHORT) return;
    if (known?.final) return;
    this.#cohort.set(uuid, o);
    this.#quantiles.clear();
  }

  /** How long after its request a message is first looked at. */
  get firstLookMs(): number {
    const q = this.quantile(this.firstQuantile);
    return q === undefined ? DEFAULT_FIRST_LOOK_MS : Math.min(MAX_FIRST_LOOK_MS, Math.max(MIN_LOOK_MS, Math.round(q)));
  }

  /** How long to wait before looking again at a message of this age that is not final. */
  nextLookIn(ageMs: number): number {
    for (const p of [this.firstQuantile, ...LATER_QUANTILES]) {
      const q = this.quantile(p);
      if (q !== undefined && q >= ageMs + MIN_GAP_MS && q <= MAX_FIRST_LOOK_MS) return Math.round(q - ageMs);
    }
    return nextLookIn(ageMs);
  }

  /** The latency by which a share `p` of messages is final (Kaplan–Meier), or undefined while unknown. */
  quantile(p: number): number | undefined {
    if (!this.#quantiles.has(p)) this.#quantiles.set(p, this.#estimate(p));
    return this.#quantiles.get(p);
  }

  #estimate(p: number): number | undefined {
    const obs = [...this.#cohort.values()].sort((a, b) => a.ms - b.ms || Number(b.final) - Number(a.final));
    if (obs.filter((o) => o.final).length < 5) return undefined;
    let atRisk = obs.length;
    let survival = 1;
    for (const o of obs) {
      if (o.final) {
        survival *= 1 - 1 / atRisk;
        if (1 - survival >= p - 1e-9) return o.ms;
      }
      atRisk--;
    }
    return undefined;
  }
}
