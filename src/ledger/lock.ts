import { link, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { LedgerLockedError } from './errors.js';

/**
 * An exclusive lock file holding its owner's pid. The pid is written to a file of our own first and then
 * hard-linked into place: link() fails if the lock exists, and the lock never exists without its pid (the
 * old scheme created it empty and wrote the pid after, and a second process reading in that gap took pid 0
 * for a dead owner and opened the same ledger).
 *
 * A lock whose owner is dead was left by a killed process and is taken over. Taking over is itself guarded
 * by a second lock (`<lock>.break`, same scheme): the pid is read again while holding it, so two processes
 * that both found the same dead owner cannot remove each other's fresh lock.
 */
export async function acquireDirLock(lockPath: string, home: string): Promise<() => Promise<void>> {
  for (let tries = 0; tries < 5; tries++) {
    if (await tryLink(lockPath)) return async () => { await unlink(lockPath).catch(() => undefined); };
    const owner = await readOwner(lockPath);
    if (owner.alive) throw new LedgerLockedError(home, owner.pid);
    await breakStaleLock(lockPath);
  }
  throw new LedgerLockedError(home, (await readOwner(lockPath)).pid);
}

/** The pid a lock file names, and whether it still stands for a live process. */
export async function readOwner(lockPath: string): Promise<{ pid: number; alive: boolean }> {
  const text = await readFile(lockPath, 'utf8').catch(() => undefined);
  if (text === undefined) return { pid: 0, alive: false }; // gone meanwhile: try again
  const pid = Number(text.trim());
  if (Number.isInteger(pid) && pid > 0) return { pid, alive: isAlive(pid) };
  // Not a pid: a lock from an older smsrun caught between creating and writing it. It is in use unless it
  // is old enough that no writer can still be on its way.
  const age = Date.now() - ((await stat(lockPath).catch(() => undefined))?.mtimeMs ?? 0);
  return { pid: 0, alive: age < UNREADABLE_LOCK_STALE_MS };
}

const UNREADABLE_LOCK_STALE_MS = 10_000;

async function tryLink(lockPath: string): Promise<boolean> {
  const mine = `${lockPath}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await writeFile(mine, String(process.pid), { flag: 'wx' });
  try {
    await link(mine, lockPath);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  } finally {
    await unlink(mine).catch(() => undefined);
  }
}

async function breakStaleLock(lockPath: string): Promise<void> {
  const breaker = `${lockPath}.break`;
  if (!(await tryLink(breaker))) {
    // Someone else is breaking it (or died doing so: its breaker is then removed like any dead lock).
    const other = await readOwner(breaker);
    if (!other.alive && other.pid > 0) await unlink(breaker).catch(() => undefined);
    return;
  }
  try {
    const owner = await readOwner(lockPath); // read again: it may be a fresh lock by now
    if (!owner.alive) await unlink(lockPath).catch(() => undefined);
  } finally {
    await unlink(breaker).catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
