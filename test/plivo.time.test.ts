import { describe, expect, it } from 'vitest';
import { formatListFilterTime, parseCallbackTime, parsePlivoTime } from '../src/plivo/time.js';
import { parseMdr } from '../src/plivo/mdr.js';

describe('parsePlivoTime', () => {
  it.each([
    ['2016-08-17 21:26:44+05:30', '2016-08-17T15:56:44.000Z'],
    ['2016-08-17 21:26:44+0530', '2016-08-17T15:56:44.000Z'],
    ['2016-08-17 21:26:44-04', '2016-08-18T01:26:44.000Z'],
    ['2016-08-17T21:26:44Z', '2016-08-17T21:26:44.000Z'],
    ['2024-08-21 18:28:51.94772+05:30', '2024-08-21T12:58:51.947Z'],
    ['2024-08-21 18:28:49.244057+05:30', '2024-08-21T12:58:49.244Z'],
    ['2024-01-01 00:00+00:00', '2024-01-01T00:00:00.000Z'],
  ])('%s is %s', (input, iso) => {
    expect(parsePlivoTime(input).toISOString()).toBe(iso);
  });

  it.each(['2016-08-17 21:26:44', '17/08/2016 21:26', '2016-02-30 10:00:00Z', 'soon'])('refuses %j', (input) => {
    expect(() => parsePlivoTime(input)).toThrow(RangeError);
  });
});

describe('parseCallbackTime', () => {
  it.each([
    // Plivo's callbacks (docs and every official SDK's fixtures): UTC, microseconds, no offset.
    ['2024-08-21 12:58:51.123456', '2024-08-21T12:58:51.123Z'],
    ['2024-08-21 12:58:51', '2024-08-21T12:58:51.000Z'],
    // An offset, should one ever be sent, is honoured.
    ['2024-08-21 18:28:51.123456+05:30', '2024-08-21T12:58:51.123Z'],
  ])('%s is %s', (input, iso) => {
    expect(parseCallbackTime(input).toISOString()).toBe(iso);
  });

  it.each(['2024-02-30 10:00:00', '21/08/2024 12:58', ''])('refuses %j', (input) => {
    expect(() => parseCallbackTime(input)).toThrow(RangeError);
  });
});

describe('formatListFilterTime', () => {
  it('writes UTC with microseconds from the milliseconds', () => {
    expect(formatListFilterTime(new Date('2024-05-01T23:04:05.678+02:00'))).toBe('2024-05-01 21:04:05.678000');
    expect(formatListFilterTime(new Date(Date.UTC(2024, 0, 2)))).toBe('2024-01-02 00:00:00.000000');
  });

  it('refuses an invalid date', () => {
    expect(() => formatListFilterTime(new Date('nope'))).toThrow(RangeError);
  });
});

describe('parseMdr', () => {
  const record = {
    api_id: '035eeada-6df1-11e6-b608-06a72a185e87',
    error_code: '200',
    from_number: '18552828641',
    message_direction: 'outbound',
    message_state: 'failed',
    message_time: '2016-08-17 21:22:36+05:30',
    message_type: 'sms',
    message_uuid: '2a340179-e8a9-4b1d-ae2c-9f346e7b6d7d',
    to_number: '19352326448',
    total_amount: '0.00000',
    total_rate: '0.00350',
    units: 1,
    error_message: '',
  };

  it('parses an SDK fixture record', () => {
    const mdr = parseMdr(record);
    expect(mdr).toMatchObject({
      messageUuid: '2a340179-e8a9-4b1d-ae2c-9f346e7b6d7d',
      direction: 'outbound',
      state: 'failed',
      type: 'sms',
      fromNumber: '18552828641',
      toNumber: '19352326448',
      units: 1,
      totalRate: '0.00350',
      totalAmount: '0.00000',
      errorCode: '200',
      errorMessage: null,
    });
    expect(mdr.messageTime.toISOString()).toBe('2016-08-17T15:52:36.000Z');
    expect(mdr.raw).toBe(record);
  });

  it('reads units sent as a string and a null error code', () => {
    expect(parseMdr({ ...record, units: '3', error_code: null })).toMatchObject({ units: 3, errorCode: null });
  });

  it.each([
    [{ ...record, message_state: 'scheduled' }, "unknown message_state 'scheduled'"],
    [{ ...record, units: 'two' }, 'units "two"'],
    [{ ...record, total_rate: 'free' }, "total_rate 'free'"],
    [{ ...record, message_uuid: undefined }, 'no message_uuid'],
  ])('refuses a malformed record (%#)', (bad, fragment) => {
    expect(() => parseMdr(bad)).toThrow(fragment);
  });
});
