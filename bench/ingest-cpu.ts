/**
 * Where a load's CPU goes, for comparing two versions back to back on a busy machine (not a section of
 * BENCHMARKS.md): `node dist/bench/ingest-cpu.js [rows] [runs]` loads a generated personalised CSV into a
 * new Postgres database (BENCH_DATABASE_URL's server) with bench/ingest.child.ts, and prints the load's wall
 * time, the loading process's CPU and the database backends' CPU (bench/pgcpu.ts) over the load.
 * INGEST_NATIONAL=1: the same numbers written in US national format (`(415) 200-0000`…), with `default_country`
 * US, so that each is read as a national number.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expectOk, runProbed } from './child.js';
import { csvFile, jobFile, scratchDir, senders, tempDatabase } from './fixtures.js';
import { BackendCpu } from './pgcpu.js';

const LOADER = fileURLToPath(new URL('./ingest.child.js', import.meta.url));

export async function loadCpu(adminUrl: string, rows: number): Promise<{ loadS: number; nodeCpuS: number; dbCpuS: number; firstS: number }> {
  const national = process.env['INGEST_NATIONAL'] === '1';
  const csv = await csvFile({ rows, national });
  const scratch = await scratchDir('ingest-cpu');
  const db = await tempDatabase(adminUrl, 'ingest_cpu');
  const cpu = await BackendCpu.start(adminUrl, db.name, 100);
  try {
    const job = await jobFile(scratch.dir, { name: 'ingest', csv, srcs: senders(20), rate: 1, batchSize: 100, broadcast: false,
      ...(national ? { defaultCountry: 'US' } : {}) });
    const r = expectOk(await runProbed(LOADER, [job], { env: { DATABASE_URL: db.url } }), "the ledger load");
    if (process.env["INGEST_TRACE"]) process.stderr.write(r.stderr);
    const out = JSON.parse(r.stdout) as { loadMs: number; firstMs: number; cpuMs: number; loadStartedAt: number; loadEndedAt: number };
    return { loadS: out.loadMs / 1000, firstS: out.firstMs / 1000, nodeCpuS: out.cpuMs / 1000, dbCpuS: cpu.between(out.loadStartedAt, out.loadEndedAt) };
  } finally {
    await cpu.stop();
    await db.drop();
    await scratch.remove();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = Number(process.argv[2] ?? 200_000);
  const runs = Number(process.argv[3] ?? 1);
  const url = process.env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  for (let i = 0; i < runs; i++) {
    const r = await loadCpu(url, rows);
    const { stdout } = await import('node:process');
    const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
    const list = process.env['INGEST_NATIONAL'] === '1' ? ' national (default_country US)' : '';
    stdout.write(`rows ${rows}${list}: load ${r.loadS.toFixed(1)} s, first commit ${r.firstS.toFixed(2)} s, node CPU ${r.nodeCpuS.toFixed(1)} s, ` +
      `postgres CPU ${r.dbCpuS.toFixed(1)} s (load average ${load})\n`);
  }
}
