/**
 * Status-callback times (src/track/callback.ts): Plivo sends them in UTC without an offset; they are read
 * as such, and the simulator sends them so, end to end into the ledger.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/ledger/db.js';
import { recordAccepted } from '../src/ledger/sending.js';
import { applyProviderUpdates } from '../src/ledger/tracking.js';
import { PlivoClient } from '../src/plivo/client.js';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { parseCallback } from '../src/track/callback.js';
import { callbackUrlFor, startReceiver } from '../src/track/receiver.js';
import { claimedCampaign, recipients } from './helpers/campaigns.js';
import { freePort } from './helpers/cli.js';
import { deliveredNumber } from './helpers/csv.js';
import { LEDGER_KINDS, ledgerPerDescribe } from './helpers/ledgers.js';
import { waitFor } from './helpers/wait.js';

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

describe.each(LEDGER_KINDS)('callback times from the simulator into the %s ledger', (kind) => {
  let db: Db;
  let sim: Simulator;

  ledgerPerDescribe(kind, (opened) => { db = opened; });
  beforeAll(async () => {
    sim = await startSimulator({ mps: 1000, deliveryDelayMs: [20, 100], seed: 3 });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('are stored: message_time is the message\'s, provider_updated_at its last change', async () => {
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}/plivo/status`;
    const rx = await startReceiver({ publicUrl, listen: { host: '127.0.0.1', port }, authToken: sim.authToken, apply: (u) => applyProviderUpdates(db, u) });
    try {
      const dsts = [deliveredNumber(61_000), deliveredNumber(61_001)];
      const campaign = await claimedCampaign(db, dsts);
      const batch = campaign.batches[0]!;
      const client = new PlivoClient({ authId: sim.authId, authToken: sim.authToken, baseUrl: sim.url });
      const out = await client.send({ src: batch.sender, dst: batch.dsts, text: 'hi', url: callbackUrlFor(publicUrl, campaign.id, batch.id) });
      if (out.kind !== 'accepted') throw new Error(out.reason);
      await recordAccepted(db, batch, { httpStatus: 202, apiId: out.apiId, messageUuids: out.messageUuids, invalidNumbers: [] });
      await waitFor('both messages delivered by callback', async () =>
        (await recipients(db, campaign.id)).every((r) => r.status === 'delivered'));
      const rows = await db.query<{ message_uuid: string; message_time: Date | null; provider_updated_at: Date | null }>(
        'SELECT message_uuid, message_time, provider_updated_at FROM messages WHERE campaign_id = $1', [campaign.id]);
      for (const row of rows) {
        const m = sim.message(row.message_uuid)!;
        expect(row.message_time?.getTime(), 'message_time').toBe(Math.floor(m.acceptedAtUs / 1000));
        expect(row.provider_updated_at?.getTime(), 'provider_updated_at').toBe(Math.floor(m.updatedAtUs / 1000));
      }
    } finally {
      await rx.close();
    }
  });
});
