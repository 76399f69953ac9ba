/**
 * Applies the numbered migrations in `sql/` (the ledger's only schema source), in order. One lock serialises
 * concurrent runners (two `smsrun run` processes starting at once on one Postgres), and a database that is
 * newer than this code is refused before anything is applied.
 *
 * Most migrations run in a transaction of their own, which records the migration row together with its DDL:
 * either wholly applied and recorded, or not at all. A file whose first line is `--! no-transaction` runs
 * statement by statement outside any transaction and is recorded only after its last statement: that is what
 * `CREATE INDEX CONCURRENTLY` needs, so that a big index on a shared Postgres does not block the campaigns
 * running on it. Such a file must be safe to run again from the top (a crash can stop it half way): `IF
 * EXISTS`/`IF NOT EXISTS` everywhere, and a `DROP INDEX CONCURRENTLY IF EXISTS x` before each `CREATE INDEX
 * CONCURRENTLY x`, which also removes the INVALID index a failed concurrent build leaves behind.
 *
 * The lock: on Postgres, a session advisory lock taken by polling `pg_try_advisory_lock` on a connection of
 * its own. Waiting in `pg_advisory_lock` would hold a snapshot while it waits, and `CREATE INDEX
 * CONCURRENTLY` in the lock holder waits for every older snapshot to go: the two would deadlock. PGlite is
 * one process (its data directory is locked); migrations of one `Db` are serialised in this process.
 */
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Db, Queryable } from './db.js';
import { LedgerTooNewError } from './errors.js';

export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));
const MIGRATION_FILE = /^(\d{3})_[a-z0-9_]+\.sql$/;
/** The first line of a migration that must run outside a transaction. */
const NO_TRANSACTION = /^--! no-transaction\s*$/;
// Any constant shared by all smsrun processes: the key of the advisory lock that serialises migrations.
const MIGRATION_LOCK_KEY = 7_468_291;
/** How often a runner waiting for another one's migrations tries the lock again. */
const LOCK_POLL_MS = 50;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** False for a `--! no-transaction` file. */
  transactional?: boolean | undefined;
}

export async function readMigrations(dir = SQL_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => MIGRATION_FILE.test(f)).sort();
  return Promise.all(files.map(async (name) => {
    const sql = await readFile(dir + name, 'utf8');
    return { version: Number(name.slice(0, 3)), name, sql, transactional: !NO_TRANSACTION.test(sql.split('\n', 1)[0] ?? '') };
  }));
}

/** One connection that migrations run on, with the lock held. */
interface Runner extends Queryable {
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}

const running = new WeakMap<Db, Promise<unknown>>();

/** Applies the migrations this database lacks; resolves with their versions. */
export function migrate(db: Db, migrations?: Migration[]): Promise<number[]> {
  const previous = running.get(db) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(async () => apply(db, migrations ?? (await readMigrations())));
  running.set(db, next);
  return next;
}

async function apply(db: Db, all: Migration[]): Promise<number[]> {
  if (db.kind === 'pglite') return applyMissing(db, all);
  if (await hasEvery(db, all)) return [];
  const session = await db.openSession(() => undefined);
  try {
    while (!(await session.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [MIGRATION_LOCK_KEY]))[0]?.ok) {
      await sleep(LOCK_POLL_MS);
    }
    // Closing the session releases the lock too; unlocking first hands it over without waiting for that.
    const result = await applyMissing(sessionRunner(session), all);
    await session.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    return result;
  } finally {
    await session.close();
  }
}

/**
 * Whether the ledger already has every migration of `all`, read with one query on the pool: then there is nothing
 * to apply and no lock to take (a second connection and a few round trips on every command, most of a `status`'s
 * own time on a big campaign). A ledger newer than this code is refused here as below. Any doubt (no migrations
 * table yet, one missing) takes the locked path.
 */
async function hasEvery(db: Queryable, all: Migration[]): Promise<boolean> {
  let applied: { version: number }[];
  try {
    applied = await db.query<{ version: number }>(APPLIED_SQL);
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return false; // undefined_table: a new ledger
    throw err;
  }
  return notApplied(applied, all).length === 0;
}

const APPLIED_SQL = 'SELECT version FROM smsrun_migrations ORDER BY version';

/** The migrations of `all` the ledger has not applied; a ledger newer than this code is refused. */
function notApplied(applied: readonly { version: number }[], all: Migration[]): Migration[] {
  const latest = all.at(-1)?.version ?? 0;
  const newest = applied.at(-1)?.version ?? 0;
  if (newest > latest) throw new LedgerTooNewError(newest, latest);
  const done = new Set(applied.map((r) => r.version));
  return all.filter((m) => !done.has(m.version));
}

/** Transactions on one session connection (the lock is that session's). */
function sessionRunner(session: Queryable): Runner {
  return {
    query: (sql, params) => session.query(sql, params),
    async transaction(fn) {
      await session.query('BEGIN');
      try {
        const result = await fn(session);
        await session.query('COMMIT');
        return result;
      } catch (err) {
        await session.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    },
  };
}

async function applyMissing(runner: Runner, all: Migration[]): Promise<number[]> {
  await runner.query(`CREATE TABLE IF NOT EXISTS smsrun_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const applied: number[] = [];
  for (const m of notApplied(await runner.query<{ version: number }>(APPLIED_SQL), all)) {
    const record = (q: Queryable) => q.query('INSERT INTO smsrun_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    if (m.transactional === false) {
      await execScript(runner, m.sql);
      await record(runner);
    } else {
      await runner.transaction(async (tx) => {
        await record(tx);
        await execScript(tx, m.sql);
      });
    }
    applied.push(m.version);
  }
  return applied;
}

/** Runs a script of several statements through the parameterised-query path that both engines share. */
async function execScript(tx: { query(sql: string): Promise<unknown> }, script: string): Promise<void> {
  for (const statement of splitStatements(script)) await tx.query(statement);
}
/** Splits on `;` at line ends outside dollar-quoted bodies; our migrations keep to that shape. */
export function splitStatements(script: string): string[] {
  const out: string[] = [];
  let current = '';
  let inDollar = false;
  for (const line of script.split('\n')) {
    if (/^\s*--/.test(line) && current.trim() === '') continue;
    current += line + '\n';
    if ((line.match(/\$\$/g)?.length ?? 0) % 2 === 1) inDollar = !inDollar;
    if (!inDollar && /;\s*(--.*)?$/.test(line)) {
      out.push(current.trim());
      current = '';
    }
  }
  if (current.trim() !== '') out.push(current.trim());
  return out;
}
