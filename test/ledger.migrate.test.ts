/** The migration runner and the embedded ledger's single-process guard, on every available ledger. */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openLedger } from '../src/ledger/open.js';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { migrate, readMigrations, splitStatements, type Migration } from '../src/ledger/migrate.js';
import { openPostgres, wrapPglite, type Db } from '../src/ledger/db.js';
import { LedgerTooNewError } from '../src/ledger/errors.js';
import { runCli } from './helpers/cli.js';
import { createTestLedger, LEDGER_KINDS, type TestLedger } from './helpers/ledgers.js';

// One ledger per kind for the file: creating an embedded one costs seconds, and these tests need no fresh one
// (the "new Postgres database" case makes its own).
const ledgers = new Map<'pglite' | 'postgres', TestLedger>();
beforeAll(async () => {
  for (const kind of LEDGER_KINDS) ledgers.set(kind, await createTestLedger(kind));
});
afterAll(async () => {
  for (const ledger of ledgers.values()) await ledger.dispose();
});

describe.each(LEDGER_KINDS)('migrations on %s', (kind) => {
  it('applies every numbered file once, even when two runners start together, and refuses a newer database', async () => {
    const ledger = ledgers.get(kind)!;
    const db = await openLedger({ databaseUrl: ledger.databaseUrl, home: ledger.home });
    try {
      const files = await readMigrations();
      const rows = await db.query<{ version: number }>('SELECT version FROM smsrun_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(files.map((f) => f.version));
      expect(await Promise.all([migrate(db), migrate(db)])).toEqual([[], []]);
      await db.query("INSERT INTO smsrun_migrations (version, name) VALUES (999, '999_future.sql')");
      await expect(migrate(db)).rejects.toBeInstanceOf(LedgerTooNewError);
      await db.query('DELETE FROM smsrun_migrations WHERE version = 999');
    } finally {
      await db.close();
    }
  });
});

/** The ledger's database with no migration applied (openLedger would apply them all). */
async function bareDb(ledger: TestLedger): Promise<Db> {
  return ledger.databaseUrl ? openPostgres(ledger.databaseUrl) : wrapPglite(await PGlite.create(path.join(ledger.home, 'bare')));
}

const table: Migration = { version: 1, name: '001_t.sql', sql: 'CREATE TABLE t (a int, b int);\nINSERT INTO t SELECT g, g FROM generate_series(1, 1000) g;' };

describe.each(LEDGER_KINDS)('no-transaction migrations on %s', (kind) => {
  let ledger: TestLedger;
  let db: Db;
  beforeEach(async () => { ledger = await createTestLedger(kind); db = await bareDb(ledger); });
  afterEach(async () => { await db?.close(); await ledger?.dispose(); });

  const versions = async () => (await db.query<{ version: number }>('SELECT version FROM smsrun_migrations ORDER BY version')).map((r) => r.version);
  const indexes = async () => (await db.query<{ name: string }>(
    "SELECT indexname AS name FROM pg_indexes WHERE tablename IN ('t', 'u') ORDER BY 1")).map((r) => r.name);

  it('are read from the marker on their first line; only 010 and 025 have it among ours', async () => {
    const files = await readMigrations();
    expect(files.filter((f) => f.transactional === false).map((f) => f.version)).toEqual([10, 25]);
  });

  it('run outside a transaction, so CREATE INDEX CONCURRENTLY works, and are recorded after their last statement', async () => {
    const concurrent: Migration = { version: 2, name: '002_i.sql', transactional: false,
      sql: '--! no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS t_a;\nCREATE INDEX CONCURRENTLY t_a ON t (a);' };
    expect(await migrate(db, [table, concurrent])).toEqual([1, 2]);
    expect(await versions()).toEqual([1, 2]);
    expect(await indexes()).toEqual(['t_a']);
    expect(await migrate(db, [table, concurrent])).toEqual([]);
  });

  it('stopped half way, run again from the top and are recorded once', async () => {
    const halfway: Migration = { version: 2, name: '002_i.sql', transactional: false,
      sql: 'DROP INDEX CONCURRENTLY IF EXISTS t_a;\nCREATE INDEX CONCURRENTLY t_a ON t (a);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS u_b ON u (b);' };
    await expect(migrate(db, [table, halfway])).rejects.toThrow(/"u" does not exist/);
    expect(await versions()).toEqual([1]);
    expect(await indexes()).toEqual(['t_a']);
    await db.query('CREATE TABLE u (b int)');
    expect(await migrate(db, [table, halfway])).toEqual([2]);
    expect(await versions()).toEqual([1, 2]);
    expect(await indexes()).toEqual(['t_a', 'u_b']);
  });

  it('are not run on a database newer than the code', async () => {
    const later: Migration = { version: 3, name: '003_x.sql', sql: 'SELECT 1;' };
    await migrate(db, [table, later]);
    const concurrent: Migration = { version: 2, name: '002_i.sql', transactional: false, sql: 'CREATE INDEX CONCURRENTLY t_a ON t (a);' };
    await expect(migrate(db, [table, concurrent])).rejects.toBeInstanceOf(LedgerTooNewError);
    expect(await indexes()).toEqual([]);
  });

  it('upgrade an existing ledger: 010 leaves recipients and attempts without status indexes, with room for HOT updates', async () => {
    const all = await readMigrations();
    await migrate(db, all.filter((m) => m.version < 10));
    const [c] = await db.query<{ id: number }>(
      `INSERT INTO campaigns (name, job, job_file, csv_file, csv_sha256, content_hash, senders)
       VALUES ('old', '{}', 'job.json', 'r.csv', '-', '-', ARRAY['1415']) RETURNING id`);
    await db.query(
      `INSERT INTO recipients (campaign_id, row_no, line_no, raw_dst, dst, status)
       SELECT $1, g, g + 1, '+1415555' || g, '1415555' || g, 'pending' FROM generate_series(1, 100) g`, [c!.id]);
    expect(await migrate(db)).toEqual(all.filter((m) => m.version >= 10).map((m) => m.version));
    const names = (await db.query<{ name: string }>(
      "SELECT indexname AS name FROM pg_indexes WHERE tablename IN ('recipients', 'attempts')")).map((r) => r.name);
    expect(names).not.toContain('recipients_status');
    expect(names).not.toContain('attempts_open');
    const options = await db.query<{ relname: string; reloptions: string[] }>(
      "SELECT relname, reloptions FROM pg_class WHERE relname IN ('recipients', 'attempts') ORDER BY relname");
    expect(options).toEqual([
      { relname: 'attempts', reloptions: ['fillfactor=70'] },
      { relname: 'recipients', reloptions: ['fillfactor=80'] },
    ]);
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM recipients'))[0]!.n).toBe(100);
  });

  it('upgrade an existing ledger: 020 turns a batch closed as `failed` because every recipient was suppressed into `suppressed`', async () => {
    const all = await readMigrations();
    await migrate(db, all.filter((m) => m.version < 20));
    const [c] = await db.query<{ id: number }>(
      `INSERT INTO campaigns (name, job, job_file, csv_file, csv_sha256, content_hash, senders)
       VALUES ('old', '{}', 'job.json', 'r.csv', '-', '-', ARRAY['1415']) RETURNING id`);
    await db.query(
      `INSERT INTO batches (campaign_id, sender, units, size, status, last_error) VALUES
       ($1, '1415', 1, 2, 'failed', 'not sent: every recipient suppressed or cancelled'),
       ($1, '1415', 1, 2, 'failed', 'not sent: the campaign was cancelled')`, [c!.id]);
    await migrate(db, all.filter((m) => m.version <= 20));
    const batches = await db.query<{ status: string; last_error: string }>('SELECT status, last_error FROM batches ORDER BY id');
    expect(batches).toEqual([
      { status: 'suppressed', last_error: 'not sent: every recipient was suppressed at the claim' },
      { status: 'failed', last_error: 'not sent: the campaign was cancelled' },
    ]);
    // 021 then closes the batch a cancel left as `failed` as `cancelled`.
    await migrate(db);
    const after = await db.query<{ status: string }>('SELECT status FROM batches ORDER BY id');
    expect(after.map((b) => b.status)).toEqual(['suppressed', 'cancelled']);
  });
});

describe.skipIf(!LEDGER_KINDS.includes('postgres'))('a new Postgres database', () => {
  let ledger: TestLedger;
  beforeAll(async () => { ledger = await createTestLedger('postgres'); });
  afterAll(async () => { await ledger?.dispose(); });

  it('is migrated once when several processes open it at the same moment', async () => {
    const dbs = await Promise.all(Array.from({ length: 4 }, () => openLedger({ databaseUrl: ledger.databaseUrl, home: ledger.home })));
    try {
      const rows = await dbs[0]!.query<{ version: number }>('SELECT version FROM smsrun_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual((await readMigrations()).map((m) => m.version));
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
    }
  });
});

describe('the embedded ledger', () => {
  it('refuses a second writer at once, saying why and what to do; a reader reads through the holder', async () => {
    const ledger = ledgers.get('pglite')!;
    const db = await openLedger({ home: ledger.home });
    try {
      const reader = await runCli(['status'], { SMSRUN_HOME: ledger.home });
      expect(reader.code, reader.stderr).toBe(0);
      expect(reader.stderr).toContain(`read through the smsrun process that holds it (pid ${process.pid})`);
      const second = await runCli(['resolve', 'any', '--all', '--resend'], { SMSRUN_HOME: ledger.home });
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`in use by another smsrun process \\(pid ${process.pid}\\)`));
      expect(second.stderr).toMatch(/DATABASE_URL/);
      expect(second.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await db.close();
    }
    const after = await runCli(['status'], { SMSRUN_HOME: ledger.home });
    expect(after.code).toBe(0);
  });
});

describe('splitStatements', () => {
  it('splits on line-ending semicolons but keeps dollar-quoted bodies whole', () => {
    const script = "-- a comment\nCREATE TABLE a (x int);\nCREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;\nSELECT 1;";
    expect(splitStatements(script)).toEqual([
      'CREATE TABLE a (x int);',
      'CREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;',
      'SELECT 1;',
    ]);
  });
});
