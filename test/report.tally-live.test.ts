/**
 * The live part of the summary's tally (LIVE_TALLIES in ledger/reports.ts) against a brute-force count taken
 * straight from recipients, messages and attempts, on a campaign in a mixed state: pending batches never
 * attempted (counted per sender, not per batch) whose recipients were suppressed one by one, or all of them, or
 * moved away, while the batch stayed pending and kept its size; a pending batch retried after a failure; a
 * cancelled batch never attempted (settled); accepted batches with and without final messages, with errors. The
 * figures must be the same live, after the settled batches are tallied, and read only.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Db, Tx } from '../src/ledger/db.js';
import { campaignTally, type CampaignTally } from '../src/ledger/reports.js';
import { ledgerPerDescribe, LEDGER_KINDS } from './helpers/ledgers.js';

const [A, B, C, D] = ['14155550201', '14155550202', '14155550203', '14155550204'];

interface Seeded { id: number; fresh: number; settledBatches: number[] }

/** The mixed campaign; `fresh` is its pending batch never attempted whose size is 4 but has 2 pending recipients left. */
async function seed(db: Db): Promise<Seeded> {
  return db.transaction(async (tx) => {
    const [c] = await tx.query<{ id: number }>(
      `INSERT INTO campaigns (name, job, job_file, csv_file, csv_sha256, content_hash, senders, state, total_rows)
       VALUES ('mixed', '{"name": "mixed", "rate": 1}', 'job.json', 'r.csv', '-', '-', $1, 'sending', 30) RETURNING id`, [[A, B, C, D]]);
    const id = c!.id;
    let row = 0;
    const batch = async (sender: string, status: string, attempts: number, units: number, size: number) => (await tx.query<{ id: number }>(
      `INSERT INTO batches (campaign_id, sender, units, size, status, attempts, accepted_at)
       VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $5 = 'accepted' THEN now() END) RETURNING id`,
      [id, sender, units, size, status, attempts]))[0]!.id;
    const recipient = async (b: number | null, sender: string | null, status: string, units: number, uuid: string | null = null) => {
      row++;
      await tx.query(`INSERT INTO recipients (campaign_id, row_no, line_no, batch_id, status, message_uuid, units, sender) VALUES ($1, $2, $2 + 1, $3, $4, $5, $6, $7)`,
        [id, row, b, status, uuid, units, sender]);
    };
    const attempt = (b: number, no: number, status: string, minutesAgo: number) => tx.query(
      `INSERT INTO attempts (batch_id, attempt_no, owner, status, started_at) VALUES ($1, $2, 'x', $3, now() - make_interval(mins => $4))`, [b, no, status, minutesAgo]);
    const message = (uuid: string, b: number, state: string, code: string | null, units: number | null, final: boolean, rate: string | null = '0.005') => tx.query(
      `INSERT INTO messages (message_uuid, campaign_id, batch_id, state, error_code, units, total_rate, total_amount, final_at, provider_updated_at)
       VALUES ($1, $2, $3, $4, $5, $6::int, $7::numeric, $7::numeric * $6::int, CASE WHEN $8 THEN now() - interval '1 min' END, CASE WHEN $8 THEN now() - interval '2 min' END)`,
      [uuid, id, b, state, code, units, rate, final]);

    // Sender A: a pending batch never attempted, of 4, two of its recipients suppressed one by one (scrub)
    const fresh = await batch(A, 'pending', 0, 2, 4);
    await recipient(fresh, A, 'pending', 2);
    await recipient(fresh, A, 'suppressed', 2);
    await recipient(fresh, A, 'pending', 3);
    await recipient(fresh, A, 'suppressed', 1);
    // ... one whose every recipient was suppressed, still pending
    const scrubbed = await batch(A, 'pending', 0, 1, 2);
    await recipient(scrubbed, A, 'suppressed', 1);
    await recipient(scrubbed, A, 'suppressed', 1);
    // ... another, plain
    const plain = await batch(A, 'pending', 0, 1, 3);
    for (let i = 0; i < 3; i++) await recipient(plain, A, 'pending', 1);
    // ... a cancelled batch never attempted: settled
    const cancelled = await batch(A, 'cancelled', 0, 1, 2);
    await recipient(cancelled, A, 'cancelled', 1);
    await recipient(cancelled, A, 'cancelled', 1);

    // Sender B: an accepted batch whose messages are all final (settled), one undelivered with an error
    const done = await batch(B, 'accepted', 1, 1, 3);
    await attempt(done, 1, 'accepted', 30);
    await recipient(done, B, 'delivered', 1, 'd1');
    await recipient(done, B, 'delivered', 2, 'd2');
    await recipient(done, B, 'undelivered', 1, 'd3');
    await message('d1', done, 'delivered', '000', 1, true);
    await message('d2', done, 'delivered', '000', 2, true);
    await message('d3', done, 'undelivered', '30', 1, true);
    // ... an accepted batch sent twice (the first failed), one message still queued, one failed with an error, one unpriced
    const open = await batch(B, 'accepted', 2, 1, 4);
    await attempt(open, 1, 'failed_retryable', 20);
    await attempt(open, 2, 'accepted', 10);
    await recipient(open, B, 'submitted', 1, 'o1');
    await recipient(open, B, 'failed', 1, 'o2');
    await recipient(open, B, 'delivered', 1, 'o3');
    await recipient(open, B, 'submitted', 1, 'o4');
    await message('o1', open, 'queued', null, null, false);
    await message('o2', open, 'failed', '80', 1, true);
    await message('o3', open, 'delivered', '000', 1, true, null);
    await message('o4', open, 'sent', null, 1, false);
    // ... a pending batch retried after a failure: attempted, not settled
    const retried = await batch(B, 'pending', 1, 1, 2);
    await attempt(retried, 1, 'failed_retryable', 5);
    await recipient(retried, B, 'pending', 1);
    await recipient(retried, B, 'suppressed', 1);

    // Sender C: a pending batch never attempted whose recipients all went to another (a split), and that one
    await batch(C, 'pending', 0, 1, 2);
    const split = await batch(C, 'pending', 0, 1, 2);
    await recipient(split, C, 'pending', 1);
    await recipient(split, C, 'pending', 1);
    // Sender D: only such an empty pending batch; it is listed all the same, with nothing assigned
    await batch(D, 'pending', 0, 1, 1);

    // Rows without a batch
    await recipient(null, null, 'invalid', 1);
    await recipient(null, null, 'duplicate', 1);
    return { id, fresh, settledBatches: [cancelled, done] };
  });
}

/** The tally's figures counted by brute force from the campaign's rows, in the shape of CampaignTally. */
async function bruteForce(db: Tx | Db, id: number): Promise<CampaignTally> {
  const statuses = await db.query<{ status: string; count: number; units: number }>(
    `SELECT status, count(*)::int AS count, coalesce(sum(units), 0)::int AS units FROM recipients WHERE campaign_id = $1 GROUP BY 1 ORDER BY 1`, [id]);
  const senders = await db.query<CampaignTally['senders'][number]>(
    `WITH per_batch AS (
       SELECT b.id, b.sender, b.attempts, b.units AS batch_units,
              (SELECT count(*) FROM recipients r WHERE r.batch_id = b.id)::int AS n,
              (SELECT coalesce(sum(r.units), 0) FROM recipients r WHERE r.batch_id = b.id)::int AS n_units
       FROM batches b WHERE b.campaign_id = $1),
     r AS (SELECT b.sender, r.status, r.message_uuid FROM recipients r JOIN batches b ON b.id = r.batch_id WHERE b.campaign_id = $1),
     m AS (SELECT b.sender, b.units AS batch_units, m.* FROM messages m JOIN batches b ON b.id = m.batch_id WHERE b.campaign_id = $1)
     SELECT s.sender,
            (SELECT count(*) FROM r WHERE r.sender = s.sender)::int AS assigned,
            (SELECT count(message_uuid) FROM r WHERE r.sender = s.sender)::int AS accepted,
            (SELECT count(*) FROM r WHERE r.sender = s.sender AND r.status = 'delivered')::int AS delivered,
            (SELECT count(*) FROM r WHERE r.sender = s.sender AND r.status = 'undelivered')::int AS undelivered,
            (SELECT count(*) FROM r WHERE r.sender = s.sender AND r.status = 'failed')::int AS failed,
            (SELECT count(*) FROM r WHERE r.sender = s.sender AND r.status = 'rejected')::int AS rejected,
            (SELECT count(*) FROM r WHERE r.sender = s.sender AND r.status = 'sent')::int AS sent,
            (SELECT count(*) FROM r WHERE r.sender = s.sender AND r.status = 'submitted')::int AS open,
            (SELECT count(*) FROM r WHERE r.sender = s.sender AND r.status IN ('pending', 'sending'))::int AS unsent,
            (SELECT coalesce(sum(coalesce(m.units, m.batch_units)), 0) FROM m WHERE m.sender = s.sender)::int AS units,
            (SELECT coalesce(sum(m.total_amount), 0) FROM m WHERE m.sender = s.sender)::text AS amount,
            (SELECT coalesce(sum(n), 0) FROM per_batch p WHERE p.sender = s.sender AND p.attempts > 0)::int AS requested,
            (SELECT coalesce(sum(n_units), 0) FROM per_batch p WHERE p.sender = s.sender AND p.attempts > 0)::int AS "requestedUnits",
            (SELECT count(*) FROM per_batch p WHERE p.sender = s.sender AND p.attempts > 0)::int AS requests,
            (SELECT coalesce(max(n), 0) FROM per_batch p WHERE p.sender = s.sender AND p.attempts > 0)::int AS "largestRequest",
            (SELECT coalesce(max(n_units), 0) FROM per_batch p WHERE p.sender = s.sender AND p.attempts > 0)::int AS "largestRequestUnits"
     FROM (SELECT DISTINCT sender FROM batches WHERE campaign_id = $1) s ORDER BY s.sender`, [id]);
  const errors = await db.query<CampaignTally['errors'][number]>(
    `SELECT error_code AS code, state, count(*)::int AS count FROM messages
     WHERE campaign_id = $1 AND error_code IS NOT NULL AND error_code <> '000' GROUP BY 1, 2 ORDER BY 3 DESC, 1`, [id]);
  const [t] = await db.query<{ spent: string; priced_units: number; priced_amount: string; first: Date | null; last: Date | null }>(
    `SELECT (SELECT coalesce(sum(total_amount), 0)::text FROM messages WHERE campaign_id = $1) AS spent,
            (SELECT coalesce(sum(units) FILTER (WHERE total_rate IS NOT NULL), 0)::int FROM messages WHERE campaign_id = $1) AS priced_units,
            (SELECT coalesce(sum(total_rate * units) FILTER (WHERE total_rate IS NOT NULL), 0)::text FROM messages WHERE campaign_id = $1) AS priced_amount,
            (SELECT min(a.started_at) FROM attempts a JOIN batches b ON b.id = a.batch_id WHERE b.campaign_id = $1) AS first,
            (SELECT max(coalesce(provider_updated_at, final_at)) FROM messages WHERE campaign_id = $1 AND final_at IS NOT NULL) AS last`, [id]);
  const date = (d: Date | string | null) => (d === null ? null : new Date(d));
  return {
    statuses, senders, errors, cost: { spent: t!.spent, pricedUnits: t!.priced_units, pricedAmount: t!.priced_amount },
    firstRequestAt: date(t!.first), lastFinalAt: date(t!.last),
  };
}

/** Amounts compared as numbers: the tally sums per batch, then per sender, so its text may differ in trailing zeros. */
function comparable(t: CampaignTally): unknown {
  return {
    ...t,
    senders: t.senders.map((s) => ({ ...s, amount: Number(s.amount) })),
    cost: { spent: Number(t.cost.spent), pricedUnits: t.cost.pricedUnits, pricedAmount: Number(t.cost.pricedAmount) },
  };
}

describe.each(LEDGER_KINDS)('the live tally of a campaign in a mixed state on the %s ledger', (kind) => {
  let db: Db;
  let c: Seeded;
  ledgerPerDescribe(kind, (opened) => { db = opened; });
  beforeAll(async () => { c = await seed(db); });

  const tallied = async () => (await db.query<{ batch_id: number | null }>(
    'SELECT batch_id FROM batch_tallies WHERE campaign_id = $1 ORDER BY batch_id NULLS FIRST', [c.id])).map((r) => r.batch_id);

  it('equals the brute-force count, read only, live, then with the settled batches tallied', async () => {
    const expected = comparable(await bruteForce(db, c.id));
    // Both ways of counting the open batches' recipients: in one pass over the campaign's, and batch by batch
    expect(comparable(await campaignTally(db, c.id, false, 0))).toEqual(expected);
    expect(comparable(await campaignTally(db, c.id, false, 1))).toEqual(expected);
    expect(await tallied()).toEqual([]);
    expect(comparable(await campaignTally(db, c.id))).toEqual(expected);
    // The rows without a batch (the campaign is not loading), the cancelled batch never attempted and the
    // accepted batch whose messages are all final
    expect(await tallied()).toEqual([null, ...c.settledBatches]);
    expect(comparable(await campaignTally(db, c.id, true, 0))).toEqual(expected);
    expect(comparable(await campaignTally(db, c.id, true, 1))).toEqual(expected);
  });

  it.each([0, 1])('counts a pending batch from its recipients, not from its size (one pass: share %d)', async (share) => {
    const t = await campaignTally(db, c.id, true, share);
    const a = t.senders.find((s) => s.sender === A)!;
    // 2 pending in `fresh` (of 4) + 3 in `plain`; the suppressed ones are suppressed
    expect(a.unsent).toBe(5);
    expect(t.statuses.find((s) => s.status === 'suppressed')).toEqual({ status: 'suppressed', count: 5, units: 6 });
    expect(t.senders.find((s) => s.sender === C)).toMatchObject({ assigned: 2, unsent: 2, requests: 0 });
    expect(t.senders.find((s) => s.sender === D)).toMatchObject({ assigned: 0, unsent: 0, requests: 0 });
  });

  it('follows a recipient suppressed later in a pending batch never attempted', async () => {
    await db.query(`UPDATE recipients SET status = 'suppressed' WHERE batch_id = $1 AND status = 'pending' AND units = 3`, [c.fresh]);
    const expected = comparable(await bruteForce(db, c.id));
    expect(comparable(await campaignTally(db, c.id, true, 0))).toEqual(expected);
    expect(comparable(await campaignTally(db, c.id, true, 1))).toEqual(expected);
    expect((await campaignTally(db, c.id)).senders.find((s) => s.sender === A)!.unsent).toBe(4);
  });
});
