/**
 * The summary's figures: the fastest sending the rates allow (a sender's first request leaves at once, so n
 * requests span the cost of n - 1 of them), and the tallies the ledger keeps as it is written (sql/026), on both
 * ledgers: the summary of a campaign equals a brute-force count of its recipients, messages, batches and attempts,
 * before and after more writes; a write whose transaction never commits leaves the tallies as they were (counted
 * in its own transaction, nowhere after); a campaign deleted takes its tally rows with it. On Postgres, several
 * connections writing the same campaign and sender at once, each in its own open transaction, never wait on each
 * other's tally rows (each adds to a shard of its own), and the tallies are exact once they have all committed.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { Db, Queryable } from '../src/ledger/db.js';
import { findCampaign, type CampaignRow } from '../src/ledger/campaigns.js';
import type { SenderStats } from '../src/ledger/reports.js';
import { campaignTally } from '../src/ledger/tallies.js';
import { fastestSending, summarize, type Summary } from '../src/report/summary.js';
import { ledgerPerDescribe, LEDGER_KINDS, type TestLedger } from './helpers/ledgers.js';

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

const SENDERS = ['14155550101', '14155550102', '14155550103'];

/**
 * A campaign of `batches` batches of 4 recipients dealt round robin to SENDERS (1 or 2 units a message), batch g
 * (its `text`) by g % 4: 0, accepted and settled, 3 delivered and 1 undelivered with error 30 (sent twice when
 * g % 8 = 0); 1, accepted, its messages still queued (one without units or price: its batch's units count);
 * 2, pending, never attempted; 3, pending, retried after a failure, one recipient suppressed. And 5 invalid rows
 * without a batch. A few statements of many rows each, as a load and a run write them.
 */
async function seed(db: Db, name: string, batches: number): Promise<CampaignRow> {
  await db.transaction(async (tx) => {
    const [c] = await tx.query<{ id: number }>(
      `INSERT INTO campaigns (name, job, job_file, csv_file, csv_sha256, content_hash, senders, state, total_rows)
       VALUES ($1, '{"name": "x", "rate": 2}', 'job.json', 'r.csv', '-', '-', $2, 'sending', $3) RETURNING id`, [name, SENDERS, batches * 4 + 5]);
    const id = c!.id;
    await tx.query(
      `INSERT INTO batches (campaign_id, sender, text, units, size, status, attempts, accepted_at)
       SELECT $1, ($2::text[])[g % 3 + 1], g::text, 1 + g % 2, 4, CASE WHEN g % 4 < 2 THEN 'accepted' ELSE 'pending' END,
              CASE g % 4 WHEN 0 THEN 1 + (g % 8 = 0)::int WHEN 2 THEN 0 ELSE 1 END, CASE WHEN g % 4 < 2 THEN now() - g * interval '1 s' END
       FROM generate_series(0, $3 - 1) g ORDER BY g`, [id, SENDERS, batches]);
    await tx.query(
      `INSERT INTO attempts (batch_id, attempt_no, owner, status, started_at)
       SELECT b.id, k, 'x', CASE WHEN k < b.attempts OR b.status = 'pending' THEN 'failed_retryable' ELSE 'accepted' END,
              now() - (100 + b.text::int * 2 - k) * interval '1 s'
       FROM batches b, generate_series(1, b.attempts) k WHERE b.campaign_id = $1`, [id]);
    await tx.query(
      `INSERT INTO recipients (campaign_id, row_no, line_no, batch_id, sender, status, message_uuid, units)
       SELECT $1, b.text::int * 4 + k, b.text::int * 4 + k + 1, b.id, b.sender,
              CASE b.text::int % 4 WHEN 0 THEN CASE WHEN k = 4 THEN 'undelivered' ELSE 'delivered' END WHEN 1 THEN 'submitted'
                                   WHEN 2 THEN 'pending' ELSE CASE WHEN k = 4 THEN 'suppressed' ELSE 'pending' END END,
              CASE WHEN b.status = 'accepted' THEN $2 || '-' || b.id || '-' || k END, b.units
       FROM batches b, generate_series(1, 4) k WHERE b.campaign_id = $1`, [id, name]);
    await tx.query(
      `INSERT INTO recipients (campaign_id, row_no, line_no, status, units, reason)
       SELECT $1, $2 + g, $2 + g + 1, 'invalid', 1, 'made up' FROM generate_series(1, 5) g`, [id, batches * 4]);
    await tx.query(
      `INSERT INTO messages (message_uuid, campaign_id, batch_id, to_number, state, error_code, units, total_rate, total_amount, final_at, provider_updated_at)
       SELECT r.message_uuid, $1, r.batch_id, '1', CASE WHEN r.status = 'submitted' THEN 'queued' ELSE r.status END,
              CASE r.status WHEN 'delivered' THEN '000' WHEN 'undelivered' THEN '30' END,
              CASE WHEN r.status <> 'submitted' OR r.row_no % 4 <> 1 THEN r.units END,
              CASE WHEN r.status <> 'submitted' OR r.row_no % 4 <> 1 THEN 0.0075 END,
              CASE WHEN r.status <> 'submitted' OR r.row_no % 4 <> 1 THEN 0.0075 * r.units END,
              CASE WHEN r.status <> 'submitted' THEN now() - r.row_no * interval '1 s' END,
              CASE WHEN r.status <> 'submitted' THEN now() - r.row_no * interval '1 s' - interval '1 s' END
       FROM recipients r WHERE r.campaign_id = $1 AND r.message_uuid IS NOT NULL`, [id]);
  });
  return (await findCampaign(db, name))!;
}

/**
 * A pending batch sent, statement by statement as sending.ts writes them: claimed (its attempts and a new
 * attempt), its recipients `sending`, then accepted with its recipients `submitted` and their messages queued.
 */
async function send(q: Queryable, batchId: number): Promise<void> {
  await q.query(`WITH claimed AS (UPDATE batches SET status = 'in_flight', attempts = attempts + 1 WHERE id = $1 RETURNING id, attempts)
                 INSERT INTO attempts (batch_id, attempt_no, owner) SELECT id, attempts, 'x' FROM claimed`, [batchId]);
  await q.query(`UPDATE recipients SET status = 'sending' WHERE batch_id = $1 AND status = 'pending'`, [batchId]);
  await q.query(`UPDATE batches SET status = 'accepted', accepted_at = now() WHERE id = $1`, [batchId]);
  await q.query(`UPDATE recipients SET status = 'submitted', message_uuid = 'sent-' || batch_id || '-' || row_no WHERE batch_id = $1 AND status = 'sending'`, [batchId]);
  await q.query(`INSERT INTO messages (message_uuid, campaign_id, batch_id, to_number)
                 SELECT message_uuid, campaign_id, batch_id, '1' FROM recipients WHERE batch_id = $1 AND status = 'submitted'`, [batchId]);
}

/** The receipts of an accepted batch's open messages: priced, final, every other one undelivered with error 30; its recipients follow. */
async function receipts(q: Queryable, batchId: number): Promise<void> {
  await q.query(`UPDATE messages m SET state = CASE WHEN r.row_no % 2 = 0 THEN 'undelivered' ELSE 'delivered' END,
                   error_code = CASE WHEN r.row_no % 2 = 0 THEN '30' ELSE '000' END, units = 2, total_rate = 0.0065, total_amount = 0.013,
                   final_at = now(), provider_updated_at = now() + interval '1 h'
                 FROM recipients r WHERE r.message_uuid = m.message_uuid AND m.batch_id = $1 AND m.final_at IS NULL`, [batchId]);
  await q.query(`UPDATE recipients r SET status = m.state FROM messages m
                 WHERE m.message_uuid = r.message_uuid AND r.batch_id = $1 AND r.status = 'submitted' AND m.final_at IS NOT NULL`, [batchId]);
}

/** The figures of a summary that come from the tallies; errors in code order (the summary orders ties of count as it finds them). */
function figures(s: Summary): unknown {
  return {
    counts: s.counts, delivery: s.delivery, units: s.units, cost: s.cost, etaSeconds: s.etaSeconds,
    errors: s.errors.map(({ code, state, count }) => ({ code, state, count })).sort((a, b) => `${a.code} ${a.state}`.localeCompare(`${b.code} ${b.state}`)),
    duration: { firstRequestAt: s.duration.firstRequestAt, lastAcceptedAt: s.duration.lastAcceptedAt, sendingSeconds: s.duration.sendingSeconds,
      fastestSeconds: s.duration.fastestSeconds },
  };
}

/** The same figures counted by brute force from the campaign's rows, as `q` sees them. */
async function bruteForce(q: Queryable, campaign: CampaignRow): Promise<unknown> {
  const id = campaign.id;
  const statuses = await q.query<{ status: string; n: number; units: number }>(
    `SELECT status, count(*)::int AS n, coalesce(sum(units), 0)::int AS units FROM recipients WHERE campaign_id = $1 GROUP BY 1`, [id]);
  const senders = await q.query<SenderStats>(
    `WITH s AS (SELECT sender FROM batches WHERE campaign_id = $1 UNION SELECT sender FROM recipients WHERE campaign_id = $1 AND sender IS NOT NULL)
     SELECT s.sender, r.assigned, r.accepted, r.delivered, r.undelivered, r.failed, r.rejected, r.sent, r.open, r.unsent,
            m.units, m.amount, b.requested, b."requestedUnits", b.requests, b."largestRequest", b."largestRequestUnits"
     FROM s,
     LATERAL (SELECT count(*)::int AS assigned, count(message_uuid)::int AS accepted, count(*) FILTER (WHERE status = 'delivered')::int AS delivered,
                     count(*) FILTER (WHERE status = 'undelivered')::int AS undelivered, count(*) FILTER (WHERE status = 'failed')::int AS failed,
                     count(*) FILTER (WHERE status = 'rejected')::int AS rejected, count(*) FILTER (WHERE status = 'sent')::int AS sent,
                     count(*) FILTER (WHERE status = 'submitted')::int AS open, count(*) FILTER (WHERE status IN ('pending', 'sending'))::int AS unsent
              FROM recipients WHERE campaign_id = $1 AND sender = s.sender) r,
     LATERAL (SELECT coalesce(sum(coalesce(m.units, b.units)), 0)::int AS units, coalesce(sum(m.total_amount), 0)::text AS amount
              FROM messages m JOIN batches b ON b.id = m.batch_id WHERE b.campaign_id = $1 AND b.sender = s.sender) m,
     LATERAL (SELECT coalesce(sum(size), 0)::int AS requested, coalesce(sum(size * units), 0)::int AS "requestedUnits", count(*)::int AS requests,
                     coalesce(max(size), 0)::int AS "largestRequest", coalesce(max(size * units), 0)::int AS "largestRequestUnits"
              FROM batches WHERE campaign_id = $1 AND sender = s.sender AND attempts > 0) b
     ORDER BY s.sender`, [id]);
  const errors = await q.query<{ code: string; state: string; count: number }>(
    `SELECT error_code AS code, state, count(*)::int AS count FROM messages
     WHERE campaign_id = $1 AND error_code IS NOT NULL AND error_code <> '000' GROUP BY 1, 2 ORDER BY 1, 2`, [id]);
  const [t] = await q.query<{ units: number; spent: string; priced_units: number; priced_amount: string; first: Date | null; last: Date | null }>(
    `SELECT (SELECT coalesce(sum(coalesce(m.units, b.units)), 0)::int FROM messages m JOIN batches b ON b.id = m.batch_id WHERE m.campaign_id = $1) AS units,
            (SELECT coalesce(sum(total_amount), 0)::text FROM messages WHERE campaign_id = $1) AS spent,
            (SELECT coalesce(sum(units) FILTER (WHERE total_rate IS NOT NULL), 0)::int FROM messages WHERE campaign_id = $1) AS priced_units,
            (SELECT coalesce(sum(total_rate * units) FILTER (WHERE total_rate IS NOT NULL), 0)::text FROM messages WHERE campaign_id = $1) AS priced_amount,
            (SELECT min(a.started_at) FROM attempts a JOIN batches b ON b.id = a.batch_id WHERE b.campaign_id = $1) AS first,
            (SELECT max(accepted_at) FROM batches WHERE campaign_id = $1) AS last`, [id]);
  const date = (d: Date | string | null) => (d === null ? null : new Date(d));
  const first = date(t!.first);
  const last = date(t!.last);
  const round5 = (n: number) => Math.round(n * 1e5) / 1e5;
  const total = (pick: (s: SenderStats) => number) => senders.reduce((n, s) => n + pick(s), 0);
  const unsentUnits = statuses.filter((s) => s.status === 'pending' || s.status === 'sending').reduce((n, s) => n + s.units, 0);
  const accepted = total((s) => s.accepted);
  const delivered = total((s) => s.delivered);
  return {
    counts: Object.fromEntries(statuses.map((s) => [s.status, s.n])),
    delivery: { accepted, delivered, open: total((s) => s.open), rate: accepted > 0 ? delivered / accepted : null },
    units: t!.units,
    cost: {
      spent: round5(Number(t!.spent)),
      estimatedRemaining: t!.priced_units > 0 ? round5((Number(t!.priced_amount) / t!.priced_units) * unsentUnits) : null,
      currency: 'USD',
    },
    etaSeconds: unsentUnits > 0 ? Math.ceil(unsentUnits / (Number(campaign.job['rate']) * campaign.senders.length)) : null,
    errors,
    duration: {
      firstRequestAt: first, lastAcceptedAt: last, sendingSeconds: first && last ? Math.max(0, (last.getTime() - first.getTime()) / 1000) : null,
      fastestSeconds: fastestSending(campaign, senders),
    },
  };
}

/** The summary of `campaign` as `q` sees it equals the brute-force count, and is returned. */
async function exact(q: Queryable, campaign: CampaignRow): Promise<unknown> {
  const counted = await bruteForce(q, campaign);
  expect(figures(await summarize(q, campaign))).toEqual(counted);
  return counted;
}

/** The campaign's pending batches never attempted, per sender. */
async function freshBatches(db: Queryable, campaignId: number): Promise<Map<string, number[]>> {
  const rows = await db.query<{ sender: string; ids: number[] }>(
    `SELECT sender, array_agg(id ORDER BY id) AS ids FROM batches WHERE campaign_id = $1 AND status = 'pending' AND attempts = 0 GROUP BY 1`, [campaignId]);
  return new Map(rows.map((r) => [r.sender, r.ids]));
}

/** `q`'s queries one at a time: summarize sends several at once, which one connection (pg) would only queue, with a warning. */
function oneAtATime(q: Queryable): Queryable {
  let last: Promise<unknown> = Promise.resolve();
  return {
    query<Row>(sql: string, params?: readonly unknown[]) {
      const run = last.then(() => q.query<Row>(sql, params));
      last = run.catch(() => undefined);
      return run;
    },
  };
}

/** A connection of its own (not the pool's), its backend's pid, and a Queryable over it. */
async function connection(ledger: TestLedger): Promise<{ client: pg.Client; pid: number; q: Queryable }> {
  const client = new pg.Client({ connectionString: ledger.databaseUrl });
  client.on('error', () => undefined); // a terminated backend: the next query fails
  await client.connect();
  const q = oneAtATime({ query: async (sql, params) => (await client.query(sql, params as unknown[] | undefined)).rows });
  const [{ pid } = { pid: 0 }] = await q.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return { client, pid, q };
}

describe.each(LEDGER_KINDS)('the tallies kept as the %s ledger is written (sql/026)', (kind) => {
  let db: Db;
  let ledger: TestLedger;
  ledgerPerDescribe(kind, (opened, l) => { db = opened; ledger = l; });

  it('give the summary of the brute-force count, before and after more writes', async () => {
    const campaign = await seed(db, 'counted', 24);
    const seeded = await exact(db, campaign);
    expect(seeded).toMatchObject({
      counts: { delivered: 18, undelivered: 6, submitted: 24, pending: 42, suppressed: 6, invalid: 5 },
      errors: [{ code: '30', state: 'undelivered', count: 6 }],
    });
    const [b1, b2] = (await freshBatches(db, campaign.id)).get(SENDERS[0]!)!;
    // A batch sent, statement by statement, then its receipts
    await send(db, b1!);
    await exact(db, campaign);
    await receipts(db, b1!);
    await exact(db, campaign);
    // The open messages of the accepted batches get theirs, in one statement each
    const open = (await db.query<{ id: number }>(`SELECT id FROM batches WHERE campaign_id = $1 AND text::int % 4 = 1 ORDER BY id`, [campaign.id])).map((r) => r.id);
    for (const b of open.slice(0, 3)) await receipts(db, b);
    await exact(db, campaign);
    // A late receipt overrules an outcome with another error; a recipient suppressed in a pending batch; a batch retried
    await db.query(`UPDATE messages SET state = 'failed', error_code = '80', units = 3, total_amount = 0.0195 WHERE message_uuid = $1`, [`counted-${open[0]}-2`]);
    await db.query(`UPDATE recipients SET status = 'failed' WHERE message_uuid = $1`, [`counted-${open[0]}-2`]);
    await db.query(`UPDATE recipients SET status = 'suppressed' WHERE batch_id = $1 AND row_no % 4 = 2`, [b2]);
    const [retried] = await db.query<{ id: number }>(`SELECT id FROM batches WHERE campaign_id = $1 AND text::int % 4 = 3 ORDER BY id LIMIT 1`, [campaign.id]);
    await send(db, retried!.id);
    await exact(db, campaign);
    // More rows loaded: a new batch of another sender, and a duplicate row
    await db.transaction(async (tx) => {
      const [nb] = await tx.query<{ id: number }>(`INSERT INTO batches (campaign_id, sender, units, size) VALUES ($1, $2, 3, 2) RETURNING id`, [campaign.id, SENDERS[2]]);
      await tx.query(`INSERT INTO recipients (campaign_id, row_no, line_no, batch_id, sender, status, units)
                      SELECT $1, 1000 + k, 1001 + k, $2, $3, 'pending', 3 FROM generate_series(1, 2) k`, [campaign.id, nb!.id, SENDERS[2]]);
      await tx.query(`INSERT INTO recipients (campaign_id, row_no, line_no, status, units) VALUES ($1, 1003, 1004, 'duplicate', 1)`, [campaign.id]);
    });
    const later = await exact(db, campaign);
    expect(later).not.toEqual(seeded);
    // 6 seeded, 2 of b1's 4, 2 of each open batch's 4, less the one that failed later
    expect(later).toMatchObject({ errors: [{ code: '30', state: 'undelivered', count: 13 }, { code: '80', state: 'failed', count: 1 }] });
  });

  it('leave nothing of a write whose transaction never commits: it counted in its transaction only', async () => {
    const campaign = await seed(db, 'uncommitted', 12);
    const before = await exact(db, campaign);
    const [fresh] = (await freshBatches(db, campaign.id)).get(SENDERS[1]!)!;
    const [open] = await db.query<{ id: number }>(`SELECT id FROM batches WHERE campaign_id = $1 AND text::int % 4 = 1 ORDER BY id LIMIT 1`, [campaign.id]);
    const write = async (connection: Queryable) => {
      const q = oneAtATime(connection);
      await send(q, fresh!);
      await receipts(q, fresh!);
      await receipts(q, open!.id);
      await q.query(`INSERT INTO recipients (campaign_id, row_no, line_no, status, units) VALUES ($1, 1000, 1001, 'invalid', 1)`, [campaign.id]);
      // Its own transaction sees it counted
      expect(await exact(q, campaign)).not.toEqual(before);
    };
    if (kind === 'postgres') {
      // The process dies before COMMIT: its backend is terminated
      const c = await connection(ledger);
      try {
        await c.q.query('BEGIN');
        await write(c.q);
        // Other connections do not see it while it is open
        expect(await exact(db, campaign)).toEqual(before);
        expect(await db.query<{ done: boolean }>('SELECT pg_terminate_backend($1, 10000) AS done', [c.pid])).toEqual([{ done: true }]);
      } finally {
        await c.client.end().catch(() => undefined);
      }
    } else {
      await expect(db.transaction(async (tx) => {
        await write(tx);
        throw new Error('crash before COMMIT');
      })).rejects.toThrow('crash before COMMIT');
    }
    expect(await exact(db, campaign)).toEqual(before);
    // The same write committed afterwards is counted once
    await db.transaction((tx) => write(tx));
    expect(await exact(db, campaign)).not.toEqual(before);
  });

  it('go with their campaign when it is deleted', async () => {
    const gone = await seed(db, 'deleted', 8);
    const kept = await seed(db, 'kept', 8);
    await send(db, (await freshBatches(db, gone.id)).get(SENDERS[0]!)![0]!);
    const tallyRows = (id: number) => db.query<{ statuses: number; errors: number; senders: number }>(
      `SELECT (SELECT count(*)::int FROM status_tallies WHERE campaign_id = $1) AS statuses,
              (SELECT count(*)::int FROM error_tallies WHERE campaign_id = $1) AS errors,
              (SELECT count(*)::int FROM sender_tallies WHERE campaign_id = $1) AS senders`, [id]);
    for (const n of Object.values((await tallyRows(gone.id))[0]!)) expect(n).toBeGreaterThan(0);
    const keptBefore = await tallyRows(kept.id);
    const keptSummary = await exact(db, kept);
    await db.query('DELETE FROM campaigns WHERE id = $1', [gone.id]);
    expect(await tallyRows(gone.id)).toEqual([{ statuses: 0, errors: 0, senders: 0 }]);
    expect(await tallyRows(kept.id)).toEqual(keptBefore);
    expect(await exact(db, kept)).toEqual(keptSummary);
    expect(await campaignTally(db, gone.id)).toMatchObject({ statuses: [], senders: [], errors: [] });
  });

  it.runIf(kind === 'postgres')('let connections write the same campaign and sender at once, without waiting on each other’s tally rows', async () => {
    const campaign = await seed(db, 'concurrent', 24);
    // Three batches of one sender: two never attempted, one retried after a failure
    const [b1, b2] = (await freshBatches(db, campaign.id)).get(SENDERS[0]!)!;
    const [{ id: b3 } = { id: 0 }] = await db.query<{ id: number }>(
      `SELECT id FROM batches WHERE campaign_id = $1 AND sender = $2 AND status = 'pending' AND attempts = 1 ORDER BY id LIMIT 1`, [campaign.id, SENDERS[0]]);
    const writes = async (q: Queryable, b: number) => {
      await send(q, b);
      await receipts(q, b);
    };
    const first = await connection(ledger);
    const second = await connection(ledger);
    try {
      await first.q.query('BEGIN');
      await writes(first.q, b1!);
      // While the first is open, the second's writes, to the same campaign, sender, statuses and error code, finish
      // (a wait on the first's tally rows would fail them after 5 s); it stays open too
      await second.q.query(`SET lock_timeout = '5s'`);
      await second.q.query('BEGIN');
      await writes(second.q, b2!);
      // ... and a third transaction, through the pool, writes and commits while both are open
      await db.transaction(async (tx) => {
        await tx.query(`SET LOCAL lock_timeout = '5s'`);
        await writes(tx, b3);
      });
      // What has committed is counted, and only that
      await exact(db, campaign);
      const [uncommitted] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM messages WHERE batch_id = ANY($1)`, [[b1, b2]]);
      expect(uncommitted!.n).toBe(0);
      await second.q.query('COMMIT');
      await exact(db, campaign);
      await first.q.query('COMMIT');
    } finally {
      await Promise.all([first.client.end(), second.client.end()]);
    }
    await exact(db, campaign);
    const [sent] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM messages WHERE batch_id = ANY($1)`, [[b1, b2, b3]]);
    expect(sent!.n).toBe(11); // 4 + 4 + 3 (the retried batch has a recipient suppressed)
    // Each connection added to rows of its own
    const shards = (await db.query<{ shard: number }>(
      `SELECT DISTINCT shard FROM status_tallies WHERE campaign_id = $1 AND sender = $2 AND status = 'delivered'`, [campaign.id, SENDERS[0]])).map((r) => r.shard);
    expect(shards).toEqual(expect.arrayContaining([first.pid, second.pid]));
    expect(new Set((await db.query<{ shard: number }>(`SELECT shard FROM status_tallies WHERE campaign_id = $1`, [campaign.id])).map((r) => r.shard)).size)
      .toBeGreaterThan(2);
  });
});
