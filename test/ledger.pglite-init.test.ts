/**
 * A new embedded ledger's data directory: made by initdb once, then copied from the user's cache
 * (src/ledger/pglite-init.ts). Each test points XDG_CACHE_HOME at a directory of its own, so the user's real
 * cache is neither read nor written.
 */
import { existsSync } from 'node:fs';
import { cp, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { describe, expect, it } from 'vitest';
import { wrapPglite } from '../src/ledger/db.js';
import { migrate, readMigrations } from '../src/ledger/migrate.js';
import { PGLITE_OPTIONS } from '../src/ledger/open.js';
import { initPgliteDir } from '../src/ledger/pglite-init.js';
import { tempDir } from './helpers/tmp.js';

async function opens(dir: string): Promise<boolean> {
  const db = await PGlite.create(dir);
  try {
    const { rows } = await db.query<{ one: number }>('SELECT 1 AS one');
    return rows[0]?.one === 1;
  } finally {
    await db.close();
  }
}

/** The migrations recorded in a data directory, or undefined when it has none (opened on a copy, to leave it as it is). */
async function migrationsIn(dir: string): Promise<number | undefined> {
  const copy = `${dir}-look`;
  await cp(dir, copy, { recursive: true });
  const db = await PGlite.create(copy);
  try {
    const { rows } = await db.query<{ table: string | null }>("SELECT to_regclass('smsrun_migrations')::text AS table");
    if (rows[0]?.table == null) return undefined;
    return (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM smsrun_migrations')).rows[0]?.n;
  } finally {
    await db.close();
    await rm(copy, { recursive: true, force: true });
  }
}

/** Opens the directory as the ledger does and applies the migrations: true when none was missing. */
async function migratesNothing(dir: string): Promise<boolean> {
  const pglite = await PGlite.create(dir);
  try {
    return (await migrate(wrapPglite(pglite))).length === 0;
  } finally {
    await pglite.close();
  }
}

/** As ledger/open.ts asks for a ledger it migrates. */
const MIGRATED = { pgliteOptions: PGLITE_OPTIONS };

describe('a new embedded ledger', () => {
  it('is made by initdb once, kept in the cache untouched and migrated, and copied from there the next time', async () => {
    const root = await tempDir();
    const env = { XDG_CACHE_HOME: path.join(root, 'cache') };
    await initPgliteDir(path.join(root, 'a'), env, MIGRATED);
    expect(existsSync(path.join(root, 'a', 'PG_VERSION'))).toBe(true);
    const cached = (await readdir(path.join(root, 'cache', 'smsrun'))).sort();
    expect(cached).toEqual([expect.stringMatching(/^pglite-\d+\.\d+\.\d+$/), expect.stringMatching(/^pglite-\d+\.\d+\.\d+-schema-[0-9a-f]{16}$/)]);
    const [pristine, schema] = cached.map((c) => path.join(root, 'cache', 'smsrun', c)) as [string, string];
    // The pristine copy is initdb's alone; the schema copy has every migration applied.
    expect(await migrationsIn(pristine)).toBeUndefined();
    expect(await migrationsIn(schema)).toBe((await readMigrations()).length);
    // The first ledger itself is the migrated copy it kept: the run does not migrate a second time.
    expect(await migratesNothing(path.join(root, 'a'))).toBe(true);

    // A file only the cached copy has shows where the next ledger was copied from: the migrated copy first.
    await writeFile(path.join(schema, 'copied-from-cache'), '');
    await initPgliteDir(path.join(root, 'b'), env, MIGRATED);
    expect(existsSync(path.join(root, 'b', 'copied-from-cache'))).toBe(true);
    expect(await migratesNothing(path.join(root, 'b'))).toBe(true);
    // Opening a ledger never touches the cache: no temporary copy is left beside it either.
    expect((await readdir(path.join(root, 'cache', 'smsrun'))).sort()).toEqual(cached);

    // Without the migrated copy (another set of migrations, or removed), the pristine one, migrated and kept again,
    // and the new ledger is that migrated copy.
    await rm(schema, { recursive: true });
    await writeFile(path.join(pristine, 'copied-from-cache'), '');
    await initPgliteDir(path.join(root, 'c'), env, MIGRATED);
    expect(existsSync(path.join(root, 'c', 'copied-from-cache'))).toBe(true);
    expect(await migrationsIn(schema)).toBe((await readMigrations()).length);
    expect(await migratesNothing(path.join(root, 'c'))).toBe(true);
    expect((await readdir(path.join(root, 'cache', 'smsrun'))).sort()).toEqual(cached);
    expect((await readdir(root)).sort()).toEqual(['a', 'b', 'c', 'cache']);

    // A ledger opened without migrations (plan on an old ledger's home) is initdb's alone.
    await initPgliteDir(path.join(root, 'd'), env);
    expect(await migrationsIn(path.join(root, 'd'))).toBeUndefined();
  });

  it('is still made when the cache cannot be written', async () => {
    const root = await tempDir();
    const notADir = path.join(root, 'file');
    await writeFile(notADir, '');
    await initPgliteDir(path.join(root, 'ledger'), { XDG_CACHE_HOME: notADir });
    expect(await opens(path.join(root, 'ledger'))).toBe(true);
    expect(await readdir(root)).toEqual(['file', 'ledger']);
  });
});
