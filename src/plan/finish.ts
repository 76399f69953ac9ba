/**
 * The earliest a campaign can finish, given its sending rate (all senders together, in what the limiters
 * count) and, with a send window, when each zone's window is open.
 *
 * Sending is work-conserving: while any zone with work left is open, the whole rate is used. Among the
 * open zones, the one whose window closes first is served first (earliest deadline first), which finishes
 * the whole campaign earliest. The timeline is cut at every opening and closing, so it is exact for
 * this model (it ignores retries and Plivo's own queue).
 */
import { zoneIntervals, type Interval, type SendWindow } from '../window/window.js';

/** Weeks looked ahead before giving up (a campaign that needs longer is reported as not finishing). */
const MAX_DAYS = 62;
const DAY_MS = 86_400_000;

export function earliestFinish(costByZone: ReadonlyMap<string | null, number>, ratePerSecond: number, startMs: number, window?: SendWindow): number | undefined {
  let total = 0;
  for (const c of costByZone.values()) total += c;
  if (total === 0) return startMs;
  if (!window) return startMs + (total / ratePerSecond) * 1000;
  const left = new Map([...costByZone].filter(([, c]) => c > 0).map(([z, c]) => [z ?? 'UTC', c]));
  let from = startMs;
  while (from < startMs + MAX_DAYS * DAY_MS) {
    const until = from + 7 * DAY_MS;
    const intervals = new Map([...left.keys()].map((z) => [z, openings(window, z, from, until)]));
    const cuts = [...new Set([from, until, ...[...intervals.values()].flatMap((ivs) => ivs.flatMap((iv) => [iv.opensAt, iv.closesAt]))])]
      .filter((t) => t >= from && t <= until).sort((a, b) => a - b);
    for (let i = 0; i + 1 < cuts.length; i++) {
      const [a, b] = [cuts[i]!, cuts[i + 1]!];
      const open = [...left.keys()]
        .map((z) => ({ z, iv: intervals.get(z)!.find((iv) => iv.opensAt <= a && a < iv.closesAt) }))
        .filter((o): o is { z: string; iv: Interval } => o.iv !== undefined)
        .sort((x, y) => x.iv.closesAt - y.iv.closesAt);
      let t = a;
      for (const { z } of open) {
        const need = (left.get(z)! / ratePerSecond) * 1000;
        if (t + need <= b) {
          t += need;
          left.delete(z);
          if (left.size === 0) return t;
        } else {
          left.set(z, left.get(z)! - ((b - t) / 1000) * ratePerSecond);
          break;
        }
      }
    }
    from = until;
  }
  return undefined;
}

/** A zone key's openings (the intersection over its zones, for a number whose zone cannot be told). */
function openings(window: SendWindow, key: string, from: number, until: number): Interval[] {
  const zones = key.split(' ');
  let common = zoneIntervals(window, zones[0]!, from);
  for (const z of zones.slice(1)) {
    const other = zoneIntervals(window, z, from);
    common = common.flatMap((a) => other.flatMap((b) => {
      const opensAt = Math.max(a.opensAt, b.opensAt), closesAt = Math.min(a.closesAt, b.closesAt);
      return opensAt < closesAt ? [{ opensAt, closesAt }] : [];
    }));
  }
  return common.filter((iv) => iv.closesAt > from && iv.opensAt < until)
    .map((iv) => ({ opensAt: Math.max(iv.opensAt, from), closesAt: Math.min(iv.closesAt, until) }));
}
