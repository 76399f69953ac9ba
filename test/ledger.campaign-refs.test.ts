/**
 * sql/023: recipients name an existing campaign and batch, batches an existing campaign, checked once per
 * statement instead of by foreign keys: a row naming neither is refused (23503, as the foreign key refused it),
 * on insert and on an update of the reference; a batch recipients name cannot be deleted; deleting a campaign
 * deletes its recipients, batches and what hangs off them; and on Postgres the insert holds the campaign FOR KEY
 * SHARE until it commits, so neither the campaign nor its batches can be deleted under it.
 * A ledger from before sql/023 upgrades with its rows, which the new checks and the delete then cover.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, wrapPglite, type Db } from '../src/ledger/db.js';
import { migrate, readMigrations } from '../src/ledger/migrate.js';
import { openLedger } from '../src/ledger/open.js';
import { createTestLedger, LEDGER_KINDS, ledgerPerDescribe, type TestLedger } from './helpers/ledgers.js';

const FOREIGN_KEY_VIOLATION = '23503';
const LOCK_NOT_AVAILABLE = '55P03';

async function newCampaign(db: Db, name: string): Promise<number> {
  const [row] = await db.query<{ id: number }>(
    `INSERT INTO campaigns (name, job, job_file, csv_file, csv_sha256, content_hash, senders)
     VALUES ($1, '{}', 'job.json', 'list.csv', 'x', 'y', '{14155550100}') RETURNING id`, [name]);
  return row!.id;
}

async function sqlState(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

describe.each(LEDGER_KINDS)('campaign references on %s', (kind) => {
  let db: Db;
  ledgerPerDescribe(kind, (opened) => { db = opened; });

  it('refuses recipients and batches naming a campaign or batch that does not exist, on insert and on update, and a delete of a named batch', async () => {
    const id = await newCampaign(db, 'refs-refused');
    expect(await sqlState(db.query(`INSERT INTO recipients (campaign_id, row_no, line_no, status) VALUES ($1, 1, 2, 'invalid'), (-1, 2, 3, 'invalid')`, [id])))
      .toBe(FOREIGN_KEY_VIOLATION);
    expect(await sqlState(db.query(`INSERT INTO batches (campaign_id, sender, units, size) VALUES (-1, '14155550100', 1, 1)`))).toBe(FOREIGN_KEY_VIOLATION);
    await db.query(`INSERT INTO recipients (campaign_id, row_no, line_no, status) VALUES ($1, 1, 2, 'invalid')`, [id]);
    expect(await sqlState(db.query(`UPDATE recipients SET campaign_id = -1 WHERE campaign_id = $1`, [id]))).toBe(FOREIGN_KEY_VIOLATION);
    const [b] = await db.query<{ id: number }>(`INSERT INTO batches (campaign_id, sender, units, size) VALUES ($1, '14155550100', 1, 1) RETURNING id`, [id]);
    expect(await sqlState(db.query(`UPDATE batches SET campaign_id = -1 WHERE id = $1`, [b!.id]))).toBe(FOREIGN_KEY_VIOLATION);
    expect(await sqlState(db.query(`INSERT INTO recipients (campaign_id, row_no, line_no, status, batch_id) VALUES ($1, 5, 6, 'pending', -1)`, [id])))
      .toBe(FOREIGN_KEY_VIOLATION);
    await db.query(`INSERT INTO recipients (campaign_id, row_no, line_no, status, batch_id) VALUES ($1, 5, 6, 'pending', $2)`, [id, b!.id]);
    expect(await sqlState(db.query(`UPDATE recipients SET batch_id = -1 WHERE campaign_id = $1 AND row_no = 5`, [id]))).toBe(FOREIGN_KEY_VIOLATION);
    expect(await sqlState(db.query(`DELETE FROM batches WHERE id = $1`, [b!.id]))).toBe(FOREIGN_KEY_VIOLATION);
    expect(await sqlState(db.query(`UPDATE batches SET id = -1 WHERE id = $1`, [b!.id]))).toBe(FOREIGN_KEY_VIOLATION);
    await db.query(`DELETE FROM recipients WHERE campaign_id = $1 AND row_no = 5`, [id]);
    // An update that leaves campaign_id alone is not checked (nor slowed): the send path's updates.
    await db.query(`UPDATE recipients SET status = 'duplicate' WHERE campaign_id = $1`, [id]);
    const rows = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM recipients WHERE campaign_id = $1`, [id]);
    expect(rows[0]!.n).toBe(1);
    // Once nothing names it, the batch can go.
    await db.query(`DELETE FROM batches WHERE id = $1`, [b!.id]);
  });

  it('lets a recipient name a batch of another campaign, and refuses a missing batch beside one (sql/025: the batches looked for again)', async () => {
    const own = await newCampaign(db, 'refs-own');
    const other = await newCampaign(db, 'refs-other');
    const [b] = await db.query<{ id: number }>(`INSERT INTO batches (campaign_id, sender, units, size) VALUES ($1, '14155550100', 1, 1) RETURNING id`, [other]);
    expect(await sqlState(db.query(
      `INSERT INTO recipients (campaign_id, row_no, line_no, status, batch_id) VALUES ($1, 1, 2, 'pending', $2), ($1, 2, 3, 'pending', -1)`, [own, b!.id])))
      .toBe(FOREIGN_KEY_VIOLATION);
    await db.query(`INSERT INTO recipients (campaign_id, row_no, line_no, status, batch_id) VALUES ($1, 1, 2, 'pending', $2)`, [own, b!.id]);
    expect(await sqlState(db.query(`DELETE FROM batches WHERE id = $1`, [b!.id]))).toBe(FOREIGN_KEY_VIOLATION);
  });

  it('deleting a campaign deletes its recipients, batches, messages and attempts', async () => {
    const id = await newCampaign(db, 'refs-deleted');
    const other = await newCampaign(db, 'refs-kept');
    const batchOf = new Map<number, number>();
    for (const c of [id, other]) {
      const [b] = await db.query<{ id: number }>(`INSERT INTO batches (campaign_id, sender, units, size) VALUES ($1, '14155550100', 1, 1) RETURNING id`, [c]);
      batchOf.set(c, b!.id);
      await db.query(`INSERT INTO recipients (campaign_id, row_no, line_no, status, batch_id, dst) VALUES ($1, 1, 2, 'submitted', $2, '14155550123')`, [c, b!.id]);
      await db.query(`INSERT INTO messages (message_uuid, campaign_id, batch_id) VALUES ($1, $2, $3)`, [`uuid-${c}`, c, b!.id]);
      await db.query(`INSERT INTO attempts (batch_id, attempt_no, owner) VALUES ($1, 1, 'test')`, [b!.id]);
    }
    await db.query('DELETE FROM campaigns WHERE id = $1', [id]);
    const count = async (sql: string, param: number) => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, [param]))[0]!.n;
    for (const [c, left] of [[id, 0], [other, 1]] as const) {
      for (const table of ['recipients', 'batches', 'messages']) expect(await count(`${table} WHERE campaign_id = $1`, c)).toBe(left);
      expect(await count('attempts WHERE batch_id = $1', batchOf.get(c)!)).toBe(left);
    }
  });
});

describe.each(LEDGER_KINDS)('a ledger from before sql/023 on %s', (kind) => {
  let ledger: TestLedger | undefined;
  let db: Db;
  beforeAll(async () => {
    if (kind === 'pglite') {
      db = wrapPglite(new PGlite());
    } else {
      ledger = await createTestLedger(kind);
      db = openPostgres(ledger.databaseUrl!);
    }
  });
  afterAll(async () => {
    await db?.close();
    await ledger?.dispose();
  });

  it('upgrades: its campaign keeps its rows, new rows are checked, deleting it deletes them', async () => {
    const all = await readMigrations();
    await migrate(db, all.filter((m) => m.version < 23));
    const id = await newCampaign(db, 'before-023');
    const [b] = await db.query<{ id: number }>(`INSERT INTO batches (campaign_id, sender, units, size) VALUES ($1, '14155550100', 1, 1) RETURNING id`, [id]);
    await db.query(`INSERT INTO recipients (campaign_id, row_no, line_no, status, batch_id) VALUES ($1, 1, 2, 'pending', $2)`, [id, b!.id]);
    await migrate(db);
    const keys = await db.query<{ conname: string }>(
      `SELECT conname FROM pg_constraint WHERE conrelid IN ('recipients'::regclass, 'batches'::regclass) AND contype = 'f' ORDER BY 1`);
    expect(keys).toEqual([]);
    expect(await sqlState(db.query(`INSERT INTO recipients (campaign_id, row_no, line_no, status) VALUES (-1, 1, 2, 'invalid')`))).toBe(FOREIGN_KEY_VIOLATION);
    await db.query(`INSERT INTO recipients (campaign_id, row_no, line_no, status) VALUES ($1, 2, 3, 'invalid')`, [id]);
    await db.query('DELETE FROM campaigns WHERE id = $1', [id]);
    const left = await db.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM recipients WHERE campaign_id = $1)::int + (SELECT count(*) FROM batches WHERE campaign_id = $1)::int AS n`, [id]);
    expect(left[0]!.n).toBe(0);
  });
});

describe.runIf(LEDGER_KINDS.includes('postgres'))('campaign references under concurrency (Postgres)', () => {
  let ledger: TestLedger;
  beforeAll(async () => {
    ledger = await createTestLedger('postgres');
    await (await openLedger({ databaseUrl: ledger.databaseUrl, home: ledger.home })).close();
  });
  afterAll(async () => {
    await ledger?.dispose();
  });

  it('an uncommitted insert of recipients holds its campaign: neither a DELETE of it nor of one of its batches gets through', async () => {
    const a = new pg.Client({ connectionString: ledger.databaseUrl });
    const b = new pg.Client({ connectionString: ledger.databaseUrl });
    await a.connect();
    await b.connect();
    try {
      const [row] = (await a.query<{ id: number }>(
        `INSERT INTO campaigns (name, job, job_file, csv_file, csv_sha256, content_hash, senders)
         VALUES ('refs-locked', '{}', 'job.json', 'list.csv', 'x', 'y', '{14155550100}') RETURNING id`)).rows;
      await a.query('BEGIN');
      await a.query(`INSERT INTO recipients (campaign_id, row_no, line_no, status) VALUES ($1, 1, 2, 'invalid')`, [row!.id]);
      // What DELETE takes on the row (FOR UPDATE) conflicts with the insert's FOR KEY SHARE, as with a foreign key;
      // so does what a direct DELETE of one of its batches takes first (the batch's campaign, FOR UPDATE).
      expect(await sqlState(b.query('SELECT 1 FROM campaigns WHERE id = $1 FOR UPDATE NOWAIT', [row!.id]))).toBe(LOCK_NOT_AVAILABLE);
      const [batch] = (await a.query<{ id: number }>(`INSERT INTO batches (campaign_id, sender, units, size) VALUES ($1, '14155550100', 1, 1) RETURNING id`, [row!.id])).rows;
      await a.query('COMMIT');
      await a.query('BEGIN');
      await a.query(`INSERT INTO recipients (campaign_id, row_no, line_no, status, batch_id) VALUES ($1, 2, 3, 'pending', $2)`, [row!.id, batch!.id]);
      await b.query(`SET lock_timeout = '300ms'`);
      expect(await sqlState(b.query('DELETE FROM batches WHERE id = $1', [batch!.id]))).toBe(LOCK_NOT_AVAILABLE);
      await a.query('COMMIT');
      await b.query('DELETE FROM campaigns WHERE id = $1', [row!.id]);
      expect((await b.query('SELECT 1 FROM recipients WHERE campaign_id = $1', [row!.id])).rowCount).toBe(0);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('an uncommitted insert of recipients naming a batch of another campaign holds that campaign too (sql/025)', async () => {
    const a = new pg.Client({ connectionString: ledger.databaseUrl });
    const b = new pg.Client({ connectionString: ledger.databaseUrl });
    await a.connect();
    await b.connect();
    try {
      const ids = (await a.query<{ id: number }>(
        `INSERT INTO campaigns (name, job, job_file, csv_file, csv_sha256, content_hash, senders)
         VALUES ('refs-own-locked', '{}', 'job.json', 'list.csv', 'x', 'y', '{14155550100}'),
                ('refs-other-locked', '{}', 'job.json', 'list.csv', 'x', 'y', '{14155550100}') RETURNING id`)).rows.map((r) => r.id);
      const [own, other] = ids as [number, number];
      const [batch] = (await a.query<{ id: number }>(`INSERT INTO batches (campaign_id, sender, units, size) VALUES ($1, '14155550100', 1, 1) RETURNING id`, [other])).rows;
      await a.query('BEGIN');
      await a.query(`INSERT INTO recipients (campaign_id, row_no, line_no, status, batch_id) VALUES ($1, 1, 2, 'pending', $2)`, [own, batch!.id]);
      expect(await sqlState(b.query('SELECT 1 FROM campaigns WHERE id = $1 FOR UPDATE NOWAIT', [other]))).toBe(LOCK_NOT_AVAILABLE);
      expect(await sqlState(b.query('SELECT 1 FROM campaigns WHERE id = $1 FOR UPDATE NOWAIT', [own]))).toBe(LOCK_NOT_AVAILABLE);
      await a.query('ROLLBACK');
    } finally {
      await a.end();
      await b.end();
    }
  });
});
