/**
 * Send windows ("quiet hours"): the local hours and days in which a recipient may be texted, and the
 * arithmetic that turns them into UTC intervals for a zone, with the runtime's Intl (its tz database).
 *
 * Vocabulary:
 * - window: the job's `send_window`, e.g. 09:00–20:00 on mon–fri. An end at or before the start runs past
 *   midnight (22:00–02:00); a day named in `days` is the day the window opens.
 * - interval: one opening of the window in one zone, [opensAt, closesAt) in UTC milliseconds.
 * - strictest reading: for a recipient whose zone cannot be told (several candidate zones), only the
 *   times inside the window in EVERY candidate zone: the intersection of their intervals.
 */

export const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Day = (typeof DAYS)[number];

export interface SendWindow {
  /** Minutes after local midnight. */
  startMin: number;
  endMin: number;
  /** `recipient`, or one IANA zone for everyone. */
  timezone: string;
  days: ReadonlySet<Day>;
}

export interface Interval {
  opensAt: number;
  closesAt: number;
}

const DAY_MS = 86_400_000;
/** How far ahead windows are looked for: a week and a day finds every weekly opening at least once. */
const HORIZON_DAYS = 8;

/** "09:30" → 570; undefined when it is not a 24-hour HH:MM time. */
export function parseClock(value: string): number | undefined {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(value);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

export function formatClock(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

interface LocalTime { year: number; month: number; day: number; hour: number; minute: number; second: number }

export function localTime(ms: number, zone: string): LocalTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(ms)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { year: parts['year']!, month: parts['month']!, day: parts['day']!, hour: parts['hour']! % 24, minute: parts['minute']!, second: parts['second']! };
}

/** The zone's offset from UTC at `ms`, in milliseconds (east positive). */
function offsetAt(ms: number, zone: string): number {
  const t = localTime(ms, zone);
  return Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second) - Math.floor(ms / 1000) * 1000;
}

/**
 * The UTC instant of a local wall-clock time. In a spring-forward gap the time does not exist and the
 * instant after the gap is given; in a fall-back overlap, the first of the two.
 */
export function zonedToUtc(year: number, month: number, day: number, minutes: number, zone: string): number {
  const wall = Date.UTC(year, month - 1, day, 0, minutes);
  const first = wall - offsetAt(wall, zone);
  const second = wall - offsetAt(first, zone);
  if (first === second) return first;
  // The offset changes between the two guesses: take the earlier one that reads back as the wall time,
  // else (a gap) the later one.
  const [a, b] = first < second ? [first, second] : [second, first];
  return a + offsetAt(a, zone) === wall ? a : b;
}

/** The window's openings in one zone, from the day before `fromMs` to the horizon, in order. */
export function zoneIntervals(w: SendWindow, zone: string, fromMs: number): Interval[] {
  const today = localTime(fromMs, zone);
  const out: Interval[] = [];
  for (let i = -1; i <= HORIZON_DAYS; i++) {
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day) + i * DAY_MS);
    if (!w.days.has(DAYS[date.getUTCDay()]!)) continue;
    const [y, m, d] = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()];
    const endDate = w.endMin <= w.startMin ? new Date(date.getTime() + DAY_MS) : date;
    const opensAt = zonedToUtc(y, m, d, w.startMin, zone);
    const closesAt = zonedToUtc(endDate.getUTCFullYear(), endDate.getUTCMonth() + 1, endDate.getUTCDate(), w.endMin, zone);
    if (closesAt > opensAt) out.push({ opensAt, closesAt });
  }
  return out;
}

function intersect(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let i = 0, j = 0;
  while (i < a.length && j < b.length) {
    const opensAt = Math.max(a[i]!.opensAt, b[j]!.opensAt);
    const closesAt = Math.min(a[i]!.closesAt, b[j]!.closesAt);
    if (opensAt < closesAt) out.push({ opensAt, closesAt });
    if (a[i]!.closesAt < b[j]!.closesAt) i++;
    else j++;
  }
  return out;
}

/**
 * The current or next opening of the window in all of `zones` at once (the strictest reading when there
 * are several), that is still open `marginMs` after `fromMs`; undefined when the zones never share an
 * opening (e.g. 09:00–10:00 in Tokyo and in New York).
 */
export function nextInterval(w: SendWindow, zones: readonly string[], fromMs: number, marginMs = 0): Interval | undefined {
  if (zones.length === 0) return undefined;
  let common = zoneIntervals(w, zones[0]!, fromMs);
  for (const z of zones.slice(1)) common = intersect(common, zoneIntervals(w, z, fromMs));
  return common.find((iv) => iv.closesAt > fromMs + marginMs);
}

/** "mon-fri 09:00-20:00" for messages. */
export function describeWindow(w: SendWindow): string {
  const days = DAYS.filter((d) => w.days.has(d));
  return `${days.length === 7 ? 'every day' : days.join(',')} ${formatClock(w.startMin)}-${formatClock(w.endMin)}`;
}
