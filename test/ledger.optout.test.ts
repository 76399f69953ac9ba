/**
 * Opt-outs, cancel and retry in the ledger (src/ledger/suppressions.ts, cancel.ts, retry.ts), on every
 * available ledger: the scrub after a load, the claim-time check for numbers listed mid-campaign, error 200
 * joining the list, a cancelled campaign never claimed, and a retry that never re-texts anyone reached.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Db } from '../src/ledger/db.js';
import { findCampaign } from '../src/ledger/campaigns.js';
import { cancelCampaign } from '../src/ledger/cancel.js';
import { finalizeLoad, insertCampaign, insertRecipients } from '../src/ledger/load.js';
import { createRetryCampaign } from '../src/ledger/retry.js';
import { recordAccepted } from '../src/ledger/sending.js';
import { saveOpenings } from '../src/ledger/windows.js';
import { addSuppressions, removeSuppressions, scrubSuppressed, suppressedAmong, suppressedRecipients } from '../src/ledger/suppressions.js';
import { applyProviderUpdates, type ProviderUpdate } from '../src/ledger/tracking.js';
import { TEST_SENDER, claimNext, recipients } from './helpers/campaigns.js';
import { planSuppression, suppressedRows } from '../src/optout/plan.js';
import type { Job } from '../src/campaign/job.js';
import type { Queryable } from '../src/ledger/db.js';
import { LEDGER_KINDS, ledgerPerDescribe } from './helpers/ledgers.js';

const ACCOUNT = 'MAOPTOUTTEST000000001';
const OWNER = 'optout-test';

/** A loaded (not claimed) campaign of these numbers, one batch of `batchSize`. */
async function loaded(db: Db, dsts: readonly string[], batchSize = dsts.length, zones?: readonly string[]): Promise<{ id: number; name: string }> {
  const name = `o-${randomUUID().slice(0, 8)}`;
  const id = await db.transaction(async (tx) => {
    const campaignId = await insertCampaign(tx, { name, job: { name }, jobFile: 'job.json', csvFile: 'r.csv', csvSha256: '-', contentHash: '-', senders: [TEST_SENDER] });
    await insertRecipients(tx, campaignId, dsts.map((dst, i) => ({
      rowNo: i + 1, lineNo: i + 2, rawDst: `+${dst}`, dst, text: 'Sale ends Sunday', units: 1, status: 'pending' as const, reason: null, country: 'US', numberType: 'mobile',
      ...(zones ? { timeZone: zones[i] ?? null } : {}),
    })));
    await finalizeLoad(tx, campaignId, [TEST_SENDER], batchSize);
    return campaignId;
  });
  return { id, name };
}

async function claimAll(db: Db, campaignId: number) {
  const claimed = [];
  for (let c = await claimNext(db, campaignId, { owner: OWNER }); c; c = await claimNext(db, campaignId, { owner: OWNER })) claimed.push(c);
  return claimed;
}

function final(uuid: string, to: string, state: string, errorCode: string): ProviderUpdate {
  return {
    uuid, toNumber: to, state, final: true, errorCode, units: 1, totalRate: '0.00500', totalAmount: '0.00000', messageTime: null,
    providerUpdatedAt: null, sequence: 3, via: 'callback', nextPollAt: null,
  };
}

describe.each(LEDGER_KINDS)('opt-outs, cancel and retry on the %s ledger', (kind) => {
  let db: Db;

  ledgerPerDescribe(kind, (opened) => { db = opened; });

  it('the scrub turns listed pending numbers into suppressed, with the reason, and only for its account', async () => {
    await addSuppressions(db, ACCOUNT, [{ number: '14155553001', reason: 'asked by email', source: 'manual' }]);
    await addSuppressions(db, 'MAOTHERACCOUNT0000001', [{ number: '14155553002', reason: 'x', source: 'manual' }]);
    const c = await loaded(db, ['14155553001', '14155553002', '14155553003']);
    expect(await scrubSuppressed(db, c.id, ACCOUNT)).toBe(1);
    const rows = await recipients(db, c.id);
    expect(rows.map((r) => r.status)).toEqual(['suppressed', 'pending', 'pending']);
    expect(rows[0]!.reason).toMatch(/on the suppression list \(manual, .* UTC\): asked by email/);
    const s = await suppressedRecipients(db, c.id, 10);
    expect(s.count).toBe(1);
    expect(s.rows[0]).toMatchObject({ row_no: 1, dst: '14155553001' });
    expect((await suppressedAmong(db, ACCOUNT, ['14155553001', '14155553003'])).map((r) => r.number)).toEqual(['14155553001']);
    // What plan calls for rows not loaded yet.
    const planned = await suppressedRows(db, ACCOUNT, [{ line: 2, dst: '14155553001' }, { line: 3, dst: null }, { line: 4, dst: '14155553003' }]);
    expect(planned).toEqual([{ row: { line: 2, dst: '14155553001' }, reason: expect.stringMatching(/^on the suppression list \(manual, .* UTC\): asked by email$/) }]);
  });

  it('a number listed after the load is taken out of its batch at claim time; a batch left empty is closed `suppressed`, unsent', async () => {
    const c = await loaded(db, ['14155553101', '14155553102', '14155553103'], 2);
    await scrubSuppressed(db, c.id, ACCOUNT);
    await addSuppressions(db, ACCOUNT, [
      { number: '14155553102', reason: 'texted STOP', source: 'inbound' },
      { number: '14155553103', reason: 'texted STOP', source: 'inbound' },
    ]);
    const claimed = await claimAll(db, c.id);
    expect(claimed.map((b) => b.dsts)).toEqual([['14155553101']]);
    const rows = await recipients(db, c.id);
    expect(rows.map((r) => r.status)).toEqual(['sending', 'suppressed', 'suppressed']);
    const batches = await db.query<{ status: string; attempts: number; last_error: string | null }>(
      'SELECT status, attempts, last_error FROM batches WHERE campaign_id = $1 ORDER BY id', [c.id]);
    // Not `failed`: nothing was sent, so nothing failed (sql/020).
    expect(batches).toEqual([
      { status: 'in_flight', attempts: 1, last_error: null },
      { status: 'suppressed', attempts: 0, last_error: 'not sent: every recipient was suppressed at the claim' },
    ]);
    const attempts = await db.query('SELECT 1 FROM attempts a JOIN batches b ON b.id = a.batch_id WHERE b.campaign_id = $1', [c.id]);
    expect(attempts).toHaveLength(1);
  });

  it('error 200 adds the number to the campaign account\'s list; other errors do not', async () => {
    const c = await loaded(db, ['14155553201', '14155553202']);
    await scrubSuppressed(db, c.id, ACCOUNT);
    const [batch] = await claimAll(db, c.id);
    await recordAccepted(db, batch!, { httpStatus: 202, apiId: 'a', messageUuids: ['u-3201', 'u-3202'], invalidNumbers: [] });
    await applyProviderUpdates(db, [final('u-3201', '14155553201', 'failed', '200'), final('u-3202', '14155553202', 'undelivered', '80')]);
    const listed = await suppressedAmong(db, ACCOUNT, ['14155553201', '14155553202']);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ number: '14155553201', source: 'error_200' });
    expect(listed[0]!.reason).toMatch(new RegExp(`error 200.*${c.name}.*u-3201`));
    const next = await loaded(db, ['14155553201', '14155553202']);
    expect(await scrubSuppressed(db, next.id, ACCOUNT)).toBe(1);
    expect(await removeSuppressions(db, ACCOUNT, ['14155553201'])).toBe(1);
  });

  it('a cancelled campaign is never claimed again: pending recipients cancelled, a batch put back pending stays unclaimed', async () => {
    const c = await loaded(db, ['14155553301', '14155553302', '14155553303', '14155553304'], 2);
    await scrubSuppressed(db, c.id, ACCOUNT);
    const first = await claimNext(db, c.id, { owner: OWNER });
    const r = await cancelCampaign(db, c.id, 'test');
    expect(r).toMatchObject({ fresh: true, recipients: 2, unsettled: 2 });
    expect((await recipients(db, c.id)).map((x) => x.status)).toEqual(['sending', 'sending', 'cancelled', 'cancelled']);
    // The batch never sent is closed as `cancelled` (sql/021), not as a send failure; the claimed one stays in flight.
    const batches = await db.query<{ status: string }>('SELECT status FROM batches WHERE campaign_id = $1 ORDER BY id', [c.id]);
    expect(batches.map((b) => b.status)).toEqual(['in_flight', 'cancelled']);
    // A retryable answer after the cancel puts the in-flight batch back to pending: it must not be claimed.
    await db.query(`UPDATE batches SET status = 'pending', lease_owner = NULL WHERE id = $1`, [first!.id]);
    expect(await claimNext(db, c.id, { owner: OWNER })).toBeUndefined();
    const again = await cancelCampaign(db, c.id, 'test');
    expect(again.fresh).toBe(false);
    expect(again.cancelledAt.getTime()).toBe(r.cancelledAt.getTime());
  });

  it('a retry copies only the chosen statuses, and leaves out numbers the family reached or is texting', async () => {
    const dsts = ['14155553401', '14155553402', '14155553403', '14155553404'];
    const c = await loaded(db, dsts);
    await scrubSuppressed(db, c.id, ACCOUNT);
    const [batch] = await claimAll(db, c.id);
    await recordAccepted(db, batch!, { httpStatus: 202, apiId: 'a', messageUuids: dsts.map((d) => `u-${d}`), invalidNumbers: [] });
    await applyProviderUpdates(db, [
      final('u-14155553401', '14155553401', 'delivered', '000'),
      final('u-14155553402', '14155553402', 'failed', '90'),
      final('u-14155553403', '14155553403', 'undelivered', '80'),
      final('u-14155553404', '14155553404', 'failed', '30'),
    ]);
    const original = (await findCampaign(db, c.name))!;
    const r = await createRetryCampaign(db, original, { name: `${c.name}-retry1`, statuses: ['failed'], batchSize: 100 });
    expect(r).toMatchObject({ byStatus: { failed: 2 }, leftOut: 0 });
    const retried = await db.query<{ row_no: number; dst: string; status: string }>('SELECT row_no, dst, status FROM recipients WHERE campaign_id = $1 ORDER BY row_no', [r!.campaignId]);
    expect(retried).toEqual([{ row_no: 2, dst: '14155553402', status: 'pending' }, { row_no: 4, dst: '14155553404', status: 'pending' }]);
    const [link] = await db.query<{ retry_of: number; name: string }>('SELECT retry_of, job->>\'name\' AS name FROM campaigns WHERE id = $1', [r!.campaignId]);
    expect(link).toEqual({ retry_of: c.id, name: `${c.name}-retry1` });
    // A second retry of the original: the failed ones are pending in retry1 (on their way), so only 3403 is new.
    const r2 = await createRetryCampaign(db, original, { name: `${c.name}-retry2`, statuses: ['failed', 'undelivered'], batchSize: 100 });
    expect(r2).toMatchObject({ byStatus: { undelivered: 1 }, leftOut: 2 });
    // Nothing left to retry: nothing created.
    expect(await createRetryCampaign(db, original, { name: `${c.name}-retry3`, statuses: ['failed'], batchSize: 100 })).toBeUndefined();
    expect(await findCampaign(db, `${c.name}-retry3`)).toBeUndefined();
  });

  it("a retry keeps each recipient's time zone: its batches wait for the send window as the first campaign's did", async () => {
    const dsts = ['14155553501', '14155553502', '14155553503'];
    const zones = ['America/New_York', 'Asia/Tokyo', 'Asia/Tokyo'];
    const c = await loaded(db, dsts, 10, zones);
    // The first campaign's windows are open now (as the run's keeper would have written them).
    const now = (await db.query<{ now: Date }>('SELECT now() AS now'))[0]!.now;
    const open = (zone: string) => ({ zone, opensAt: new Date(now.getTime() - 3_600_000), closesAt: new Date(now.getTime() + 3_600_000) });
    await saveOpenings(db, c.id, [open('America/New_York'), open('Asia/Tokyo')]);
    const batches = await claimAll(db, c.id);
    expect(batches).toHaveLength(2); // one batch per zone
    for (const b of batches) {
      await recordAccepted(db, b, { httpStatus: 202, apiId: randomUUID(), messageUuids: b.dsts.map((d) => `u-${d}`), invalidNumbers: [] });
    }
    await applyProviderUpdates(db, dsts.map((d) => final(`u-${d}`, d, 'failed', '90')));
    const r = await createRetryCampaign(db, (await findCampaign(db, c.name))!, { name: `${c.name}-retry1`, statuses: ['failed'], batchSize: 10 });
    const copied = await db.query<{ dst: string; time_zone: string | null }>('SELECT dst, time_zone FROM recipients WHERE campaign_id = $1 ORDER BY row_no', [r!.campaignId]);
    expect(copied.map((x) => x.time_zone)).toEqual(zones);
    const retryBatches = await db.query<{ time_zone: string | null }>('SELECT time_zone FROM batches WHERE campaign_id = $1 ORDER BY time_zone', [r!.campaignId]);
    expect(retryBatches).toEqual([{ time_zone: 'America/New_York' }, { time_zone: 'Asia/Tokyo' }]);
    // No opening known for the retry yet: nothing is ready until its run computes one (never outside the window).
    expect(await claimNext(db, r!.campaignId)).toBeUndefined();
  });

  it("plan reads a small account list whole and releases the ledger before any row is looked up; a held ledger is queried per chunk", async () => {
    const account = `MAPLAN${randomUUID().replace(/-/g, '').slice(0, 15).toUpperCase()}`;
    await addSuppressions(db, account, [
      { number: '14155553601', reason: 'asked in store', source: 'manual' },
      { number: '14155553602', reason: 'texted STOP', source: 'inbound' },
    ]);
    const job = { jobFile: '/nowhere/job.json', suppress: [] } as unknown as Job;
    let released = false;
    const guarded: Queryable = { query: (sql, params) => (released ? Promise.reject(new Error('queried after release')) : db.query(sql, params)) };
    const small = await planSuppression(job, { db: guarded, ledger: 'test', account, release: async () => { released = true; } });
    expect(released).toBe(true);
    expect(small.summary.ledger).toEqual({ consulted: true, ledger: 'test', account, numbers: 2 });
    const found = await small.listed(['14155553601', '14155553603']);
    expect([...found.keys()]).toEqual(['14155553601']);
    expect(found.get('14155553601')).toMatch(/^on the suppression list \(manual, .* UTC\): asked in store$/);
    // Without `release` (Postgres, or read through the process holding the ledger): one query per chunk.
    const held = await planSuppression(job, { db, ledger: 'test', account });
    expect([...(await held.listed(['14155553602', '14155553603'])).keys()]).toEqual(['14155553602']);
  });
});
