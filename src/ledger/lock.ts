import { open, readFile, unlink } from 'node:fs/promises';
import { LedgerLockedError } from './errors.js';

/**
 * Takes an exclusive lock file holding our pid (created with O_EXCL, so two processes cannot both
 * succeed). A lock whose pid is no longer alive was left by a killed process and is taken over.
 */
export async function acquireDirLock(lockPath: string, home: string): Promise<() => Promise<void>> {
  for (let tries = 0; tries < 3; tries++) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => { await unlink(lockPath).catch(() => undefined); };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
      if (pid > 0 && pid !== process.pid && isAlive(pid)) throw new LedgerLockedError(home, pid);
      await unlink(lockPath).catch(() => undefined); // stale: its owner died
    }
  }
  throw new LedgerLockedError(home, 0);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
