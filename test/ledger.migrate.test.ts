/** The migration runner and the embedded ledger's single-process guard, on every available ledger. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger } from '../src/ledger/open.js';
import { migrate, readMigrations, splitStatements } from '../src/ledger/migrate.js';
import { LedgerTooNewError } from '../src/ledger/errors.js';
import { runCli } from './helpers/cli.js';
import { createTestLedger, LEDGER_KINDS, type TestLedger } from './helpers/ledgers.js';

describe.each(LEDGER_KINDS)('migrations on %s', (kind) => {
  let ledger: TestLedger;
  beforeAll(async () => { ledger = await createTestLedger(kind); });
  afterAll(async () => { await ledger?.dispose(); });

  it('applies every numbered file once, even when two runners start together, and refuses a newer database', async () => {
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
  let ledger: TestLedger;
  beforeAll(async () => { ledger = await createTestLedger('pglite'); });
  afterAll(async () => { await ledger?.dispose(); });

  it('refuses a second writer at once, saying why and what to do; a reader reads through the holder', async () => {
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
