/**
 * Applying what Plivo says (src/ledger/tracking.ts) and flagging what it leaves unsaid
 * (src/ledger/unaccounted.ts), on every available ledger: a recipient is linked to its message the first
 * time a report gives the message's number, news or not; a verdict of smsrun's own (given up past the
 * expiry) ranks below Plivo's final word; a 202 whose uuids do not match its numbers is flagged.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Db } from '../src/ledger/db.js';
import { findCampaign } from '../src/ledger/campaigns.js';
import { reportPage } from '../src/ledger/reports.js';
import { applyProviderUpdates, giveUpUnknown, type ProviderUpdate } from '../src/ledger/tracking.js';
import { enrollUnlinked } from '../src/ledger/unaccounted.js';
import { formatSummary, summarize } from '../src/report/summary.js';
import { accept, claimedCampaign, recipients } from './helpers/campaigns.js';
import { LEDGER_KINDS, ledgerPerDescribe } from './helpers/ledgers.js';

const A = '14155552001';
const B = '14155552002';
const C = '14155552003';

function update(uuid: string, u: Partial<ProviderUpdate>): ProviderUpdate {
  const state = u.state ?? 'delivered';
  return {
    uuid, toNumber: null, state, final: ['delivered', 'undelivered', 'failed'].includes(state), errorCode: null, units: 1,
    totalRate: '0.00500', totalAmount: '0.00500', messageTime: null, providerUpdatedAt: null, sequence: null, via: 'get',
    nextPollAt: new Date(Date.now() + 60_000), ...u,
  };
}

describe.each(LEDGER_KINDS)('applying provider updates on the %s ledger', (kind) => {
  let db: Db;

  ledgerPerDescribe(kind, (opened) => { db = opened; });

  it('links a recipient on first sight of its number, even when that report is old news, and gives it the message status', async () => {
    const c = await claimedCampaign(db, [A, B]);
    const [u1, u2] = [randomUUID(), randomUUID()];
    await accept(db, c.batches[0]!, [u1, u2]);
    // The final word arrives without the number (a callback that lacks To): nothing to link yet.
    await applyProviderUpdates(db, [update(u1, { state: 'delivered', final: true, via: 'callback', sequence: 3 })]);
    expect((await recipients(db, c.id)).map((r) => [r.status, r.message_uuid])).toEqual([['submitted', null], ['submitted', null]]);
    // Later reports give the numbers but are no news: an older state, and the same final state again.
    await applyProviderUpdates(db, [update(u1, { toNumber: A, state: 'sent', final: false })]);
    await applyProviderUpdates(db, [update(u2, { toNumber: B, state: 'queued', final: false }), update(u2, { toNumber: B, state: 'queued', final: false })]);
    expect(await recipients(db, c.id)).toMatchObject([
      { dst: A, status: 'delivered', message_uuid: u1 },
      { dst: B, status: 'submitted', message_uuid: u2 },
    ]);
    const [m] = await db.query<{ state: string; to_number: string }>('SELECT state, to_number FROM messages WHERE message_uuid = $1', [u1]);
    expect(m).toEqual({ state: 'delivered', to_number: A });
  });

  it('never moves a linked recipient to another message with the same number', async () => {
    const c = await claimedCampaign(db, [A, B]);
    const [u1, u2, extra] = [randomUUID(), randomUUID(), randomUUID()];
    await accept(db, c.batches[0]!, [u1, u2, extra]);
    await applyProviderUpdates(db, [update(u1, { toNumber: A })]);
    await applyProviderUpdates(db, [update(extra, { toNumber: A, state: 'failed', errorCode: '30' })]);
    expect((await recipients(db, c.id))[0]).toMatchObject({ status: 'delivered', message_uuid: u1 });
  });

  it('a message given up while queued is expired with its reason, ranks below Plivo\'s own final word, and is shown so', async () => {
    const c = await claimedCampaign(db, [A]);
    const uuid = randomUUID();
    await accept(db, c.batches[0]!, [uuid]); // a lone pair: linked at once
    const reason = 'given up: Plivo still held it queued 3h15m after it was sent';
    await applyProviderUpdates(db, [update(uuid, { toNumber: A, state: 'queued', final: true, reason })]);
    expect(await recipients(db, c.id)).toEqual([{ dst: A, status: 'expired', message_uuid: uuid, reason: null }]);
    const [row] = await reportPage(db, c.id, 0, 10);
    expect(row).toMatchObject({ status: 'expired', message_uuid: uuid, reason });
    expect(formatSummary(await summarize(db, (await findCampaign(db, c.name))!))).toMatch(/expired\s+1\s+never sent: still queued at Plivo/);

    // A late callback that is older news changes nothing; Plivo's final state replaces the verdict.
    await applyProviderUpdates(db, [update(uuid, { toNumber: A, state: 'sent', final: false, via: 'callback', sequence: 2 })]);
    expect((await recipients(db, c.id))[0]!.status).toBe('expired');
    await applyProviderUpdates(db, [update(uuid, { toNumber: A, state: 'failed', errorCode: '420', via: 'callback', sequence: 3 })]);
    expect(await recipients(db, c.id)).toEqual([{ dst: A, status: 'failed', message_uuid: uuid, reason: null }]);
    const [m] = await db.query<{ state: string; error_code: string; final_reason: string | null; final_via: string }>(
      'SELECT state, error_code, final_reason, final_via FROM messages WHERE message_uuid = $1', [uuid]);
    expect(m).toEqual({ state: 'failed', error_code: '420', final_reason: null, final_via: 'callback' });
  });

  it('a message Plivo does not know is given up with its reason; an unlinked recipient left behind is flagged for accounting', async () => {
    const c = await claimedCampaign(db, [A, B]);
    const [u1, u2] = [randomUUID(), randomUUID()];
    await accept(db, c.batches[0]!, [u1, u2]);
    await applyProviderUpdates(db, [update(u1, { toNumber: A })]);
    expect(await enrollUnlinked(db, c.id)).toBe(0); // u2 is open: tracking may still learn its number
    expect(await giveUpUnknown(db, [{ uuid: u2, reason: 'given up: Plivo had no record of it (404)' }])).toEqual([c.batches[0]!.id]);
    expect(await giveUpUnknown(db, [{ uuid: u2, reason: 'again' }])).toEqual([]); // already final
    const [m] = await db.query<{ final_reason: string; final_at: Date | null }>('SELECT final_reason, final_at FROM messages WHERE message_uuid = $1', [u2]);
    expect(m?.final_reason).toBe('given up: Plivo had no record of it (404)');
    expect(m?.final_at).toBeInstanceOf(Date);
    expect(await enrollUnlinked(db, c.id, [c.batches[0]!.id])).toBe(1);
    expect(await enrollUnlinked(db, c.id)).toBe(0);
    const rows = await db.query('SELECT cause, settled_at FROM unaccounted_batches WHERE batch_id = $1', [c.batches[0]!.id]);
    expect(rows).toEqual([{ cause: 'unlinked', settled_at: null }]);
  });

  it('a 202 with fewer uuids than numbers is flagged: an event, a batch to account for, and a line in status', async () => {
    const c = await claimedCampaign(db, [A, B, C, '999']);
    await accept(db, c.batches[0]!, [randomUUID(), randomUUID()], ['999']);
    const events = await db.query<{ kind: string; detail: unknown }>('SELECT kind, detail FROM events WHERE campaign_id = $1', [c.id]);
    expect(events).toEqual([{ kind: 'uuid_count_mismatch', detail: { batch: c.batches[0]!.id, numbers: 3, uuids: 2 } }]);
    const summary = await summarize(db, (await findCampaign(db, c.name))!);
    expect(summary.uuidCountMismatches).toEqual([{ batchId: c.batches[0]!.id, numbers: 3, uuids: 2, unaccounted: 3, failed: 0 }]);
    expect(formatSummary(summary)).toContain(`batch ${c.batches[0]!.id}: Plivo's 202 held 2 message_uuid(s) for 3 number(s); 3 recipient(s) being looked up`);

    const matching = await claimedCampaign(db, [A, B]);
    await accept(db, matching.batches[0]!, [randomUUID(), randomUUID()]);
    expect(await db.query('SELECT 1 FROM events WHERE campaign_id = $1', [matching.id])).toEqual([]);
  });
});
