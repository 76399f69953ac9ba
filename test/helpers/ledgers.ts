/**
 * The ledgers a test runs against: always the embedded PGlite; also a real Postgres when
 * TEST_DATABASE_URL is set (CI sets it). Each Postgres user gets a database of its own, dropped after.
 */
import { rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import type { Db } from '../../src/ledger/db.js';
import { openLedger } from '../../src/ledger/open.js';
import { killLeftovers } from './cli.js';
import { tempDir } from './tmp.js';

export interface TestLedger {
  kind: 'pglite' | 'postgres';
  /** Environment for the CLI: SMSRUN_HOME, and DATABASE_URL on Postgres. */
  env: Record<string, string>;
  home: string;
  databaseUrl?: string;
  dispose(): Promise<void>;
}

export const LEDGER_KINDS: ('pglite' | 'postgres')[] = process.env['TEST_DATABASE_URL'] ? ['pglite', 'postgres'] : ['pglite'];

export async function createTestLedger(kind: 'pglite' | 'postgres'): Promise<TestLedger> {
  // Removed by dispose(), and in any case after the test file (tmp.ts), even if a beforeAll failed first.
  const home = await tempDir('smsrun-test-');
  if (kind === 'pglite') {
    return { kind, home, env: { SMSRUN_HOME: home }, dispose: () => removeHome(home) };
  }
  const admin = process.env['TEST_DATABASE_URL']!;
  const name = `smsrun_t_${randomBytes(6).toString('hex')}`;
  await adminQuery(admin, `CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  return {
    kind, home, databaseUrl,
    env: { SMSRUN_HOME: home, DATABASE_URL: databaseUrl },
    async dispose() {
      killLeftovers();
      await adminQuery(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await removeHome(home);
    },
  };
}

/**
 * A CLI that a failed or timed-out test left running still holds the ledger (and writes into its directory):
 * kill it first, and let rm retry while it is exiting.
 */
async function removeHome(home: string): Promise<void> {
  killLeftovers();
  await rm(home, { recursive: true, force: true, maxRetries: 5 });
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Reads the ledger directly, once the CLI has exited (the embedded one is then free). */
export async function ledgerRows<T>(ledger: TestLedger, sql: string, params: unknown[] = []): Promise<T[]> {
  const db = await openLedger({ databaseUrl: ledger.databaseUrl, home: ledger.home });
  try {
    return await db.query<T>(sql, params);
  } finally {
    await db.close();
  }
}

/**
 * One ledger of `kind` for the enclosing describe block, opened (and migrated) before its first test and
 * handed to `onOpen`; closed and dropped after its last test. Call it before the block's own hooks: its
 * afterAll then runs after theirs (vitest runs after-hooks in reverse order), so a simulator or loop the block
 * stops in its afterAll is gone before the ledger is.
 */
export function ledgerPerDescribe(kind: 'pglite' | 'postgres', onOpen: (db: Db, ledger: TestLedger) => void): void {
  let ledger: TestLedger | undefined;
  let db: Db | undefined;
  beforeAll(async () => {
    ledger = await createTestLedger(kind);
    db = await openLedger({ databaseUrl: ledger.databaseUrl, home: ledger.home });
    onOpen(db, ledger);
  });
  afterAll(async () => {
    await db?.close();
    await ledger?.dispose();
  });
}
