/**
 * Opening the ledger: a real Postgres when DATABASE_URL is set, otherwise the embedded PGlite in
 * `<home>/ledger`. Migrations are applied on open. PGlite is single-process, so its data directory
 * is guarded by a lock file holding the owner's pid; a second process is refused at once.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { openPostgres, wrapPglite, type Db } from './db.js';
import { migrate } from './migrate.js';
import { acquireDirLock, readOwner } from './lock.js';
import { LedgerLockedError } from './errors.js';
import { connectReader, serveReaders, type SharedLedger } from './share.js';
import { initPgliteDir } from './pglite-init.js';
import { RunFailedError } from '../errors.js';
import { redactUrl } from './place.js';

export interface LedgerOptions {
  databaseUrl?: string | undefined;
  home: string;
  /**
   * Only reading (status, export): when another process holds the embedded ledger, read it through that
   * process (ledger/share.ts) instead of being refused. `onShared` is told when that happens.
   */
  read?: { onShared(pid: number): void } | undefined;
  /** Postgres only: the connection pool's size. @default DEFAULT_POOL_SIZE (ledger/db.ts) */
  poolSize?: number | undefined;
  /**
   * False: open the ledger as it is, without applying migrations (`plan` only reads what is there, and must
   * not upgrade a ledger behind a run of an older smsrun). Default true.
   */
  migrate?: boolean | undefined;
}

export async function openLedger(opts: LedgerOptions): Promise<Db> {
  if (!opts.databaseUrl && opts.read) {
    const shared = await readThroughHolder(opts.home, opts.read.onShared);
    if (shared) return shared;
  }
  const db = opts.databaseUrl ? await connectPostgres(opts.databaseUrl, opts.poolSize) : await openEmbedded(opts.home, opts.migrate !== false);
  if (opts.migrate === false) return db;
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return db;
}

/** The ledger through the process that holds it, or undefined when nobody holds it. */
async function readThroughHolder(home: string, onShared: (pid: number) => void): Promise<Db | undefined> {
  const holder = await connectHolder(home);
  if (holder) onShared(holder.pid);
  return holder?.ledger;
}

/**
 * The process holding the embedded ledger in `home`, connected (ledger/share.ts), or undefined when nobody
 * holds it. Rejects LedgerLockedError when it is held by a process that serves nobody.
 */
export async function connectHolder(home: string): Promise<{ pid: number; ledger: SharedLedger } | undefined> {
  const owner = await readOwner(lockFile(home));
  if (!owner.alive) return undefined;
  try {
    return { pid: owner.pid, ledger: await connectReader(home, owner.pid) };
  } catch {
    throw new LedgerLockedError(home, owner.pid); // an older smsrun, or one still starting: it serves no readers
  }
}

const lockFile = (home: string) => path.join(home, 'ledger.lock');

async function connectPostgres(url: string, poolSize?: number): Promise<Db> {
  const db = openPostgres(url, poolSize);
  try {
    await db.query('SELECT 1');
  } catch (err) {
    await db.close().catch(() => undefined);
    throw new RunFailedError(`cannot reach the Postgres ledger at ${redactUrl(url)}: ${(err as Error).message}. ` +
      'Check that the server is running and DATABASE_URL is right.', { cause: err });
  }
  return db;
}

/**
 * The embedded Postgres's settings. shared_buffers 32 MB instead of PGlite's 128 MB: WebAssembly memory, once
 * touched, is never given back, so a big load kept the run's RSS up by the whole buffer pool (the ingest
 * bench's 100 000 rows peaked at 510 MB, issue 12's limit being 500). Pages that do not fit are read again
 * from the operating system's page cache, which costs little beside the WebAssembly engine itself.
 */
export const PGLITE_OPTIONS = { postgresqlconf: ['shared_buffers = 32MB'] };

/** `migrated`: a new ledger may be a copy of the cached migrated one (not when opened without migrations). */
async function openEmbedded(home: string, migrated: boolean): Promise<Db> {
  const dir = path.join(home, 'ledger');
  await mkdir(home, { recursive: true });
  const release = await acquireDirLock(lockFile(home), home);
  try {
    await initPgliteDir(dir, process.env, migrated ? { pgliteOptions: PGLITE_OPTIONS } : undefined);
    const { PGlite } = await import('@electric-sql/pglite');
    const pglite = await PGlite.create(dir, PGLITE_OPTIONS);
    const db = wrapPglite(pglite);
    const readers = await serveReaders(pglite, home).catch(async (err: unknown) => {
      await db.close();
      throw err;
    });
    return {
      ...db,
      close: async () => {
        try {
          await readers.close();
          await db.close();
        } finally {
          await release();
        }
      },
    };
  } catch (err) {
    await release();
    throw err;
  }
}

export { redactUrl } from './place.js';
