/**
 * Applies the numbered migrations in `sql/` (the ledger's only schema source), in order, all in one
 * transaction. A lock serialises concurrent runners (two `smsrun run` processes starting at once on one
 * Postgres), and each migration row is recorded in the same transaction as its DDL, so migrations are
 * either wholly applied and recorded or not at all. A database that is newer than this code is refused.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.js';
import { LedgerTooNewError } from './errors.js';

export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));
const MIGRATION_FILE = /^(\d{3})_[a-z0-9_]+\.sql$/;
// Any constant shared by all smsrun processes: the key of the advisory lock that serialises migrations.
const MIGRATION_LOCK_KEY = 7_468_291;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function readMigrations(dir = SQL_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => MIGRATION_FILE.test(f)).sort();
  return Promise.all(
    files.map(async (name) => ({ version: Number(name.slice(0, 3)), name, sql: await readFile(dir + name, 'utf8') })),
  );
}

export async function migrate(db: Db, migrations?: Migration[]): Promise<number[]> {
  const all = migrations ?? (await readMigrations());
  const latest = all.at(-1)?.version ?? 0;
  const applied: number[] = [];
  await db.transaction(async (tx) => {
    // The lock comes first: even CREATE TABLE IF NOT EXISTS fails when two processes race on a new database.
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS smsrun_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const rows = await tx.query<{ version: number }>('SELECT version FROM smsrun_migrations ORDER BY version');
    const done = new Set(rows.map((r) => r.version));
    const newest = rows.at(-1)?.version ?? 0;
    if (newest > latest) throw new LedgerTooNewError(newest, latest);
    for (const m of all) {
      if (done.has(m.version)) continue;
      await tx.query('INSERT INTO smsrun_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      await execScript(tx, m.sql);
      applied.push(m.version);
    }
  });
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
