/**
 * Reading a List page record by record (src/plivo/list.ts): a record that cannot be read is set aside with
 * what identifies it, never the whole page; `mayBeAmong` says whether such a record can matter to a caller.
 */
import { describe, expect, it } from 'vitest';
import { listQuery, mayBeAmong, parseListPage, senderFilter, type UnreadableRecord } from '../src/plivo/list.js';

const mdr = (uuid: string, extra: Record<string, unknown> = {}) => ({
  message_uuid: uuid, message_time: '2024-08-21 18:28:49.244057+05:30', message_direction: 'outbound', message_state: 'delivered',
  message_type: 'sms', from_number: '14155550100', to_number: '14155550123', units: 1, total_rate: '0.00500', total_amount: '0.00500',
  error_code: '000', powerpack_id: null, ...extra,
});

describe('parseListPage', () => {
  it('keeps the readable records of a page and sets aside, with their identity, those that cannot be read', () => {
    const page = parseListPage({
      meta: { next: '/v1/Account/MA/Message/?offset=20', total_count: 23 },
      objects: [
        mdr('u1'),
        mdr('u2', { message_state: 'scheduled', from_number: '18005550199', to_number: '14155550777' }), // another application's
        mdr('u3', { message_time: '2024-08-21 18:28:49' }), // a time without its offset
        'not a record',
        mdr('u4', { to_number: '+14155550124' }),
      ],
    });
    expect(page.objects.map((r) => r.messageUuid)).toEqual(['u1', 'u4']);
    expect(page.next).toBe('/v1/Account/MA/Message/?offset=20');
    expect(page.totalCount).toBe(23);
    expect(page.unreadable).toEqual([
      { reason: expect.stringContaining("unknown message_state 'scheduled'"), messageUuid: 'u2', direction: 'outbound',
        fromNumber: '18005550199', toNumber: '14155550777', powerpackId: null },
      { reason: expect.stringContaining('no offset'), messageUuid: 'u3', direction: 'outbound', fromNumber: '14155550100',
        toNumber: '14155550123', powerpackId: null },
      { reason: expect.stringContaining('not a JSON object'), messageUuid: null, direction: null, fromNumber: null, toNumber: null, powerpackId: null },
    ]);
  });

  it('still refuses an answer that is not a page', () => {
    expect(() => parseListPage({ meta: {} })).toThrow('no objects array');
  });
});

describe('mayBeAmong: can an unreadable record matter?', () => {
  const record = (r: Partial<UnreadableRecord>): UnreadableRecord => ({
    reason: 'x', messageUuid: 'u9', direction: 'outbound', fromNumber: '14155550100', toNumber: '14155550123', powerpackId: null, ...r,
  });
  const batch = { sender: '14155550100', to: new Set(['14155550123', '14155550124']) };

  it('cannot when something readable rules it out: another sender, another number, inbound, a uuid not wanted', () => {
    expect(mayBeAmong(record({ fromNumber: '18005550199' }), batch)).toBe(false);
    expect(mayBeAmong(record({ toNumber: '14155550999' }), batch)).toBe(false);
    expect(mayBeAmong(record({ direction: 'inbound' }), batch)).toBe(false);
    expect(mayBeAmong(record({}), { uuids: new Set(['u1']) })).toBe(false);
    expect(mayBeAmong(record({ powerpackId: 'pp-2' }), { sender: 'powerpack:pp-1' })).toBe(false);
  });

  it('can when it is, or may be, one of them: matching fields, a + on the number, or nothing readable', () => {
    expect(mayBeAmong(record({}), batch)).toBe(true);
    expect(mayBeAmong(record({ toNumber: '+14155550124', fromNumber: '+14155550100' }), batch)).toBe(true);
    expect(mayBeAmong(record({ messageUuid: null, direction: null, fromNumber: null, toNumber: null }), batch)).toBe(true);
    expect(mayBeAmong(record({}), { uuids: new Set(['u9']) })).toBe(true);
    expect(mayBeAmong(record({ powerpackId: 'pp-1', fromNumber: '14155550777' }), { sender: 'powerpack:pp-1' })).toBe(true);
  });
});

describe('senderFilter', () => {
  it("asks for each sender kind the way Plivo's docs say: a long code in E.164, a short code or sender ID exactly", () => {
    const query = (sender: string) => new URLSearchParams(listQuery(senderFilter(sender)).slice(1));
    expect(query('14155550100').get('from_number')).toBe('+14155550100');
    expect(query('12345').get('from_number')).toBe('12345');
    expect(query('ACME').get('from_number')).toBe('ACME');
    expect(query('powerpack:pp-1').get('powerpack_id')).toBe('pp-1');
    expect(query('powerpack:pp-1').has('from_number')).toBe(false);
  });
});
