/**
 * A new embedded ledger's data directory: made by initdb once, then copied from the user's cache
 * (src/ledger/pglite-init.ts). Each test points XDG_CACHE_HOME at a directory of its own, so the user's real
 * cache is neither read nor written.
 */
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { describe, expect, it } from 'vitest';
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

describe('a new embedded ledger', () => {
  it('is made by initdb once, kept in the cache untouched, and copied from there the next time', async () => {
    const root = await tempDir();
    const env = { XDG_CACHE_HOME: path.join(root, 'cache') };
    await initPgliteDir(path.join(root, 'a'), env);
    expect(existsSync(path.join(root, 'a', 'PG_VERSION'))).toBe(true);
    const cached = await readdir(path.join(root, 'cache', 'smsrun'));
    expect(cached).toEqual([expect.stringMatching(/^pglite-\d+\.\d+\.\d+/)]);
    const pristine = path.join(root, 'cache', 'smsrun', cached[0]!);

    // A file only the cached copy has shows that the second ledger was copied from it, not made by initdb.
    await writeFile(path.join(pristine, 'copied-from-cache'), '');
    await initPgliteDir(path.join(root, 'b'), env);
    expect(existsSync(path.join(root, 'b', 'copied-from-cache'))).toBe(true);
    expect(await opens(path.join(root, 'b'))).toBe(true);
    // Opening a ledger never touches the cache: no temporary copy is left beside it either.
    expect(await readdir(path.join(root, 'cache', 'smsrun'))).toEqual(cached);
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
