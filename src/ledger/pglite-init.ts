/**
 * A new embedded ledger's data directory is made by PGlite's initdb in a short-lived child process, then
 * opened by this one. initdb peaks at about 830 MB of RSS (reopening an existing directory at about 335 MB);
 * run in this process, that peak would stay with the whole run, since freed WebAssembly memory is never
 * given back. In a child, it goes when the child exits.
 *
 * The child builds the directory under a temporary name next to it and the parent renames it into place
 * only once initdb finished: a crash part way leaves no half-made ledger that PGlite would take for a
 * real one (it looks for PG_VERSION, which initdb writes early). Called with the ledger's lock held.
 *
 * initdb takes 3.5-7 s of CPU, longer than the 5 s a new campaign may wait for its first request (issue 12), and
 * its result is the same every time for one PGlite version. So the first directory made on a machine is also
 * kept, untouched, in the user's cache (`pglite-<version>` under userCacheDir), and later new ledgers copy it
 * (40 MB, well under a second). The cache is best effort: anything wrong with it (missing, unwritable, another
 * PGlite version) means initdb as before. It is written under a temporary name and renamed, so a copy is only
 * ever taken of a complete directory.
 *
 * The migrations (sql/) then took about 1 s of a new ledger's start on PGlite (20 of them, 0.9-1.2 s at load 3,
 * against 0.4-0.7 s for the copy), and their result too is the same every time for one PGlite version and one
 * set of migrations. So the first new ledger of a schema also keeps a migrated copy (`pglite-<version>-schema-
 * <hash of the migrations>`), made in a child process as initdb is, and later new ledgers copy that one; `migrate`
 * then finds nothing to apply; so does the first, which takes the copy it has just kept. A changed or added
 * migration is another hash, so another copy: an older smsrun's copies stay usable by it. Best effort as well: without it, the pristine copy and the migrations as before.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, rename, rm, rmdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { createHash } from 'node:crypto';
import { RunFailedError } from '../errors.js';
import { readMigrations } from './migrate.js';
import { userCacheDir } from './place.js';

/** What the child runs: make the directory (initdb), close it, exit. */
const CHILD = `const [module, dir] = process.argv.slice(1);
const { PGlite } = await import(module);
const db = await PGlite.create(dir);
await db.close();`;

/**
 * What the child that makes a schema copy runs: open the directory (a new one, never opened), apply the
 * migrations with the same code as `openLedger`, close it, exit.
 */
const SCHEMA_CHILD = `const [module, db, migrate, options, dir] = process.argv.slice(1);
const { PGlite } = await import(module);
const { wrapPglite } = await import(db);
const m = await import(migrate);
const pglite = await PGlite.create(dir, JSON.parse(options));
await m.migrate(wrapPglite(pglite));
await pglite.close();`;

/**
 * Makes `dir` a PGlite data directory, by a copy of a cached one or in a child process, unless it is one already.
 * With `migrated` (the options the ledger is opened with, ledger/open.ts), the copy may be the migrated one, and
 * is kept when missing; without it, the directory is initdb's alone (a ledger opened without migrations).
 */
export async function initPgliteDir(dir: string, env: NodeJS.ProcessEnv = process.env, migrated?: { pgliteOptions: object }): Promise<void> {
  if (existsSync(path.join(dir, 'PG_VERSION'))) return;
  const building = `${dir}.init-${process.pid}`;
  await rm(building, { recursive: true, force: true });
  const pglite = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const pristine = pristineDir(pglite, env);
  const schema = pristine === undefined || !migrated ? undefined : `${pristine}-schema-${await schemaKey()}`;
  try {
    if (!(await copyCached(schema, building))) {
      if (!(await copyCached(pristine, building))) {
        await promisify(execFile)(process.execPath, ['--input-type=module', '-e', CHILD, pathToFileURL(pglite).href, building], { maxBuffer: 16 << 20 });
        await keepPristine(building, pristine);
      }
      await keepSchema(building, schema, pathToFileURL(pglite).href, migrated?.pgliteOptions ?? {});
      await takeCopy(schema, building);
    }
    // An empty directory left where the ledger goes (by hand, or an older smsrun) is replaced; anything else is kept.
    await rmdir(dir).catch(() => undefined);
    await rename(building, dir);
  } catch (err) {
    await rm(building, { recursive: true, force: true });
    throw new RunFailedError(`could not create the embedded ledger in ${dir}: ${(err as Error).message.split('\n')[0]}. ` +
      'Check that the folder is writable and the disk has room, or set DATABASE_URL to use a Postgres server.', { cause: err });
  }
}

/** Where the pristine directory of this PGlite version is cached; undefined if its version cannot be read. */
function pristineDir(pgliteEntry: string, env: NodeJS.ProcessEnv): string | undefined {
  try {
    // The entry point is <package>/dist/index.*; the package's own package.json names its version.
    const pkg = JSON.parse(readFileSync(path.join(path.dirname(pgliteEntry), '..', 'package.json'), 'utf8')) as { name?: string; version?: string };
    if (pkg.name !== '@electric-sql/pglite' || !pkg.version) return undefined;
    return path.join(userCacheDir(env, process.platform), `pglite-${pkg.version}`);
  } catch {
    return undefined;
  }
}

/** Copies a cached directory (pristine or migrated) to `to`; false (and nothing left at `to`) if there is none or the copy failed. */
async function copyCached(pristine: string | undefined, to: string): Promise<boolean> {
  if (!pristine || !existsSync(path.join(pristine, 'PG_VERSION'))) return false;
  try {
    await cp(pristine, to, { recursive: true, errorOnExist: true, force: false });
    return true;
  } catch {
    await rm(to, { recursive: true, force: true });
    return false;
  }
}

/**
 * Replaces `dir` (a new directory, initdb's alone) with a copy of `cached` when there is one: the first new ledger
 * of a schema then opens the migrated copy it just kept instead of migrating a second time (about 1 s on PGlite).
 * The copy is made beside `dir` and renamed over it only once complete; if it fails, `dir` is left as it was.
 */
async function takeCopy(cached: string | undefined, dir: string): Promise<void> {
  const beside = `${dir}-cached`;
  if (!(await copyCached(cached, beside))) return;
  try {
    await rm(dir, { recursive: true, force: true });
    await rename(beside, dir);
  } finally {
    await rm(beside, { recursive: true, force: true }).catch(() => undefined); // left only if the rename failed
  }
}

/** The migrations' identity: a hash of their names and texts (a schema copy is only ever used for the same set). */
async function schemaKey(): Promise<string> {
  const hash = createHash('sha256');
  for (const m of await readMigrations()) hash.update(`${m.name}\0${m.sql}\0`);
  return hash.digest('hex').slice(0, 16);
}

/**
 * Keeps a migrated copy of a new, never opened directory as the schema copy, unless there is one: the copy is
 * migrated by a child process under a temporary name, then renamed. Best effort: the ledger is migrated on open anyway.
 */
async function keepSchema(made: string, schema: string | undefined, pgliteUrl: string, options: object): Promise<void> {
  if (!schema || existsSync(schema)) return;
  const temp = `${schema}.tmp-${process.pid}`;
  // The compiled modules in dist/ (this file's own folder once built; from the sources, as the tests run them, the
  // build beside them): a child process cannot load TypeScript.
  const module = (name: string) => new URL(`../../dist/ledger/${name}.js`, import.meta.url).href;
  try {
    await mkdir(path.dirname(schema), { recursive: true });
    await cp(made, temp, { recursive: true });
    await promisify(execFile)(process.execPath, ['--input-type=module', '-e', SCHEMA_CHILD, pgliteUrl, module('db'), module('migrate'), JSON.stringify(options), temp],
      { maxBuffer: 16 << 20 });
    await rename(temp, schema); // fails if another process kept one meanwhile: theirs is as good
  } catch {
    // no schema copy: the next new ledger copies the pristine one and migrates it
  } finally {
    await rm(temp, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Keeps a copy of a new, never opened directory as the pristine one, unless there is one; best effort. */
async function keepPristine(made: string, pristine: string | undefined): Promise<void> {
  if (!pristine || existsSync(pristine)) return;
  const temp = `${pristine}.tmp-${process.pid}`;
  try {
    await mkdir(path.dirname(pristine), { recursive: true });
    await cp(made, temp, { recursive: true });
    await rename(temp, pristine); // fails if another process kept one meanwhile: theirs is as good
  } catch {
    // no cache: the next new ledger runs initdb again
  } finally {
    await rm(temp, { recursive: true, force: true }).catch(() => undefined);
  }
}
