/**
 * Plivo's time formats.
 *
 * MDR times (GET, List) are in the account's zone with an offset: `2016-08-17 21:26:44+05:30`,
 * sometimes with a fraction (`18:28:51.94772+05:30`). Status-callback times carry no offset and are UTC
 * (`2024-08-21 12:58:51.123456`, per Plivo's docs and every official SDK's fixtures). The List API's
 * `message_time__*` filters are read in UTC and have no offset either.
 */

const PLIVO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Parses an MDR timestamp to an instant. Accepts a space or `T`, an optional
 * fraction (kept to the millisecond: a Date holds no more), and an offset as
 * `Z`, `+05:30`, `+0530` or `+05`. A time without an offset is refused: an MDR
 * is written in the account's zone, which smsrun does not know.
 */
export function parsePlivoTime(s: string): Date {
  return parseTime(s, false);
}

/**
 * Parses a status-callback time (`MessageTime`, `QueuedTime`, `SentTime`, `DeliveryReportTime`): UTC
 * without an offset, as Plivo sends them. An offset, if one is ever there, is honoured.
 */
export function parseCallbackTime(s: string): Date {
  return parseTime(s, true);
}

function parseTime(s: string, zonelessIsUtc: boolean): Date {
  const m = PLIVO_TIME.exec(s.trim());
  if (!m) throw new RangeError(`unrecognised Plivo time '${s}' (expected e.g. 2016-08-17 21:26:44+05:30)`);
  const [, y, mo, d, h, mi, sec = '0', frac = '', zone] = m;
  if (zone === undefined && !zonelessIsUtc) {
    throw new RangeError(`Plivo time '${s}' has no offset: a record's times are in the account's zone, so it cannot be read`);
  }
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), ms);
  const date = new Date(local - offsetMinutes(zone ?? 'Z') * 60_000);
  const roundTrip = new Date(local);
  // Date.UTC rolls 2016-02-30 over to March; a changed field means the input was not a real time.
  if (
    Number.isNaN(local) ||
    roundTrip.getUTCDate() !== Number(d) ||
    roundTrip.getUTCHours() !== Number(h) ||
    roundTrip.getUTCMinutes() !== Number(mi)
  ) {
    throw new RangeError(`invalid Plivo time '${s}'`);
  }
  return date;
}

function offsetMinutes(zone: string): number {
  if (zone.toUpperCase() === 'Z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0'));
}

/** `YYYY-MM-DD HH:MM:ss.uuuuuu` in UTC, as the List API's message_time filters expect. */
export function formatListFilterTime(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new RangeError('formatListFilterTime: invalid Date');
  const iso = d.toISOString(); // 2024-01-02T03:04:05.678Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${iso.slice(20, 23)}000`;
}
