/**
 * Time in the simulator.
 *
 * Internally every instant is a number: `nowMs()` is fractional milliseconds
 * since the epoch (monotonic within the process, from performance.now()), and
 * message timestamps are whole microseconds (`nowUs()`), because Plivo's MDR
 * times carry microseconds and a list sorted "newest first" needs a strict order.
 *
 * Plivo writes MDR times in the account's zone with an offset
 * (`2024-08-21 18:28:51.94772+05:30`: the fraction loses its trailing zeros and
 * disappears when it is zero) and reads List filters in UTC without one.
 */

const ORIGIN_MS = performance.timeOrigin;
let lastUs = 0;

export function nowMs(): number {
  return ORIGIN_MS + performance.now();
}

/** Microseconds since the epoch, strictly increasing across calls. */
export function nowUs(): number {
  lastUs = Math.max(Math.round(nowMs() * 1000), lastUs + 1);
  return lastUs;
}

export function msToUs(ms: number): number {
  return Math.round(ms * 1000);
}

const OFFSET = /^([+-])(\d{2}):(\d{2})$/;

/** Minutes east of UTC for `+05:30`-style offsets, or null if malformed. */
export function parseOffset(offset: string): number | null {
  const m = OFFSET.exec(offset);
  if (!m) return null;
  const [, sign, hh, mm] = m;
  const minutes = Number(hh) * 60 + Number(mm);
  if (Number(mm) >= 60 || minutes > 14 * 60) return null;
  return sign === '-' ? -minutes : minutes;
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `YYYY-MM-DD HH:MM:SS[.ffffff]+HH:MM`, the way Plivo writes MDR times. */
export function formatPlivoTime(us: number, offset: string, withFraction = true): string {
  const minutes = parseOffset(offset) ?? 0;
  const wholeMs = Math.floor(us / 1000);
  const d = new Date(wholeMs + minutes * 60_000);
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  const micro = ((us % 1_000_000) + 1_000_000) % 1_000_000;
  const fraction = withFraction && micro !== 0 ? '.' + pad(micro, 6).replace(/0+$/, '') : '';
  return `${date} ${time}${fraction}${offset}`;
}

/** `YYYY-MM-DD HH:MM:SS.ffffff` in UTC without an offset: how Plivo writes the times of a status callback. */
export function formatCallbackTime(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  const micro = ((us % 1_000_000) + 1_000_000) % 1_000_000;
  return `${date} ${time}.${pad(micro, 6)}`;
}

/** A parsed List filter time: the instant, and how wide its precision is (a minute, a second, …). */
export interface FilterTime {
  us: number;
  precisionUs: number;
}

const FILTER_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$/;

/** Parses `YYYY-MM-DD HH:MM[:ss[.uuuuuu]]` as UTC; null if it is not that or not a real time. */
export function parseFilterTime(s: string): FilterTime | null {
  const m = FILTER_TIME.exec(s);
  if (!m) return null;
  const [, y, mo, d, h, mi, sec, frac] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec ?? '0'));
  const check = new Date(ms);
  if (
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    check.getUTCHours() !== Number(h) ||
    check.getUTCMinutes() !== Number(mi) ||
    check.getUTCSeconds() !== Number(sec ?? '0')
  ) {
    return null;
  }
  const fracUs = frac === undefined ? 0 : Number(frac.padEnd(6, '0'));
  const precisionUs = sec === undefined ? 60_000_000 : frac === undefined ? 1_000_000 : 10 ** (6 - frac.length);
  return { us: ms * 1000 + fracUs, precisionUs };
}
