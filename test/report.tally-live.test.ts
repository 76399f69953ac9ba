/**
 * The summary's tally (ledger/tallies.ts: the figures sql/026's triggers keep as the ledger is written) against a
 * brute-force count taken straight from recipients, messages, batches and attempts, on a campaign in a mixed state:
 * pending batches never attempted whose recipients were suppressed one by one, or all of them, or moved away, while
 * the batch stayed pending and kept its size; a pending batch retried after a failure; a cancelled batch never
 * attempted; accepted batches with and without final messages, with errors; rows without a batch. Then statement
 * by statement through a claim, its record, receipts, a late receipt, a claim taken back and a split; the folding
 * of the shards; and a ledger upgraded to sql/026 with campaigns in it.
 */
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, wrapPglite, type Db, type Tx } from '../src/ledger/db.js';
import { migrate, readMigrations } from '../src/ledger/migrate.js';
import { campaignTiming } from '../src/ledger/reports.js';
import { campaignTally, foldTallies, type CampaignTally } from '../src/ledger/tallies.js';
import { createTestLedger, ledgerPerDescribe, LEDGER_KINDS } from './helpers/ledgers.js';

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
       SELECT b.id, b.sender, b.attempts, b.units AS batch_units, b.size FROM batches b WHERE b.campaign_id = $1),
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
            (SELECT coalesce(sum(size), 0) FROM per_batch p WHERE p.sender = s.sender AND p.attempts > 0)::int AS requested,
            (SELECT coalesce(sum(size * batch_units), 0) FROM per_batch p WHERE p.sender = s.sender AND p.attempts > 0)::int AS "requestedUnits",
            (SELECT count(*) FROM per_batch p WHERE p.sender = s.sender AND p.attempts > 0)::int AS requests,
            (SELECT coalesce(max(size), 0) FROM per_batch p WHERE p.sender = s.sender AND p.attempts > 0)::int AS "largestRequest",
            (SELECT coalesce(max(size * batch_units), 0) FROM per_batch p WHERE p.sender = s.sender AND p.attempts > 0)::int AS "largestRequestUnits"
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

describe.each(LEDGER_KINDS)('the tally of a campaign in a mixed state on the %s ledger', (kind) => {
  let db: Db;
  let c: Seeded;
  let url: string | undefined;
  ledgerPerDescribe(kind, (opened, ledger) => { db = opened; url = ledger.databaseUrl; });
  beforeAll(async () => { c = await seed(db); });
  /**
   * The tally against the brute-force count. `grown`: a sender whose largest request is the largest seen, above
   * the largest of its batches attempted now (a claim taken back: sql/026), which is checked apart.
   */
  const same = async (grown?: { sender: string; largestRequest: number; largestRequestUnits: number }) => {
    const expected = await bruteForce(db, c.id);
    if (grown) Object.assign(expected.senders.find((s) => s.sender === grown.sender)!, grown);
    expect(comparable(await campaignTally(db, c.id))).toEqual(comparable(expected));
    const [last] = await db.query<{ at: Date | null }>('SELECT max(accepted_at) AS at FROM batches WHERE campaign_id = $1', [c.id]);
    expect((await campaignTiming(db, c.id)).lastAcceptedAt).toEqual(last!.at);
  };

  it('equals the brute-force count', () => same());

  it('counts a pending batch from its recipients, not from its size', async () => {
    const t = await campaignTally(db, c.id);
    const a = t.senders.find((s) => s.sender === A)!;
    // 2 pending in `fresh` (of 4) + 3 in `plain`; the suppressed ones are suppressed
    expect(a.unsent).toBe(5);
    expect(t.statuses.find((s) => s.status === 'suppressed')).toEqual({ status: 'suppressed', count: 5, units: 6 });
    expect(t.senders.find((s) => s.sender === C)).toMatchObject({ assigned: 2, unsent: 2, requests: 0 });
    expect(t.senders.find((s) => s.sender === D)).toMatchObject({ assigned: 0, unsent: 0, requests: 0 });
  });

  it('follows a recipient suppressed later in a pending batch never attempted', async () => {
    await db.query(`UPDATE recipients SET status = 'suppressed' WHERE batch_id = $1 AND status = 'pending' AND units = 3`, [c.fresh]);
    await same();
    expect((await campaignTally(db, c.id)).senders.find((s) => s.sender === A)!.unsent).toBe(4);
  });

  it('follows a batch through its claim, its record, its receipts and a late receipt, statement by statement', async () => {
    const [plain] = await db.query<{ id: number }>(`SELECT id FROM batches WHERE campaign_id = $1 AND sender = $2 AND size = 3`, [c.id, A]);
    const b = plain!.id;
    // The claim: one statement, as sending.ts's
    await db.query(`WITH claimed AS (UPDATE batches SET status = 'in_flight', attempts = attempts + 1 WHERE id = $1 RETURNING id, attempts),
                     attempt AS (INSERT INTO attempts (batch_id, attempt_no, owner, started_at) SELECT id, attempts, 'x', now() - interval '1 h' FROM claimed)
                     UPDATE recipients SET status = 'sending' WHERE batch_id = $1 AND status = 'pending'`, [b]);
    await same();
    // The answer recorded: messages, uuids, the batch accepted
    await db.transaction(async (tx) => {
      await tx.query(`UPDATE batches SET status = 'accepted', accepted_at = now() WHERE id = $1`, [b]);
      await tx.query(`UPDATE recipients SET status = 'submitted', message_uuid = 'p' || row_no WHERE batch_id = $1`, [b]);
      await tx.query(`INSERT INTO messages (message_uuid, campaign_id, batch_id, to_number) SELECT message_uuid, campaign_id, batch_id, '1' FROM recipients WHERE batch_id = $1`, [b]);
    });
    await same();
    // Receipts: one delivered and priced, one undelivered with an error, one `sent` by smsrun's cut-off
    const uuids = (await db.query<{ u: string }>(`SELECT message_uuid AS u FROM recipients WHERE batch_id = $1 ORDER BY row_no`, [b])).map((r) => r.u);
    await db.query(`UPDATE messages SET state = CASE message_uuid WHEN $1 THEN 'delivered' WHEN $2 THEN 'undelivered' ELSE 'sent' END,
                      error_code = CASE message_uuid WHEN $1 THEN '000' WHEN $2 THEN '30' END, units = 2, total_rate = 0.0065,
                      total_amount = 0.013, final_at = now(), provider_updated_at = now() + interval '1 h' WHERE batch_id = $3`, [uuids[0], uuids[1], b]);
    await db.query(`UPDATE recipients r SET status = m.state FROM messages m WHERE m.message_uuid = r.message_uuid AND r.batch_id = $1`, [b]);
    await same();
    // A late receipt overrules the cut-off, with an error code
    await db.query(`UPDATE messages SET state = 'undelivered', error_code = '40' WHERE message_uuid = $1`, [uuids[2]]);
    await db.query(`UPDATE recipients SET status = 'undelivered' WHERE message_uuid = $1`, [uuids[2]]);
    await same();
    const t = await campaignTally(db, c.id);
    expect(t.errors).toEqual(expect.arrayContaining([{ code: '30', state: 'undelivered', count: 2 }, { code: '40', state: 'undelivered', count: 1 }]));
    expect(t.senders.find((s) => s.sender === A)).toMatchObject({ requests: 1, requested: 3, largestRequest: 3 });
  });

  it('takes back a claim whose attempt is taken back, and counts a split’s new batch when it is sent', async () => {
    const [fresh] = await db.query<{ id: number }>(`SELECT id FROM batches WHERE id = $1`, [c.fresh]);
    const b = fresh!.id;
    await db.query(`WITH claimed AS (UPDATE batches SET status = 'in_flight', attempts = attempts + 1 WHERE id = $1 RETURNING id, attempts)
                    INSERT INTO attempts (batch_id, attempt_no, owner) SELECT id, attempts, 'x' FROM claimed`, [b]);
    await same();
    // closeEmptyClaims (sending.ts), but the attempt stays: a first request taken back would leave its start
    await db.query(`UPDATE batches SET status = 'suppressed', attempts = attempts - 1 WHERE id = $1`, [b]);
    await db.query(`UPDATE attempts SET status = 'failed_permanent' WHERE batch_id = $1`, [b]);
    await same({ sender: A, largestRequest: 4, largestRequestUnits: 8 });
    // A reconciliation's split (reconcile.ts): the absent recipients of an accepted batch go out in a batch of their own
    const [open] = await db.query<{ id: number }>(`SELECT batch_id AS id FROM recipients WHERE message_uuid = 'o1'`);
    await db.query(`UPDATE recipients SET status = 'sending' WHERE message_uuid = 'o4'`);
    await db.query(`WITH absent AS (SELECT row_no FROM recipients WHERE batch_id = $1 AND status = 'sending'),
                     nb AS (INSERT INTO batches (campaign_id, sender, text, units, size)
                            SELECT campaign_id, sender, text, units, (SELECT count(*) FROM absent) FROM batches WHERE id = $1 RETURNING id)
                     UPDATE recipients SET status = 'pending', batch_id = (SELECT id FROM nb) WHERE batch_id = $1 AND status = 'sending'`, [open!.id]);
    const before = (await campaignTally(db, c.id)).senders.find((s) => s.sender === B)!;
    // The request that carried it still counts it (size), and the new batch's claim counts it again
    await db.query(`UPDATE batches SET attempts = 1, status = 'in_flight' WHERE campaign_id = $1 AND sender = $2 AND attempts = 0 AND status = 'pending'`, [c.id, B]);
    const after = (await campaignTally(db, c.id)).senders.find((s) => s.sender === B)!;
    expect(after.requests - before.requests).toBe(1);
    expect(after.requested - before.requested).toBe(1);
    await same({ sender: A, largestRequest: 4, largestRequestUnits: 8 });
  });

  it('folds the tally rows into one per key with the same figures, skipping the rows of a write still open', async () => {
    const grown = { sender: A, largestRequest: 4, largestRequestUnits: 8 };
    const shards = async () => (await db.query<{ rows: number; keys: number; others: number }>(
      `SELECT count(*)::int AS rows, count(DISTINCT (sender, status))::int AS keys, count(*) FILTER (WHERE shard <> 0)::int AS others
       FROM status_tallies WHERE campaign_id = $1`, [c.id]))[0]!;
    expect((await shards()).others).toBeGreaterThan(0);
    // On Postgres, a write left open on another connection holds its tally rows: the fold goes past them at once.
    // That connection's first write (committed) makes its rows; its second, left open, holds them.
    const open = kind === 'postgres' ? new pg.Client({ connectionString: url }) : undefined;
    open?.on('error', () => undefined);
    try {
      if (open) {
        await open.connect();
        await open.query(`UPDATE recipients SET status = 'delivered' WHERE campaign_id = $1 AND message_uuid = 'o1'`, [c.id]);
        await open.query('BEGIN');
        await open.query(`UPDATE recipients SET status = 'submitted' WHERE campaign_id = $1 AND message_uuid = 'o1'`, [c.id]);
      }
      await db.transaction(async (tx) => {
        await tx.query(`SET LOCAL lock_timeout = '10s'`); // a wait would fail the test rather than hang it
        await foldTallies(tx, c.id);
      });
      if (open) {
        expect((await shards()).others).toBe(2); // the open write's rows (submitted, delivered), left for the next fold
        await open.query('COMMIT');
      }
    } finally {
      await open?.end();
    }
    await same(grown);
    await foldTallies(db, c.id);
    const folded = await shards();
    expect(folded).toEqual({ rows: folded.keys, keys: folded.keys, others: 0 });
    await same(grown);
  });
});

describe.each(LEDGER_KINDS)('a %s ledger upgraded to the kept tallies (sql/026)', (kind) => {
  it('counts the campaigns it holds as the triggers would have', async () => {
    const ledger = await createTestLedger(kind);
    const bare = kind === 'postgres' ? openPostgres(ledger.databaseUrl!) : wrapPglite(await PGlite.create(path.join(ledger.home, 'bare')));
    try {
      const all = await readMigrations();
      await migrate(bare, all.filter((m) => m.version < 26));
      const c = await seed(bare);
      await migrate(bare, all);
      expect(comparable(await campaignTally(bare, c.id))).toEqual(comparable(await bruteForce(bare, c.id)));
      expect((await bare.query<{ n: number }>(`SELECT count(*)::int AS n FROM status_tallies WHERE shard <> 0`))).toEqual([{ n: 0 }]);
    } finally {
      await bare.close();
      await ledger.dispose();
    }
  });
});

/**
 * PL/pgSQL plans a trigger's statement once per backend, with the transition tables' row counts of its first call.
 * sql/026 joined an UPDATE's old rows to its new ones: after a first update of one row, the backend's later updates
 * joined them by a nested loop, quadratic in the rows (a resume's first claim of 2 000 recipients spent 0.8 s in it;
 * a cancel of a million would not have ended). sql/027 counts without that join. The plans are read with
 * auto_explain (Postgres only), and judged by their shape, not their time: no scan of a transition table may run
 * once per row of another.
 */
describe.runIf(LEDGER_KINDS.includes('postgres'))('the tally triggers on a Postgres ledger', () => {
  it('read each transition table once, whatever an earlier statement in the backend planned', async () => {
    const ledger = await createTestLedger('postgres');
    const db = openPostgres(ledger.databaseUrl!);
    const client = new pg.Client({ connectionString: ledger.databaseUrl! });
    try {
      await migrate(db, await readMigrations());
      const [c] = await db.query<{ id: number }>(
        `INSERT INTO campaigns (name, job, job_file, csv_file, csv_sha256, content_hash, senders, state, total_rows)
         VALUES ('wide', '{"name": "wide", "rate": 1}', 'job.json', 'r.csv', '-', '-', $1, 'sending', 2000) RETURNING id`, [[A]]);
      const id = c!.id;
      await db.query(`INSERT INTO batches (campaign_id, sender, units, size, status) SELECT $1, $2, 1, 100, 'pending' FROM generate_series(1, 20)`, [id, A]);
      await db.query(
        `INSERT INTO recipients (campaign_id, row_no, line_no, batch_id, status, units, sender, message_uuid)
         SELECT $1, i, i + 1, b.id, 'pending', 1, $2, 'm' || i FROM generate_series(1, 2000) i
         JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k FROM batches WHERE campaign_id = $1) b ON b.k = (i - 1) / 100 + 1`, [id, A]);
      await db.query(`INSERT INTO messages (message_uuid, campaign_id, batch_id, state) SELECT message_uuid, $1, batch_id, 'queued' FROM recipients WHERE campaign_id = $1`, [id]);

      await client.connect();
      const plans: string[] = [];
      client.on('notice', (n) => { if (n.message?.includes('Query Text')) plans.push(n.message); });
      for (const set of ['auto_explain.log_min_duration = 0', 'auto_explain.log_analyze = on', 'auto_explain.log_nested_statements = on', 'client_min_messages = log']) {
        await client.query(`SET ${set}`);
      }
      await client.query(`LOAD 'auto_explain'`);
      // A first statement of one row each plans the triggers' statements for one row; then 2 000 rows, 20 batches
      const statements = [
        `UPDATE recipients SET status = 'sending' WHERE campaign_id = $1 AND row_no = 1`,
        `UPDATE recipients SET status = 'submitted' WHERE campaign_id = $1`,
        `UPDATE messages SET state = 'sent' WHERE message_uuid = 'm1'`,
        `UPDATE messages SET state = 'delivered', final_at = now() WHERE campaign_id = $1`,
        `UPDATE batches SET attempts = 1 WHERE id = (SELECT min(id) FROM batches WHERE campaign_id = $1)`,
        `UPDATE batches SET attempts = attempts + 1, status = 'accepted', accepted_at = now() WHERE campaign_id = $1`,
      ];
      for (const sql of statements) await client.query(sql, sql.includes('$1') ? [id] : []);

      const scans = plans.flatMap((p) => [...p.matchAll(/Named Tuplestore Scan.*loops=(\d+)\)/g)].map((m) => Number(m[1])));
      expect(scans.length).toBeGreaterThanOrEqual(6); // every UPDATE trigger's statement was seen, old and new rows
      expect(Math.max(...scans)).toBe(1);
      expect(comparable(await campaignTally(db, id))).toEqual(comparable(await bruteForce(db, id)));
    } finally {
      await client.end().catch(() => undefined);
      await db.close();
      await ledger.dispose();
    }
  });
});
