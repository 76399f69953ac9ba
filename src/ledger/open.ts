/**
 * Opening the ledger: a real Postgres when DATABASE_URL is set, otherwise the embedded PGlite in
 * `<home>/ledger`. Migrations are applied on open. PGlite is single-process, so its data directory
 * is guarded by a lock file holding the owner's pid; a second process is refused at once.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { openPostgres, wrapPglite, type Db } from './db.js';
import { migrate } from './migrate.js';
import { acquireDirLock } from './lock.js';
import { initPgliteDir } from './pglite-init.js';
import { RunFailedError } from '../errors.js';

export interface LedgerOptions {
  databaseUrl?: string | undefined;
  home: string;
}

export async function openLedger(opts: LedgerOptions): Promise<Db> {
  const db = opts.databaseUrl ? await connectPostgres(opts.databaseUrl) : await openEmbedded(opts.home);
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return db;
}

async function connectPostgres(url: string): Promise<Db> {
  const db = openPostgres(url);
  try {
    await db.query('SELECT 1');
  } catch (err) {
    await db.close().catch(() => undefined);
    throw new RunFailedError(`cannot reach the Postgres ledger at ${redactUrl(url)}: ${(err as Error).message}. ` +
      'Check that the server is running and DATABASE_URL is right.', { cause: err });
  }
  return db;
}

async function openEmbedded(home: string): Promise<Db> {
  const dir = path.join(home, 'ledger');
  await mkdir(home, { recursive: true });
  const release = await acquireDirLock(path.join(home, 'ledger.lock'), home);
  try {
    await initPgliteDir(dir);
    const { PGlite } = await import('@electric-sql/pglite');
    const db = wrapPglite(await PGlite.create(dir));
    return { ...db, close: async () => { try { await db.close(); } finally { await release(); } } };
  } catch (err) {
    await release();
    throw err;
  }
}

/** A connection string with its password masked, for error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable DATABASE_URL)';
  }
}
