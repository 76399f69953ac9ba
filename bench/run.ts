/**
 * `npm run bench [-- --short] [--only a,b] [--runs N] [--out FILE] [--before DIR]`
 *
 * Runs every benchmark in bench/ (each file exporting `benchmark`; *.child.ts are processes they start), one after the other, prints each one's
 * table, and writes its section into BENCHMARKS.md (full mode; short mode writes only with --out).
 * Exit 1 if a benchmark crashed; a missed target is reported, not an error.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadBuild, REPO } from './child.js';
import { machineFacts, printSection, sectionMarkdown, writeSection, type BenchContext, type Benchmark } from './lib.js';

const { values } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    only: { type: 'string' },
    runs: { type: 'string' },
    out: { type: 'string' },
    // A checkout of an earlier smsrun, built (`npm ci && npm run build`), measured beside this one.
    before: { type: 'string' },
  },
});
const short = values.short ?? false;
const runs = values.runs ? Number(values.runs) : short ? 1 : 3;
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a whole number, 1 or more');
const out = values.out ?? (short ? undefined : path.join(REPO, 'BENCHMARKS.md'));
const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean);

const here = path.dirname(fileURLToPath(import.meta.url));
const benchmarks: Benchmark[] = [];
// Child scripts (*.child.js) and the probe run as processes of their own (importing them would run them),
// and this file would import itself.
const modules = (await readdir(here)).filter((n) => n.endsWith('.js') && !n.endsWith('.child.js') && !['probe.js', 'run.js'].includes(n));
for (const name of modules.sort()) {
  const mod = (await import(path.join(here, name))) as { benchmark?: Benchmark };
  if (mod.benchmark) benchmarks.push(mod.benchmark);
}
benchmarks.sort((a, b) => a.order - b.order);
const unknown = only?.filter((id) => !benchmarks.some((b) => b.id === id)) ?? [];
if (unknown.length > 0) throw new Error(`unknown benchmark(s) ${unknown.join(', ')}; there are: ${benchmarks.map((b) => b.id).join(', ')}`);
const chosen = benchmarks.filter((b) => !only || only.includes(b.id));

const postgresUrl = process.env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const beforeDir = values.before ?? process.env['SMSRUN_BEFORE_DIR'];
const before = beforeDir ? loadBuild(beforeDir) : undefined;
const ctx: BenchContext = { short, runs, postgresUrl, before, log: (m) => process.stderr.write(`${m}\n`) };
const facts = await machineFacts(postgresUrl);
ctx.log(`smsrun benchmarks (${short ? 'short' : 'full'} mode, ${runs} run(s) each): ${chosen.map((b) => b.id).join(', ')}` +
  (before ? `; beside the ${before.label} in ${beforeDir}` : ''));

let crashed = 0;
for (const b of chosen) {
  ctx.log(`\n-- ${b.title}`);
  const t0 = Date.now();
  try {
    const section = await b.run(ctx);
    process.stdout.write(printSection(section));
    if (out) await writeSection(out, b.id, b.order, sectionMarkdown(section, facts, ctx));
    ctx.log(`   (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  } catch (err) {
    crashed++;
    process.stderr.write(`benchmark ${b.id} crashed: ${(err as Error)?.stack ?? String(err)}\n`);
  }
}
process.exitCode = crashed > 0 ? 1 : 0;
