/**
 * Child process of bench/ingest.ts: opens the ledger (migrations included, not timed), then times the
 * exact function `smsrun run` calls first, startLoad (stream the CSV, validate and render every row, COPY
 * it chunk by chunk, dedupe, deal senders and cut batches per chunk), until its first commit and its end.
 * With --pglite-floor it then times PGlite's own COPY of the same file into a bare table.
 * Prints one JSON line: { loadMs, firstMs (first chunk committed: sending may start), cpuMs (this process's CPU
 * during the load), loadStartedAt, loadEndedAt (ms since the epoch, for the database's CPU over the load), rows, floorMs?, openRssBytes (peak RSS once the ledger is open),
 * loadRssBytes (peak RSS at the end of the load) }.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadJobFile } from '../campaign/job.js';
import { startLoad } from '../campaign/load.js';
import { wrapPglite, type Db } from '../ledger/db.js';
import { migrate } from '../ledger/migrate.js';
import { openLedger, PGLITE_OPTIONS } from '../ledger/open.js';
import { initPgliteDir } from '../ledger/pglite-init.js';

const [jobPath, mode] = process.argv.slice(2);
// INGEST_TRACE=1: each statement's wall time, summed by its first words, on stderr at the end (Postgres only).
const trace = new Map<string, number>();
if (process.env['INGEST_TRACE']) {
  const pg = (await import('pg')).default;
  const query = pg.Client.prototype.query as (...a: unknown[]) => unknown;
  pg.Client.prototype.query = function (this: unknown, ...args: unknown[]) {
    const t = performance.now();
    const result = query.apply(this, args);
    const sql = typeof args[0] === 'string' ? args[0] : undefined;
    if (sql && result instanceof Promise) {
      const key = sql.replace(/\s+/g, ' ').slice(0, 60);
      void result.finally(() => trace.set(key, (trace.get(key) ?? 0) + performance.now() - t)).catch(() => undefined);
    }
    return result;
  } as typeof pg.Client.prototype.query;
}
if (!jobPath) throw new Error('usage: ingest.child.js <job.json> [--pglite-floor]');
const job = await loadJobFile(jobPath);
let db: Db;
let pglite: import('@electric-sql/pglite').PGlite | undefined;
const url = process.env['DATABASE_URL'];
if (url) {
  db = await openLedger({ databaseUrl: url, home: path.dirname(jobPath) });
} else {
  const { PGlite } = await import('@electric-sql/pglite');
  const home = process.env['SMSRUN_HOME'] ?? path.dirname(jobPath);
  await mkdir(home, { recursive: true });
  // As `smsrun` does (ledger/pglite-init.ts): initdb in a child process, whose peak RSS goes with it.
  await initPgliteDir(path.join(home, 'ledger'));
  pglite = await PGlite.create(path.join(home, 'ledger'), PGLITE_OPTIONS);
  db = wrapPglite(pglite);
  await migrate(db);
}
// INGEST_NO_FKS=1 (an experiment, never smsrun's schema): the per-statement reference checks of recipients and
// batches (sql/023) dropped before the load, to measure what they cost.
if (process.env['INGEST_NO_FKS']) {
  await db.query(`DROP TRIGGER recipients_campaign_inserted ON recipients; DROP TRIGGER recipients_batch_inserted ON recipients;
    DROP TRIGGER batches_campaign_inserted ON batches`);
}
const peakRss = () => process.resourceUsage().maxRSS * 1024;
const openRssBytes = peakRss();
const t0 = performance.now();
const loadStartedAt = Date.now();
const cpu0 = process.cpuUsage();
// startLoad returns once the first chunk is committed: the moment `smsrun run` starts sending.
const handle = await startLoad(db, job);
const firstMs = performance.now() - t0;
await handle.done;
const loadMs = performance.now() - t0;
const loadEndedAt = Date.now();
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000;
const campaign = (await db.query<{ total_rows: number }>('SELECT total_rows FROM campaigns WHERE name = $1', [job.name]))[0]!;
const loadRssBytes = peakRss();
// PGlite's floor comes after the load, so that the load's peak RSS is its own.
let floorMs: number | undefined;
if (pglite && mode === '--pglite-floor') {
  await pglite.query('CREATE TABLE bare (phone text, first_name text, city text, code text)');
  const t1 = performance.now();
  const blob = new Blob([await readFile(job.recipientsPath)]);
  await pglite.query(`COPY bare FROM '/dev/blob' WITH (FORMAT csv, HEADER true)`, [], { blob });
  floorMs = performance.now() - t1;
}
await db.close();
for (const [sql, ms] of [...trace].sort((a, b) => b[1] - a[1]).slice(0, 12)) process.stderr.write(`${(ms / 1000).toFixed(2)} s  ${sql}\n`);
process.stdout.write(JSON.stringify({ loadMs, firstMs, cpuMs, loadStartedAt, loadEndedAt, rows: campaign.total_rows, floorMs, openRssBytes, loadRssBytes }) + '\n');
