/** `--at <time>`: when a campaign may start sending. */
import { UsageError } from '../errors.js';
import { parseClock, zonedToUtc, localTime } from './window.js';

const HINT = 'give a date and time with its offset, like 2026-12-03T09:00+01:00 or 2026-12-03T08:00Z, or a time of day like 09:00 (the next 09:00 in this machine\'s time zone)';

export function parseAt(value: string, nowMs = Date.now(), zone = Intl.DateTimeFormat().resolvedOptions().timeZone): Date {
  const clock = parseClock(value.trim());
  if (clock !== undefined) {
    const today = localTime(nowMs, zone);
    for (let i = 0; i <= 2; i++) {
      const day = new Date(Date.UTC(today.year, today.month - 1, today.day + i));
      const at = zonedToUtc(day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), clock, zone);
      if (at > nowMs) return new Date(at);
    }
  }
  // A date-time must say its offset: without one, "09:00" on a server in UTC is not the operator's 09:00.
  if (/^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$/i.test(value.trim())) {
    const ms = Date.parse(value.trim().replace(' ', 'T'));
    if (Number.isFinite(ms)) return new Date(ms);
  }
  throw new UsageError(`--at '${value}' is not a time smsrun can read: ${HINT}.`);
}
