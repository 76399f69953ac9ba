/**
 * Ingest: a recipients CSV (phone + 3 columns, a template using them) loaded into the ledger by the real
 * load function, against the floor: the same file copied into a bare 4-column table by the database's
 * own COPY (psql \copy on Postgres; COPY FROM '/dev/blob' on PGlite).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectOk, MB, runProbed, runSmsrun } from './child.js';
import { csvFile, jobFile, plivoSim, psql, scratchDir, senders, tempDatabase } from './fixtures.js';
import { figure, repeat, type BenchContext, type Benchmark, type Section } from './lib.js';

const LOADER = fileURLToPath(new URL('./ingest.child.js', import.meta.url));

interface LoaderOutput { loadMs: number; firstMs: number; rows: number; floorMs?: number; openRssBytes: number; loadRssBytes: number }

interface Run { rows: number; loadS: number; firstS: number; floorS: number; realFloorS: number; rssMb: number; openRssMb: number; requestS: number; coldRequestS?: number }

/**
 * The issue's own measure: `smsrun run <job>` spawned (the CLI as a user runs it, against the simulator),
 * until the simulator accepts its first request. Node's start, opening (on PGlite: creating, initdb in its
 * child) and migrating the ledger, and the first chunk are all inside it. The run is killed then.
 */
async function firstRequestS(csv: string, env: NodeJS.ProcessEnv): Promise<number> {
  const scratch = await scratchDir('ingest-run');
  const { sim, env: simEnv } = await plivoSim(100);
  let firstAt: number | undefined;
  try {
    const job = await jobFile(scratch.dir, { name: 'ingest-run', csv, srcs: senders(20), rate: 100, batchSize: 100, broadcast: false });
    const r = await runSmsrun(['run', job, '--home', scratch.dir, '--track-for', '0'], {
      env: { ...simEnv, ...env },
      timeoutMs: 120_000,
      onSpawn: (kill) => {
        const watch = setInterval(() => {
          const first = sim.acceptLog()[0];
          if (!first) return;
          firstAt = first.at;
          clearInterval(watch);
          kill();
        }, 5);
        watch.unref();
      },
    });
    if (firstAt === undefined) throw new Error(`smsrun run sent no request (exit ${r.code ?? r.signal}):\n${r.stderr.slice(-3000)}`);
    return (firstAt - r.startedAt) / 1000;
  } finally {
    await sim.close();
    await scratch.remove();
  }
}

async function postgresRun(ctx: BenchContext, rows: number): Promise<Run> {
  const csv = await csvFile({ rows });
  const scratch = await scratchDir('ingest');
  const db = await tempDatabase(ctx.postgresUrl, 'ingest');
  try {
    const job = await jobFile(scratch.dir, { name: 'ingest', csv, srcs: senders(20), rate: 1, batchSize: 100, broadcast: false });
    const r = expectOk(await runProbed(LOADER, [job], { env: { DATABASE_URL: db.url } }), 'the ledger load');
    const out = JSON.parse(r.stdout) as LoaderOutput;
    psql(db.url, 'CREATE TABLE bare (phone text, first_name text, city text, code text)');
    const t0 = performance.now();
    execFileSync('psql', [db.url, '-v', 'ON_ERROR_STOP=1', '-qc', `\\copy bare FROM '${csv}' WITH (FORMAT csv, HEADER true)`]);
    const floorS = (performance.now() - t0) / 1000;
    // The second floor: the load's own final rows, \copy'd into a copy of the real recipients table (its
    // indexes and constraints), as if no work but the write were left.
    const rowsFile = path.join(scratch.dir, 'recipients.copy');
    execFileSync('psql', [db.url, '-v', 'ON_ERROR_STOP=1', '-qc', `\\copy (SELECT * FROM recipients) TO '${rowsFile}'`]);
    psql(db.url, 'CREATE TABLE recipients_floor (LIKE recipients INCLUDING ALL)');
    const t1 = performance.now();
    execFileSync('psql', [db.url, '-v', 'ON_ERROR_STOP=1', '-qc', `\\copy recipients_floor FROM '${rowsFile}'`]);
    const realFloorS = (performance.now() - t1) / 1000;
    ctx.log(`  postgres ${rows} rows: first commit ${(out.firstMs / 1000).toFixed(2)} s, load ${(out.loadMs / 1000).toFixed(1)} s, ` +
      `\\copy ${floorS.toFixed(1)} s (into recipients ${realFloorS.toFixed(1)} s), peak RSS ${(out.loadRssBytes / MB).toFixed(0)} MB`);
    const runDb = await tempDatabase(ctx.postgresUrl, 'ingest_run');
    const requestS = await firstRequestS(csv, { DATABASE_URL: runDb.url }).finally(() => runDb.drop());
    ctx.log(`  postgres ${rows} rows: first request ${requestS.toFixed(2)} s after \`smsrun run\` started`);
    return { rows: out.rows, loadS: out.loadMs / 1000, firstS: out.firstMs / 1000, floorS, realFloorS, rssMb: out.loadRssBytes / MB, openRssMb: out.openRssBytes / MB, requestS };
  } finally {
    await db.drop();
    await scratch.remove();
  }
}

async function pgliteRun(ctx: BenchContext, rows: number): Promise<Run> {
  const csv = await csvFile({ rows });
  const scratch = await scratchDir('ingest-pglite');
  try {
    const job = await jobFile(scratch.dir, { name: 'ingest', csv, srcs: senders(20), rate: 1, batchSize: 100, broadcast: false });
    const r = expectOk(await runProbed(LOADER, [job, '--pglite-floor'], { env: { DATABASE_URL: '', SMSRUN_HOME: path.join(scratch.dir, 'home') } }), 'the PGlite load');
    const out = JSON.parse(r.stdout) as LoaderOutput;
    const floorMs = out.floorMs ?? NaN;
    ctx.log(`  pglite ${rows} rows: load ${(out.loadMs / 1000).toFixed(1)} s, COPY ${(floorMs / 1000).toFixed(2)} s, ` +
      `peak RSS ${(out.openRssBytes / MB).toFixed(0)} MB once open, ${(out.loadRssBytes / MB).toFixed(0)} MB after the load`);
    // A cache of its own: the first new ledger runs initdb and migrates a copy (and fills it with both), the second
    // copies the migrated directory (ledger/pglite-init.ts).
    const cache = { DATABASE_URL: '', XDG_CACHE_HOME: path.join(scratch.dir, 'cache') };
    const coldRequestS = await firstRequestS(csv, cache);
    const requestS = await firstRequestS(csv, cache);
    ctx.log(`  pglite ${rows} rows: first request ${requestS.toFixed(2)} s after \`smsrun run\` started (new ledger), ` +
      `${coldRequestS.toFixed(2)} s for the machine's first (initdb)`);
    return { rows: out.rows, loadS: out.loadMs / 1000, firstS: out.firstMs / 1000, floorS: floorMs / 1000, realFloorS: NaN, rssMb: out.loadRssBytes / MB, openRssMb: out.openRssBytes / MB, requestS, coldRequestS };
  } finally {
    await scratch.remove();
  }
}

export const benchmark: Benchmark = {
  id: 'ingest',
  title: 'Ingest',
  order: 10,
  async run(ctx): Promise<Section> {
    const pgRows = ctx.short ? 20_000 : 1_000_000;
    const liteRows = ctx.short ? 5_000 : 100_000;
    const pg = await repeat(ctx.runs, () => postgresRun(ctx, pgRows));
    const lite = await repeat(ctx.runs, () => pgliteRun(ctx, liteRows));
    const n = (x: number) => x.toLocaleString('en-US').replace(/,/g, ' ');
    return {
      id: 'ingest',
      title: 'Ingest',
      command: `npm run bench -- --only ingest${ctx.short ? ' --short' : ''}`,
      what: `A generated CSV (\`phone,first_name,city,code\`, every number distinct and valid) with the template
\`Hi {{first_name}}, your {{city}} order is ready. Code {{code}}. …\` (a text per row: personalised) is loaded by
\`startLoad\` (\`src/campaign/load.ts\`), the function \`smsrun run\` calls first, in a process of its own
(\`bench/ingest.child.ts\`): stream the file (hashing it), validate every row, render its text, count its units,
COPY each chunk (1 000, 2 000, 4 000 … 32 000 rows) into a staging table, mark duplicates, deal senders (20), cut
batches and write \`batches\` and \`recipients\` once each, one transaction per chunk. "First chunk committed"
is when \`startLoad\` returns: \`smsrun run\` starts sending then. Opening the ledger and its migrations are not
timed. Peak RSS is that process's \`getrusage\` maximum at the end of the load (and, apart, once the ledger was
open). Floors, run after the load: the same file copied by the database itself into a bare 4-column text table
(\`psql \\copy\` on Postgres, \`COPY FROM '/dev/blob'\` on PGlite), and on Postgres the load's own final rows
\`\\copy\`'d into a copy of \`recipients\` with its indexes (\`LIKE … INCLUDING ALL\`; no reference checks).
Postgres: ${n(pgRows)} rows; PGlite: ${n(liteRows)} rows. "First request" is the issue's own measure: \`smsrun run\` spawned against the simulator (Plivo's
account limits, 20 senders), from the spawn to the simulator's first accepted request, on a new ledger
(on PGlite a copy of the migrated data directory cached by the first ledger made on the machine with these
migrations; that first one's initdb child, and the child that migrates the copy it keeps, are a figure of their own); the run is killed then.`,
      figures: [
        figure(pg, `Postgres: load ${n(pgRows)} rows`, 'rows/s', (r) => r.rows / r.loadS, { digits: 0 }),
        figure(pg, 'Postgres: load time', 's', (r) => r.loadS, { digits: 1 }),
        figure(pg, 'Postgres: psql \\copy time (floor)', 's', (r) => r.floorS, { digits: 2 }),
        figure(pg, 'Postgres: psql \\copy of the final rows into recipients, time (second floor)', 's', (r) => r.realFloorS, { digits: 2 }),
        figure(pg, 'Postgres: psql \\copy (floor)', 'rows/s', (r) => r.rows / r.floorS, { digits: 0 }),
        figure(pg, 'Postgres: psql \\copy of the final rows into recipients (second floor)', 'rows/s', (r) => r.rows / r.realFloorS, { digits: 0 }),
        figure(pg, 'Postgres: first request after `smsrun run` started (CLI, simulator)', 's', (r) => r.requestS, { target: { op: '<=', value: 3 }, digits: 2 }),
        figure(pg, 'Postgres: first chunk committed (sending starts)', 's', (r) => r.firstS, { digits: 2 }),
        figure(pg, 'Postgres: load time / floor time', '×', (r) => r.loadS / r.floorS, { target: { op: '<=', value: 10 }, digits: 1 }),
        figure(pg, 'Postgres: peak RSS of the loading process', 'MB', (r) => r.rssMb, { target: { op: '<=', value: 300 }, digits: 0 }),
        figure(pg, 'Postgres: peak RSS once the ledger was open, before the load', 'MB', (r) => r.openRssMb, { digits: 0 }),
        figure(lite, `PGlite: load ${n(liteRows)} rows`, 'rows/s', (r) => r.rows / r.loadS, { digits: 0 }),
        figure(lite, 'PGlite: load time', 's', (r) => r.loadS, { digits: 1 }),
        figure(lite, 'PGlite: COPY (floor)', 'rows/s', (r) => r.rows / r.floorS, { digits: 0 }),
        figure(lite, 'PGlite: first request after `smsrun run` started (CLI, simulator, new ledger)', 's', (r) => r.requestS, { target: { op: '<=', value: 5 }, digits: 2 }),
        figure(lite, 'PGlite: the same for the first ledger made on the machine (initdb and the migrated copy, nothing cached)', 's', (r) => r.coldRequestS ?? NaN, { digits: 2 }),
        figure(lite, 'PGlite: first chunk committed (sending starts)', 's', (r) => r.firstS, { digits: 2 }),
        figure(lite, 'PGlite: load time / floor time', '×', (r) => r.loadS / r.floorS, { digits: 1 }),
        figure(lite, 'PGlite: peak RSS of the loading process (initdb in a child process, as smsrun does)', 'MB', (r) => r.rssMb, { target: { op: '<=', value: 500 }, digits: 0 }),
        figure(lite, 'PGlite: peak RSS once PGlite was created and migrated, before the load', 'MB', (r) => r.openRssMb, { digits: 0 }),
      ],
      notes: NOTES,
    };
  },
};

const NOTES = `**These notes are the afternoon run's** (commit after 9a65528); the evening's changes (no JIT per chunk, compiled
number patterns, per-statement reference checks in sql/023) and their figures are in "Ingest: load CPU, evening of
2026-12-02" below and in docs/decisions.md.

**Measured on an overloaded machine**: load average 20.2 at the start of the run and 25.5 at its end (\`uptime\`;
four other helpers were running tests and benchmarks on the 2 cores), one run. Every time in this table is
several times what the same code takes on a quiet machine: even the bare \`psql \\copy\` took 3.2 s (0.59 s in
the 08:08 run, at load 5-9) and the second floor 21.9 s (7.2 s). The memory figures and the comparisons made
back to back (below) are what this run can show; the times are not comparable with the previous run's.

**Targets.** First request: 13.1 s after \`smsrun run\` started on Postgres with 1 000 000 rows (target 3 s;
first chunk committed 3.9 s after the load started), 93.8 s on PGlite with 100 000 rows and a new ledger
(target 5 s; initdb in its child included). At the 20 000-row short run (load average 12) the Postgres figure
was 3.4 s: most of it is Node's start, opening and migrating the ledger and the first chunk, each slowed by
the queue for the 2 cores. Peak RSS: 261 MB on Postgres (≤ 300 MB), 367 MB on PGlite (≤ 500 MB, met: 510 MB
before), 252 MB of it once PGlite is open. The total load time is missed: 392 s here, 122× the bare \`\\copy\`
and 18× the second floor (the final rows \`\\copy\`'d into a copy of \`recipients\` with its indexes).

**On PGlite the first request waits for about the whole load** (93.8 s; the load alone took 63.6 s in the
child, the rest is Node, initdb in its child, opening and migrating; 84.8 s in a side run with chunks capped
at 4 000 rows on PGlite, so the chunk size is not the cause). The run's statements after the first commit
(account check, scrub, runner, budgets, claim) share PGlite's one connection with the load and are not
getting in between its chunks; not found yet why (PGlite's query and transaction locks are where to look).
The "first chunk committed" figure (8.3 s here) hides this: the issue's target is not met on PGlite.
After this run (commit after 9a65528), the load leaves PGlite to the run between chunks for half as long as
the chunk took (at most 1 s): side runs of the same measure gave 46 s (38 s with a pause as long as the
chunk), the load alone 56.9 s (no slower within noise). The rest is start-up on the loaded machine and not
yet broken down.

**At a quiet moment** (load average 4, 14:24 UTC, side runs of the same measure, one each): first request on
Postgres with 1 000 000 rows 2.3 s (target 3 s: met); on PGlite with a new ledger 12.6 s at 100 000 rows and
12.1 s at 200 000 (the version before this session: 11.9 s and 11.1 s), so at that load the first request does
not wait for the list; of those 12 s, creating the ledger is 9.3 s (PGlite's initdb in its child 6.7 s, then
opening and migrating 2.6 s). PGlite's 5 s target cannot be met on a new ledger while initdb alone takes 6.7 s
here.

**PGlite's memory** went down by opening it with \`shared_buffers\` 32 MB instead of PGlite's 128 MB
(\`PGLITE_OPTIONS\`, ledger/open.ts): WebAssembly memory, once touched, is never given back, so every buffer page
the load touched stayed in the process. Back to back at 20 000 rows: 424 MB before, 323 MB after, load time
the same within noise.

**Where the load's time goes** (Postgres, 200 000 rows, each statement of \`writeChunk\` timed, with the
backend's own CPU time read from \`/proc\` because wall times moved by half between identical runs at load
10-17): per 200 000 rows, \`INSERT INTO recipients\` 4.5 s of CPU (three indexes, fillfactor 80, two
foreign-key checks per row), the one statement that settles and cuts a chunk (\`load_rows\`: duplicates,
suppressed, senders dealt, batches cut) 2.5 s, \`INSERT INTO batches\` 2.1 s (a personalised text is one
batch per recipient), numbering the batches 0.6 s, COPY into the staging table 0.35 s, the rest under 0.3 s:
10.4-11.0 s in all, against 10.8 s before \`load_rows\` replaced the staging table's UPDATE passes and its
ANALYZE (the same sorts are done once instead of in four statements: simpler, not measurably faster). The
JavaScript side (read, validate, render, write COPY text) is 7 s of CPU per 200 000 rows, 4 s of it
libphonenumber-js compiling a \`RegExp\` on every pattern match; it overlaps the database's work (the next
chunk is read while one is written). On 2 cores both sides together are about 85 s of CPU per million rows,
so the 10× target (about 6 s) is out of reach without removing work.

**What would close more of the gap**, not done (docs/decisions.md): the recipients foreign keys are about
15 % of the database's CPU (9.3 s instead of 11.0 s without them); replacing them by a set-level check needs
care on the send path's updates. One batch row per personalised recipient is 20 %; a batch is the unit of
claim and attempt, so it stays. Larger chunks would change the hash chain a resumed load checks.

**Before this version** (the single-transaction load, commit eefbaed, 2026-11-25): 88 s to the first request
at 1 000 000 rows (the whole list first), 137 MB RSS on Postgres, 832 MB on PGlite (initdb in process).`;
