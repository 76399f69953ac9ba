/**
 * The summary's figures: the fastest sending the rates allow (a sender's first request leaves at once, so n
 * requests span the cost of n - 1 of them), and the tallies of settled batches (sql/019): a batch is tallied
 * once nothing can change its figures, never before, and the summary is the same whether its figures come
 * from a tally or from the live rows. The tallies rolled up per campaign and sender (sql/022) hold their sums
 * exactly: whoever inserts tallies, concurrently or in a transaction that never commits, and after an upgrade.
 */
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, wrapPglite, type Db } from '../src/ledger/db.js';
import { findCampaign } from '../src/ledger/campaigns.js';
import { migrate, readMigrations, splitStatements } from '../src/ledger/migrate.js';
import { openLedger } from '../src/ledger/open.js';
import { campaignTally, type SenderStats } from '../src/ledger/reports.js';
import { fastestSending, summarize, type Summary } from '../src/report/summary.js';
import { createTestLedger, ledgerPerDescribe, LEDGER_KINDS, type TestLedger } from './helpers/ledgers.js';

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

const SENDERS = ['14155550101', '14155550102', '14155550103'];

/**
 * A campaign of `batches` settled batches of 4 recipients over three senders (each batch: 3 delivered, 1
 * undelivered with error 80 or 30), sent once, none tallied; and 5 invalid rows without a batch.
 */
async function seedSettled(db: Db, name: string, batches: number): Promise<number> {
  return db.transaction(async (tx) => {
    const [c] = await tx.query<{ id: number }>(
      `INSERT INTO campaigns (name, job, job_file, csv_file, csv_sha256, content_hash, senders, state, total_rows)
       VALUES ($1, '{"name": "x", "rate": 1}', 'job.json', 'r.csv', '-', '-', $2, 'done', $3) RETURNING id`, [name, SENDERS, batches * 4 + 5]);
    const id = c!.id;
    await tx.query(
      `INSERT INTO batches (campaign_id, sender, units, size, status, attempts, accepted_at)
       SELECT $1, ($2::text[])[g % 3 + 1], 1, 4, 'accepted', 1 + g % 2, now() - g * interval '1 s' FROM generate_series(0, $3 - 1) g ORDER BY g`,
      [id, SENDERS, batches]);
    await tx.query(`INSERT INTO attempts (batch_id, attempt_no, owner, status, started_at)
                    SELECT id, 1, 'x', 'accepted', accepted_at - interval '1 s' FROM batches WHERE campaign_id = $1`, [id]);
    await tx.query(
      `INSERT INTO recipients (campaign_id, row_no, line_no, batch_id, status, message_uuid, units, sender)
       SELECT $1, (row_number() OVER (ORDER BY b.id, k))::int, (row_number() OVER (ORDER BY b.id, k))::int + 1, b.id,
              CASE WHEN k = 4 THEN 'undelivered' ELSE 'delivered' END, b.campaign_id || '-' || b.id || '-' || k, 1 + k % 2, b.sender
       FROM batches b, generate_series(1, 4) k WHERE b.campaign_id = $1`, [id]);
    await tx.query(
      `INSERT INTO recipients (campaign_id, row_no, line_no, status, units, reason)
       SELECT $1, $2 + g, $2 + g + 1, 'invalid', 1, 'made up' FROM generate_series(1, 5) g`, [id, batches * 4]);
    await tx.query(
      `INSERT INTO messages (message_uuid, campaign_id, batch_id, state, error_code, units, total_rate, total_amount, final_at)
       SELECT r.message_uuid, $1, r.batch_id, r.status, CASE WHEN r.status = 'delivered' THEN '000' WHEN r.batch_id % 2 = 0 THEN '80' ELSE '30' END,
              r.units, 0.0075, 0.0075 * r.units, now()
       FROM recipients r WHERE r.campaign_id = $1 AND r.message_uuid IS NOT NULL`, [id]);
    return id;
  });
}

/** The rollup's sums, and the same sums taken from batch_tallies, per sender. */
async function rollupAgainstTallies(db: Db, id: number): Promise<{ rollup: unknown[]; tallies: unknown[] }> {
  const rollup = await db.query(
    `SELECT sender, batches + unbatched AS tallies, recipients, accepted, msg_units, amount::text, requested, requests, largest_request,
            priced_units, priced_amount::text, first_request_at, last_final_at, statuses, counts, units, err_codes, err_states, err_counts
     FROM campaign_tallies WHERE campaign_id = $1 ORDER BY sender NULLS FIRST`, [id]);
  const tallies = await db.query(
    `SELECT t.sender, count(*)::int AS tallies, sum(recipients)::int AS recipients, sum(accepted)::int AS accepted, sum(msg_units)::int AS msg_units,
            sum(amount)::text AS amount, coalesce(sum(recipients) FILTER (WHERE attempts > 0), 0)::int AS requested,
            count(batch_id) FILTER (WHERE attempts > 0)::int AS requests, coalesce(max(recipients) FILTER (WHERE attempts > 0), 0) AS largest_request,
            sum(priced_units)::int AS priced_units, sum(priced_amount)::text AS priced_amount, min(first_request_at) AS first_request_at,
            max(last_final_at) AS last_final_at,
            (SELECT array_agg(s ORDER BY s) FROM (SELECT DISTINCT unnest(statuses) s FROM batch_tallies WHERE campaign_id = $1 AND sender IS NOT DISTINCT FROM t.sender) x) AS statuses,
            (SELECT array_agg(n ORDER BY s) FROM (SELECT x.s, sum(x.n)::int n FROM batch_tallies, unnest(statuses, counts) x(s, n)
                                                 WHERE campaign_id = $1 AND sender IS NOT DISTINCT FROM t.sender GROUP BY 1) y) AS counts,
            (SELECT array_agg(u ORDER BY s) FROM (SELECT x.s, sum(x.u)::int u FROM batch_tallies, unnest(statuses, units) x(s, u)
                                                 WHERE campaign_id = $1 AND sender IS NOT DISTINCT FROM t.sender GROUP BY 1) y) AS units,
            (SELECT coalesce(array_agg(c ORDER BY c, st), '{}') FROM (SELECT x.c, x.st FROM batch_tallies, unnest(err_codes, err_states) x(c, st)
                                                 WHERE campaign_id = $1 AND sender IS NOT DISTINCT FROM t.sender GROUP BY 1, 2) y) AS err_codes,
            (SELECT coalesce(array_agg(st ORDER BY c, st), '{}') FROM (SELECT x.c, x.st FROM batch_tallies, unnest(err_codes, err_states) x(c, st)
                                                 WHERE campaign_id = $1 AND sender IS NOT DISTINCT FROM t.sender GROUP BY 1, 2) y) AS err_states,
            (SELECT coalesce(array_agg(n ORDER BY c, st), '{}') FROM (SELECT x.c, x.st, sum(x.n)::int n FROM batch_tallies, unnest(err_codes, err_states, err_counts) x(c, st, n)
                                                 WHERE campaign_id = $1 AND sender IS NOT DISTINCT FROM t.sender GROUP BY 1, 2) y) AS err_counts
     FROM batch_tallies t WHERE t.campaign_id = $1 GROUP BY t.sender ORDER BY t.sender NULLS FIRST`, [id]);
  return { rollup, tallies };
}

describe.each(LEDGER_KINDS)('the tallies rolled up per campaign (sql/022) on the %s ledger', (kind) => {
  let db: Db;
  let ledger: TestLedger;
  ledgerPerDescribe(kind, (opened, l) => { db = opened; ledger = l; });

  const counts = async (id: number) => (await db.query<{ tallies: number; rolled: number; batches: number }>(
    `SELECT (SELECT count(*)::int FROM batch_tallies WHERE campaign_id = $1) AS tallies,
            (SELECT coalesce(sum(batches + unbatched), 0)::int FROM campaign_tallies WHERE campaign_id = $1) AS rolled,
            (SELECT count(*)::int FROM batches WHERE campaign_id = $1) AS batches`, [id]))[0]!;

  it('holds the sums of the batch tallies, and the summary read from it equals the live count', async () => {
    const id = await seedSettled(db, 'rollup', 30);
    const campaign = (await findCampaign(db, 'rollup'))!;
    const live = await summarize(db, campaign);
    expect(await counts(id)).toEqual({ tallies: 31, rolled: 31, batches: 30 });
    const { rollup, tallies } = await rollupAgainstTallies(db, id);
    expect(rollup).toEqual(tallies);
    expect(await summarize(db, campaign)).toEqual(live);
    expect(live.counts).toEqual({ delivered: 90, undelivered: 30, invalid: 5 });
    expect(live.errors.map((e) => [e.code, e.count])).toEqual([['30', 15], ['80', 15]]);
  });

  it('stays exact when several connections tally the same batches at once', async () => {
    const id = await seedSettled(db, 'rollup-race', 60);
    const campaign = (await findCampaign(db, 'rollup-race'))!;
    // The figures counted live, in a transaction rolled back: nothing tallied
    let expected: Summary | undefined;
    const rollback = new Error('rolled back');
    await expect(db.transaction(async (tx) => {
      expected = await summarize(tx, campaign);
      throw rollback;
    })).rejects.toBe(rollback);
    expect(await counts(id)).toEqual({ tallies: 0, rolled: 0, batches: 60 });
    const others = kind === 'postgres' ? await Promise.all([1, 2, 3, 4].map(() => openLedger({ databaseUrl: ledger.databaseUrl, home: ledger.home }))) : [];
    try {
      const summaries = await Promise.all([db, ...others, db].map((d) => summarize(d, campaign)));
      for (const s of summaries) expect(s).toEqual(expected);
    } finally {
      await Promise.all(others.map((d) => d.close()));
    }
    expect(await counts(id)).toEqual({ tallies: 61, rolled: 61, batches: 60 });
    const { rollup, tallies } = await rollupAgainstTallies(db, id);
    expect(rollup).toEqual(tallies);
    expect(await summarize(db, campaign)).toEqual(expected);
  });

  it('keeps nothing of a tally whose transaction never commits', async () => {
    const id = await seedSettled(db, 'rollup-crash', 12);
    const campaign = (await findCampaign(db, 'rollup-crash'))!;
    if (kind === 'postgres') {
      // The process dies after its statement, before COMMIT: its backend is terminated
      const client = new pg.Client({ connectionString: ledger.databaseUrl });
      await client.connect();
      client.on('error', () => undefined);
      const [{ pid } = { pid: 0 }] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
      await client.query('BEGIN');
      await campaignTally({ query: async (sql, params) => (await client.query(sql, params as unknown[])).rows }, id);
      await db.query('SELECT pg_terminate_backend($1)', [pid]);
      await client.end().catch(() => undefined);
    } else {
      await expect(db.transaction(async (tx) => {
        await campaignTally(tx, id);
        throw new Error('crash before COMMIT');
      })).rejects.toThrow('crash before COMMIT');
    }
    expect(await counts(id)).toEqual({ tallies: 0, rolled: 0, batches: 12 });
    const s = await summarize(db, campaign);
    expect(await counts(id)).toEqual({ tallies: 13, rolled: 13, batches: 12 });
    expect(s.counts).toEqual({ delivered: 36, undelivered: 12, invalid: 5 });
    const { rollup, tallies } = await rollupAgainstTallies(db, id);
    expect(rollup).toEqual(tallies);
  });
});

describe.each(LEDGER_KINDS)('upgrading a %s ledger with tallies to sql/022', (kind) => {
  it('rolls up the tallies kept before, and the summary is unchanged', async () => {
    const ledger = await createTestLedger(kind);
    const bare = kind === 'postgres' ? openPostgres(ledger.databaseUrl!) : wrapPglite(await PGlite.create(path.join(ledger.home, 'bare')));
    try {
      const all = await readMigrations();
      await migrate(bare, all.filter((m) => m.version <= 21));
      const id = await seedSettled(bare, 'before-022', 20);
      // What sql/019 does for existing campaigns: tally every settled batch, and the rows without a batch
      const sql019 = all.find((m) => m.version === 19)!.sql;
      for (const statement of splitStatements(sql019).filter((s) => s.startsWith('INSERT INTO batch_tallies'))) await bare.query(statement);
      expect((await bare.query<{ n: number }>('SELECT count(*)::int AS n FROM batch_tallies WHERE campaign_id = $1', [id]))[0]!.n).toBe(21);
      await migrate(bare, all);
      const { rollup, tallies } = await rollupAgainstTallies(bare, id);
      expect(rollup).toEqual(tallies);
      const s = await summarize(bare, (await findCampaign(bare, 'before-022'))!);
      expect(s.counts).toEqual({ delivered: 60, undelivered: 20, invalid: 5 });
      expect(s.cost.spent).toBe(0.9);
    } finally {
      await bare.close();
      await ledger.dispose();
    }
  });
});
