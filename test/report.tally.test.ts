/**
 * The summary's figures: the fastest sending the rates allow (a sender's first request leaves at once, so n
 * requests span the cost of n - 1 of them), and the tallies of settled batches (sql/019): a batch is tallied
 * once nothing can change its figures, never before, and the summary is the same whether its figures come
 * from a tally or from the live rows.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/ledger/db.js';
import { findCampaign } from '../src/ledger/campaigns.js';
import type { SenderStats } from '../src/ledger/reports.js';
import { fastestSending, summarize } from '../src/report/summary.js';
import { ledgerPerDescribe, LEDGER_KINDS } from './helpers/ledgers.js';

function sender(requests: number, perRequest: number, units = 1): SenderStats {
  const requested = requests * perRequest;
  return {
    sender: `s${requests}`, assigned: requested, accepted: requested, delivered: requested, undelivered: 0, failed: 0, rejected: 0, sent: 0,
    open: 0, unsent: 0, units: requested * units, amount: '0', requested, requestedUnits: requested * units, requests,
    largestRequest: perRequest, largestRequestUnits: perRequest * units,
  };
}

describe('the fastest sending the rates allow', () => {
  it('is 10 s for 11 one-message requests of one sender at 1 msg/s: the first leaves at once', () => {
    expect(fastestSending({ job: { rate: 1, rate_counts: 'messages' } }, [sender(11, 1)])).toBe(10);
  });

  it('counts units with rate_counts units, less the largest request', () => {
    // 5 requests of 4 messages of 2 units at 4 units/s: the last leaves (20 - 4) × 2 / 4 = 8 s after the first
    expect(fastestSending({ job: { rate: 4 } }, [sender(5, 4, 2)])).toBe(8);
  });

  it('is the slowest sender, or the account rate over all of them', () => {
    expect(fastestSending({ job: { rate: 1, rate_counts: 'messages' } }, [sender(3, 1), sender(6, 1)])).toBe(5);
    // 10 + 20 messages at account_rate 2/s, the largest request 1: 29 / 2
    expect(fastestSending({ job: { rate: 100, rate_counts: 'messages', account_rate: 2 } }, [sender(10, 1), sender(20, 1)])).toBe(14.5);
  });

  it('is nothing before any request', () => {
    expect(fastestSending({ job: { rate: 1 } }, [])).toBeNull();
  });
});

const SENDER = '14155550100';

/** A campaign of 3 batches: one settled, one with an open message, one whose message is final by smsrun's cut-off. */
async function seed(db: Db): Promise<{ id: number; open: number; cutOff: number; settled: number }> {
  return db.transaction(async (tx) => {
    const [c] = await tx.query<{ id: number }>(
      `INSERT INTO campaigns (name, job, job_file, csv_file, csv_sha256, content_hash, senders, state, total_rows)
       VALUES ('tally', '{"name": "tally", "rate": 1}', 'job.json', 'r.csv', '-', '-', $1, 'tracking', 7) RETURNING id`, [[SENDER]]);
    const id = c!.id;
    const batch = async () => (await tx.query<{ id: number }>(
      `INSERT INTO batches (campaign_id, sender, units, size, status, attempts, accepted_at) VALUES ($1, $2, 1, 2, 'accepted', 1, now()) RETURNING id`,
      [id, SENDER]))[0]!.id;
    const [settled, open, cutOff] = [await batch(), await batch(), await batch()];
    await tx.query(`INSERT INTO attempts (batch_id, attempt_no, owner, status, started_at) SELECT b, 1, 'x', 'accepted', now() - interval '1 min' FROM unnest($1::int[]) b`,
      [[settled, open, cutOff]]);
    const rows: [number, number | null, string, string | null][] = [
      [1, settled, 'delivered', 'u1'], [2, settled, 'undelivered', 'u2'], [3, open, 'delivered', 'u3'], [4, open, 'submitted', 'u4'],
      [5, cutOff, 'sent', 'u5'], [6, null, 'invalid', null], [7, null, 'duplicate', null],
    ];
    for (const [row, b, status, uuid] of rows) {
      await tx.query(`INSERT INTO recipients (campaign_id, row_no, line_no, batch_id, status, message_uuid, units, sender) VALUES ($1, $2, $2 + 1, $3, $4, $5, 1, $6)`,
        [id, row, b, status, uuid, b === null ? null : SENDER]);
    }
    const messages: [string, number, string, string | null, boolean][] = [
      ['u1', settled, 'delivered', '000', true], ['u2', settled, 'undelivered', '80', true], ['u3', open, 'delivered', '000', true],
      ['u4', open, 'queued', null, false], ['u5', cutOff, 'sent', null, true],
    ];
    for (const [uuid, b, state, code, final] of messages) {
      await tx.query(`INSERT INTO messages (message_uuid, campaign_id, batch_id, state, error_code, units, total_rate, total_amount, final_at)
                      VALUES ($1, $2, $3, $4, $5, 1, 0.005, 0.005, CASE WHEN $6 THEN now() END)`, [uuid, id, b, state, code, final]);
    }
    return { id, open, cutOff, settled };
  });
}

describe.each(LEDGER_KINDS)('tallies of settled batches on the %s ledger', (kind) => {
  let db: Db;
  let c: Awaited<ReturnType<typeof seed>>;
  ledgerPerDescribe(kind, (opened) => { db = opened; });
  beforeAll(async () => { c = await seed(db); });

  const tallied = async () => (await db.query<{ batch_id: number | null }>(
    'SELECT batch_id FROM batch_tallies WHERE campaign_id = $1 ORDER BY batch_id NULLS FIRST', [c.id])).map((r) => r.batch_id);

  it('tallies only what can no longer change: the settled batch and the rows without a batch', async () => {
    const campaign = (await findCampaign(db, 'tally'))!;
    const live = await summarize(db, campaign);
    expect(await tallied()).toEqual([null, c.settled]);
    const fromTallies = await summarize(db, campaign);
    expect(fromTallies).toEqual(live);
    expect(live.counts).toEqual({ delivered: 2, undelivered: 1, submitted: 1, sent: 1, invalid: 1, duplicate: 1 });
    expect(live.delivery).toEqual({ accepted: 5, delivered: 2, open: 1, rate: 2 / 5 });
    expect(live.errors.map((e) => [e.code, e.count])).toEqual([['80', 1]]);
    expect(live.cost.spent).toBe(0.025);
  });

  it('follows a late receipt of a batch it had not tallied, then tallies it', async () => {
    await db.query(`UPDATE messages SET state = 'delivered', error_code = '000' WHERE message_uuid = 'u5'`);
    await db.query(`UPDATE recipients SET status = 'delivered' WHERE message_uuid = 'u5'`);
    await db.query(`UPDATE messages SET state = 'undelivered', error_code = '30', final_at = now() WHERE message_uuid = 'u4'`);
    await db.query(`UPDATE recipients SET status = 'undelivered' WHERE message_uuid = 'u4'`);
    const campaign = (await findCampaign(db, 'tally'))!;
    const s = await summarize(db, campaign);
    expect(s.counts).toEqual({ delivered: 3, undelivered: 2, invalid: 1, duplicate: 1 });
    expect(s.errors.map((e) => [e.code, e.count]).sort()).toEqual([['30', 1], ['80', 1]]);
    expect(await tallied()).toEqual([null, c.settled, c.open, c.cutOff]);
    expect(await summarize(db, campaign)).toEqual(s);
  });
});
