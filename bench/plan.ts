/**
 * Plan: `smsrun plan --json` on a generated CSV (every number distinct and valid, personalised texts), with a
 * send window in each recipient's time zone, gsm_replace and a price, as a user runs it. Time and peak RSS
 * at two sizes: memory stays flat when the larger file takes about what the smaller one does.
 */
import { expectOk, MB, runSmsrun } from './child.js';
import { csvFile, jobFile, scratchDir, senders } from './fixtures.js';
import { figure, repeat, type BenchContext, type Benchmark, type Section } from './lib.js';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';

interface Run { rows: number; seconds: number; cpuS: number; rssMb: number; valid: number }

async function planRun(ctx: BenchContext, rows: number): Promise<Run> {
  const csv = await csvFile({ rows });
  const scratch = await scratchDir('plan');
  try {
    const job = await jobFile(scratch.dir, { name: 'plan', csv, srcs: senders(20), rate: 10, batchSize: 100, broadcast: false });
    const spec = JSON.parse(await readFile(job, 'utf8')) as Record<string, unknown>;
    await writeFile(job, JSON.stringify({
      ...spec, gsm_replace: true, price_per_unit: 0.0055,
      send_window: { start: '09:00', end: '20:00', timezone: 'recipient', days: ['mon', 'tue', 'wed', 'thu', 'fri'] },
    }));
    const r = expectOk(await runSmsrun(['plan', job, '--json'], { env: { DATABASE_URL: '' } }), 'smsrun plan');
    const plan = JSON.parse(r.stdout) as { valid: number; rows: number };
    if (plan.rows !== rows) throw new Error(`plan read ${plan.rows} rows of ${rows}`);
    const seconds = (r.endedAt - r.startedAt) / 1000;
    const rssMb = (r.last?.maxRssBytes ?? NaN) / MB;
    // CPU time too: on a shared machine the wall time is mostly waiting for a core.
    const cpuS = (r.last?.cpuUs ?? NaN) / 1e6;
    ctx.log(`  ${rows} rows: ${seconds.toFixed(1)} s (CPU ${cpuS.toFixed(1)} s), peak RSS ${rssMb.toFixed(0)} MB`);
    return { rows, seconds, cpuS, rssMb, valid: plan.valid };
  } finally {
    await scratch.remove();
  }
}

export const benchmark: Benchmark = {
  id: 'plan',
  title: 'Plan',
  order: 15,
  async run(ctx): Promise<Section> {
    const small = ctx.short ? 10_000 : 100_000;
    const large = ctx.short ? 50_000 : 1_000_000;
    // The machine may be shared: the 1-minute load average says how much of a core the plan had.
    const loadBefore = os.loadavg()[0]!;
    const a = await repeat(ctx.runs, () => planRun(ctx, small));
    const b = await repeat(ctx.runs, () => planRun(ctx, large));
    const loadAfter = os.loadavg()[0]!;
    const n = (x: number) => x.toLocaleString('en-US').replace(/,/g, ' ');
    return {
      id: 'plan',
      title: 'Plan',
      command: `npm run bench -- --only plan${ctx.short ? ' --short' : ''}`,
      what: `\`smsrun plan --json\` (the CLI, a process of its own, no ledger) on the ingest benchmark's CSV
(\`phone,first_name,city,code\`, personalised texts, 20 senders), with \`send_window\` 09:00-20:00 mon-fri in each
recipient's zone (read from the number), \`gsm_replace\` and \`price_per_unit\`: every row is read, validated,
rendered, its units and zone found, checked for duplicates and counted. Wall time from spawn to exit (Node's
start included); peak RSS is the process's \`getrusage\` maximum. ${n(small)} and ${n(large)} rows.`,
      figures: [
        figure(a, `${n(small)} rows`, 's', (r) => r.seconds, { digits: 1 }),
        figure(b, `${n(large)} rows`, 's', (r) => r.seconds, ctx.short ? { digits: 1 } : { target: { op: '<', value: 60 }, digits: 1 }),
        figure(b, `${n(large)} rows: rows per second`, 'rows/s', (r) => r.rows / r.seconds, { digits: 0 }),
        figure(b, `${n(large)} rows: CPU time`, 's', (r) => r.cpuS, { digits: 1 }),
        figure(a, `peak RSS, ${n(small)} rows`, 'MB', (r) => r.rssMb, { digits: 0 }),
        figure(b, `peak RSS, ${n(large)} rows`, 'MB', (r) => r.rssMb, { digits: 0 }),
        figure(b, `peak RSS growth from ${n(small)} to ${n(large)} rows`, 'MB', (r) => r.rssMb - (a[0]?.rssMb ?? NaN), { target: { op: '<', value: 64 }, digits: 0 }),
      ],
      notes: `Load average (1 minute, ${os.cpus().length} cores) ${loadBefore.toFixed(1)} at the start, ${loadAfter.toFixed(1)} at the end: with more
runnable processes than cores, wall time includes waiting for one, and the CPU time is the plan's own cost.

Memory per row is the duplicate set (16 bytes a number, a float64 hash table that doubles) and, for
personalised texts, the (zone, text) groups counted exactly up to 50 000 (then each new text counts as one
request): the growth from ${n(small)} to ${n(large)} rows is those two, not the rows.`,
    };
  },
};
