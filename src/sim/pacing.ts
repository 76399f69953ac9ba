/**
 * The judge of a client's pacing: did the accepted sends of one sender ever
 * exceed what a rate limit allows?
 *
 * "Allows" is a token bucket of rate r whose burst is one request: over every
 * window [t_i, t_j] between two accepts of the sender (both included),
 *
 *     sent(i..j)  ≤  r · (t_j − t_i) + C
 *
 * where sent counts units or messages and C is the largest single request
 * cost in the log. A client that waits cost/r after each request (or before
 * it) satisfies this exactly, whatever its request sizes; one that sends a
 * burst, or catches up after a stall, does not. The function returns the worst
 * excess, max over windows of sent(i..j) − r·(t_j − t_i) − C: ≤ 0 means the
 * pacing held (a window of one request scores cost − C ≤ 0, so a conforming
 * log scores exactly 0, or −r·tolerance with a tolerance).
 *
 * Times are when each request reached the simulator, so network jitter can
 * bunch two well-paced requests: `toleranceMs` widens every window by that
 * much for a loaded machine. Computed in O(n) with prefix sums:
 * excess(i, j) = (S_j − r·t_j) − (S_{i−1} − r·t_i) − C, so for each j keep the
 * minimum of S_{i−1} − r·t_i over i ≤ j.
 */

export interface AcceptEntry {
  /** The sender: sanitised src, or powerpack uuid. */
  src: string;
  /** When the request reached the simulator, ms since the epoch (fractional). */
  at: number;
  /** Messages accepted (valid destinations). */
  count: number;
  /** Units accepted: count × units per message. */
  units: number;
}

export type PacingCost = 'units' | 'messages';

export interface WorstWindow {
  /** sent − allowed for the worst window; ≤ 0 means the pacing held. */
  excess: number;
  /** The worst window's first and last accept times (ms). */
  fromAt: number;
  toAt: number;
  /** What was sent in it, and what the rate allowed (r · length + C). */
  sent: number;
  allowed: number;
  /** Requests in the window. */
  requests: number;
}

export interface PacingOptions {
  /** Widens every window by this many ms, for network jitter. @default 0 */
  toleranceMs?: number;
}

/** The worst window of `src`'s accepts (every src when `src` is null), or null if it has none. */
export function worstWindow(
  log: readonly AcceptEntry[],
  src: string | null,
  ratePerSec: number,
  cost: PacingCost,
  opts: PacingOptions = {},
): WorstWindow | null {
  if (!(ratePerSec > 0)) throw new RangeError(`worstWindow: ratePerSec must be positive, got ${ratePerSec}`);
  const tolerance = opts.toleranceMs ?? 0;
  const entries = log.filter((e) => src === null || e.src === src).sort((a, b) => a.at - b.at);
  if (entries.length === 0) return null;
  const costOf = (e: AcceptEntry): number => (cost === 'units' ? e.units : e.count);
  const burst = Math.max(...entries.map(costOf));
  const r = ratePerSec / 1000; // per ms
  // Times relative to the first accept: r·t on epoch milliseconds would lose the low digits.
  const t0 = (entries[0] as AcceptEntry).at;

  let worst: WorstWindow | null = null;
  let prefixBefore = 0; // S_{j-1}
  let bestStart = { value: Infinity, index: 0 }; // min over i ≤ j of S_{i-1} − r·t_i
  const starts: number[] = [];
  for (let j = 0; j < entries.length; j++) {
    const e = entries[j] as AcceptEntry;
    const t = e.at - t0;
    const startValue = prefixBefore - r * t;
    starts.push(prefixBefore);
    if (startValue < bestStart.value) bestStart = { value: startValue, index: j };
    const prefix = prefixBefore + costOf(e);
    const excess = prefix - r * t - bestStart.value - burst - r * tolerance;
    if (worst === null || excess > worst.excess) {
      const first = entries[bestStart.index] as AcceptEntry;
      const sent = prefix - (starts[bestStart.index] as number);
      worst = {
        excess,
        fromAt: first.at,
        toAt: e.at,
        sent,
        allowed: sent - excess,
        requests: j - bestStart.index + 1,
      };
    }
    prefixBefore = prefix;
  }
  return worst;
}

/** worstWindow's excess, or 0 for a sender with no accepts. Assert it is ≤ 0. */
export function maxWindowExcess(
  log: readonly AcceptEntry[],
  src: string | null,
  ratePerSec: number,
  cost: PacingCost = 'messages',
  opts: PacingOptions = {},
): number {
  return worstWindow(log, src, ratePerSec, cost, opts)?.excess ?? 0;
}
