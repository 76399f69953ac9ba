/** The embedded ledger's lock file: never seen without its owner's pid, taken over only from a dead owner, by one. */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireDirLock } from '../src/ledger/lock.js';
import { LedgerLockedError } from '../src/ledger/errors.js';
import { tempDir } from './helpers/tmp.js';

const DEAD_PID = 2_147_483_646; // above any pid_max: no such process

describe('the ledger lock file', () => {
  it('is not taken from an owner caught between creating the lock and writing its pid (the old pid 0 gap)', async () => {
    const home = await tempDir();
    const lock = path.join(home, 'ledger.lock');
    await writeFile(lock, ''); // what a second process saw under the old scheme, mid-acquire
    await expect(acquireDirLock(lock, home)).rejects.toBeInstanceOf(LedgerLockedError);
    expect(await readFile(lock, 'utf8')).toBe('');
  });

  it('holds its pid from the moment it exists, and a live owner keeps it', async () => {
    const home = await tempDir();
    const lock = path.join(home, 'ledger.lock');
    const release = await acquireDirLock(lock, home);
    expect(await readFile(lock, 'utf8')).toBe(String(process.pid));
    await expect(acquireDirLock(lock, home)).rejects.toThrow(`pid ${process.pid}`);
    await release();
    await (await acquireDirLock(lock, home))();
  });

  it('is taken over from a dead owner by exactly one of many at once', async () => {
    const home = await tempDir();
    const lock = path.join(home, 'ledger.lock');
    await writeFile(lock, String(DEAD_PID));
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => acquireDirLock(lock, home)));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(LedgerLockedError);
    expect(await readFile(lock, 'utf8')).toBe(String(process.pid));
  });
});
