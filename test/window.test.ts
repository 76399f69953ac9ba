/**
 * Send-window arithmetic with an injected "now": openings in one zone (DST included), the strictest
 * reading over several zones, zones from numbers, the expiry cut at a window's end, `--at`, and the
 * earliest finish of a plan.
 */
import { describe, expect, it } from 'vitest';
import { cutExpiry } from '../src/window/keeper.js';
import { parseAt } from '../src/window/at.js';
import { DAYS, nextInterval, zonedToUtc, type SendWindow } from '../src/window/window.js';
import { zonesOfNumber } from '../src/window/zones.js';
import { earliestFinish } from '../src/plan/finish.js';
import { gsmReplace, analyzeText } from '../src/sms/encoding.js';
import { NumberSet } from '../src/plan/number-set.js';

const nineToEight: SendWindow = { startMin: 9 * 60, endMin: 20 * 60, timezone: 'recipient', days: new Set(DAYS) };
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('openings of a window', () => {
  it('New York 09:00-20:00: EST in winter, EDT in summer', () => {
    const winter = nextInterval(nineToEight, ['America/New_York'], Date.parse('2026-01-15T03:00:00Z'))!;
    expect([iso(winter.opensAt), iso(winter.closesAt)]).toEqual(['2026-01-15T14:00:00.000Z', '2026-01-16T01:00:00.000Z']);
    const summer = nextInterval(nineToEight, ['America/New_York'], Date.parse('2026-07-15T03:00:00Z'))!;
    expect([iso(summer.opensAt), iso(summer.closesAt)]).toEqual(['2026-07-15T13:00:00.000Z', '2026-07-16T00:00:00.000Z']);
  });

  it('on the day the clocks go forward the window is 10 hours long in UTC', () => {
    // 2026-03-08: New York goes from EST to EDT at 02:00.
    const iv = nextInterval(nineToEight, ['America/New_York'], Date.parse('2026-03-08T05:00:00Z'))!;
    expect([iso(iv.opensAt), iso(iv.closesAt)]).toEqual(['2026-03-08T13:00:00.000Z', '2026-03-09T00:00:00.000Z']);
  });

  it('inside the window the current opening is given; after it, the next day\'s', () => {
    const inside = nextInterval(nineToEight, ['Europe/Paris'], Date.parse('2026-12-02T18:30:00Z'))!;
    expect(iso(inside.closesAt)).toBe('2026-12-02T19:00:00.000Z');
    const after = nextInterval(nineToEight, ['Europe/Paris'], Date.parse('2026-12-02T19:30:00Z'))!;
    expect(iso(after.opensAt)).toBe('2026-12-03T08:00:00.000Z');
  });

  it('days: a Friday evening waits for Monday', () => {
    const weekdays: SendWindow = { ...nineToEight, days: new Set(['mon', 'tue', 'wed', 'thu', 'fri'] as const) };
    const iv = nextInterval(weekdays, ['Europe/London'], Date.parse('2026-12-04T21:00:00Z'))!; // a Friday
    expect(iso(iv.opensAt)).toBe('2026-12-07T09:00:00.000Z');
  });

  it('a window past midnight (22:00-02:00) closes the next day', () => {
    const night: SendWindow = { ...nineToEight, startMin: 22 * 60, endMin: 2 * 60 };
    const iv = nextInterval(night, ['UTC'], Date.parse('2026-12-02T12:00:00Z'))!;
    expect([iso(iv.opensAt), iso(iv.closesAt)]).toEqual(['2026-12-02T22:00:00.000Z', '2026-12-03T02:00:00.000Z']);
  });

  it('the strictest reading over Lisbon and the Azores is their common hours; Tokyo and New York share none of 09:00-10:00', () => {
    const iv = nextInterval(nineToEight, ['Atlantic/Azores', 'Europe/Lisbon'], Date.parse('2026-12-02T00:00:00Z'))!;
    expect([iso(iv.opensAt), iso(iv.closesAt)]).toEqual(['2026-12-02T10:00:00.000Z', '2026-12-02T20:00:00.000Z']);
    const hour: SendWindow = { ...nineToEight, endMin: 10 * 60 };
    expect(nextInterval(hour, ['Asia/Tokyo', 'America/New_York'], Date.parse('2026-12-02T00:00:00Z'))).toBeUndefined();
  });

  it('zonedToUtc reads a wall-clock time in the zone', () => {
    expect(iso(zonedToUtc(2026, 12, 2, 9 * 60, 'Asia/Kolkata'))).toBe('2026-12-02T03:30:00.000Z');
  });
});

describe('the zone of a number', () => {
  it.each([
    ['12125550101', ['America/New_York'], true],
    ['14155550100', ['America/Los_Angeles'], true],
    ['33612345678', ['Europe/Paris'], true],
    ['61412345678', ['Australia/Sydney'], true],
    ['351912345678', ['Atlantic/Azores', 'Europe/Lisbon'], false],
  ])('%s is in %j (known: %s)', (dst, zones, known) => {
    expect(zonesOfNumber(dst)).toEqual({ zones, known });
  });
});

describe('the expiry cut', () => {
  const now = Date.parse('2026-12-02T18:50:00Z');
  it('a message sent ten minutes before the window closes expires when it closes', () => {
    expect(cutExpiry(undefined, new Date('2026-12-02T19:00:00Z'), now)).toBe(600);
    expect(cutExpiry(3600, new Date('2026-12-02T19:00:00Z'), now)).toBe(600);
  });
  it('no cut when the window closes after the expiry anyway, or without a window', () => {
    expect(cutExpiry(300, new Date('2026-12-02T19:00:00Z'), now)).toBe(300);
    expect(cutExpiry(undefined, new Date('2026-12-03T19:00:00Z'), now)).toBeUndefined();
    expect(cutExpiry(undefined, null, now)).toBeUndefined();
  });
});

describe('--at', () => {
  const now = Date.parse('2026-12-02T10:00:00Z');
  it('reads a date-time with its offset, and a time of day as the next one in the given zone', () => {
    expect(parseAt('2026-12-03T09:00+01:00', now).toISOString()).toBe('2026-12-03T08:00:00.000Z');
    expect(parseAt('09:00', now, 'Europe/Paris').toISOString()).toBe('2026-12-03T08:00:00.000Z');
    expect(parseAt('12:00', now, 'Europe/Paris').toISOString()).toBe('2026-12-02T11:00:00.000Z');
  });
  it('refuses a date-time without an offset, saying how to write one', () => {
    expect(() => parseAt('2026-12-03 09:00', now)).toThrow(/give a date and time with its offset/);
  });
});

describe('earliest finish', () => {
  const start = Date.parse('2026-12-02T18:00:00Z');
  it('without a window: the cost over the rate', () => {
    expect(iso(earliestFinish(new Map([[null, 3600]]), 1, start))).toBe('2026-12-02T19:00:00.000Z');
  });
  it('Paris closes at 19:00 UTC: two hours of work take one hour today and one tomorrow from 08:00', () => {
    expect(iso(earliestFinish(new Map([['Europe/Paris', 7200]]), 1, start, nineToEight))).toBe('2026-12-03T09:00:00.000Z');
  });
});

describe('gsm_replace', () => {
  it('curly quotes, dashes and the ellipsis become GSM; the text goes from UCS-2 to GSM', () => {
    const text = 'It’s “on” — see you…';
    expect(gsmReplace(text)).toBe('It\'s "on" - see you...');
    expect(analyzeText(text).encoding).toBe('UCS-2');
    expect(analyzeText(gsmReplace(text)).encoding).toBe('GSM');
  });
  it('leaves emoji alone', () => {
    expect(gsmReplace('Hi 🙂')).toBe('Hi 🙂');
  });
});

describe('NumberSet', () => {
  it('tells numbers seen before, through growth', () => {
    const s = new NumberSet();
    let added = 0;
    for (let i = 0; i < 100_000; i++) if (s.add(String(14155000000 + i))) added++;
    expect(added).toBe(100_000);
    expect(s.add('14155000000')).toBe(false);
    expect(s.add('14155099999')).toBe(false);
    expect(s.add('14155100000')).toBe(true);
  });
});
