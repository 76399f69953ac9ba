/**
 * Reading a status callback into an update (src/track/callback.ts): the times as Plivo sends them.
 */
import { describe, expect, it } from 'vitest';
import { parseCallback } from '../src/track/callback.js';

const fields = {
  MessageUUID: 'db3ce55a-7f1d-11e1-8ea7-1231380bc196', To: '14155550001', From: '14155550000', Status: 'delivered',
  Units: '1', TotalRate: '0.00500', TotalAmount: '0.00500', ErrorCode: '000', Sequence: '3',
  // Plivo's form (its docs, every official SDK's fixtures): UTC with microseconds and no offset.
  MessageTime: '2024-08-21 12:58:51.123456', QueuedTime: '2024-08-21 12:58:51.123456',
  SentTime: '2024-08-21 12:58:52.004312', DeliveryReportTime: '2024-08-21 12:58:55.730201',
};

describe('parseCallback', () => {
  it('reads callback times without an offset as UTC: MessageTime as the message time, the latest of the others as the change', () => {
    const update = parseCallback(fields, new URLSearchParams('campaign=4&batch=9'));
    expect(update).toMatchObject({ uuid: fields.MessageUUID, state: 'delivered', final: true, sequence: 3, campaignId: 4, batchId: 9 });
    if ('invalid' in update) throw new Error(update.invalid);
    expect(update.messageTime?.toISOString()).toBe('2024-08-21T12:58:51.123Z');
    expect(update.providerUpdatedAt?.toISOString()).toBe('2024-08-21T12:58:55.730Z');
  });

  it('reads a time that does not parse as unknown, without refusing the callback', () => {
    const update = parseCallback({ ...fields, MessageTime: 'yesterday', DeliveryReportTime: '' }, new URLSearchParams());
    if ('invalid' in update) throw new Error(update.invalid);
    expect(update.messageTime).toBeNull();
    expect(update.providerUpdatedAt?.toISOString()).toBe('2024-08-21T12:58:52.004Z');
  });
});
