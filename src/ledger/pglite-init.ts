/**
 * A new embedded ledger's data directory is made by PGlite's initdb in a short-lived child process, then
 * opened by this one. initdb peaks at about 830 MB of RSS (reopening an existing directory at about 335 MB);
 * run in this process, that peak would stay with the whole run, since freed WebAssembly memory is never
 * given back. In a child, it goes when the child exits.
 *
 * The child builds the directory under a temporary name next to it and the parent renames it into place
 * only once initdb finished: a crash part way leaves no half-made ledger that PGlite would take for a
 * real one (it looks for PG_VERSION, which initdb writes early). Called with the ledger's lock held.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rename, rm, rmdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { RunFailedError } from '../errors.js';

/** What the child runs: make the directory (initdb), close it, exit. */
const CHILD = `const [module, dir] = process.argv.slice(1);
const { PGlite } = await import(module);
const db = await PGlite.create(dir);
await db.close();`;

/** Makes `dir` a PGlite data directory, in a child process, unless it is one already. */
export async function initPgliteDir(dir: string): Promise<void> {
  if (existsSync(path.join(dir, 'PG_VERSION'))) return;
  const building = `${dir}.init-${process.pid}`;
  await rm(building, { recursive: true, force: true });
  const pglite = pathToFileURL(createRequire(import.meta.url).resolve('@electric-sql/pglite')).href;
  try {
    await promisify(execFile)(process.execPath, ['--input-type=module', '-e', CHILD, pglite, building], { maxBuffer: 16 << 20 });
    // An empty directory left where the ledger goes (by hand, or an older smsrun) is replaced; anything else is kept.
    await rmdir(dir).catch(() => undefined);
    await rename(building, dir);
  } catch (err) {
    await rm(building, { recursive: true, force: true });
    throw new RunFailedError(`could not create the embedded ledger in ${dir}: ${(err as Error).message.split('\n')[0]}. ` +
      'Check that the folder is writable and the disk has room, or set DATABASE_URL to use a Postgres server.', { cause: err });
  }
}
