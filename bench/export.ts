/**
 * Export: `smsrun export` of a finished campaign of 1 000 000 rows (20 000 in short mode), as CSV (with the
 * user's 4 columns and the rendered text) and as the HTML report, through the real CLI on Postgres. The
 * ledger is seeded in SQL (generate_series): what the benchmark measures is the export, not a load.
 * Flat memory is shown by the export's peak RSS against the same export of a campaign 100 times smaller.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { openLedger } from '../ledger/open.js';
import { expectOk, MB, runSmsrun } from './child.js';
import { scratchDir, senders, tempDatabase } from './fixtures.js';
import { figure, repeat, type BenchContext, type Benchmark, type Section } from './lib.js';

const SENDERS = senders(20);

interface Run { rows: number; statusS: number; csvS: number; csvRssMb: number; csvMb: number; htmlS: number; htmlRssMb: number; htmlKb: number }

/** The V8 heap limit of the capped run: an export that held rows as it went would die of it long before the end. */
const HEAP_CAP_MB = 48;

/**
 * A done campaign of `rows` rows, as a load and a run would leave it: 2 % invalid, 5 % undelivered (error
 * 80), the rest delivered; batches of 100; every row with its 4 CSV fields and its text.
 */
export async function seed(url: string, rows: number): Promise<void> {
  const db = await openLedger({ databaseUrl: url, home: '/nonexistent' });
  try {
    await db.transaction(async (tx) => {
      const [c] = await tx.query<{ id: number }>(
        `INSERT INTO campaigns (name, job, job_file, csv_file, csv_sha256, content_hash, senders, state, total_rows, csv_columns, created_at, sent_at, finished_at)
         VALUES ('export', $1, 'job.json', 'recipients.csv', '-', '-', $2, 'done', $3, ARRAY['phone', 'first_name', 'city', 'code'],
                 now() - interval '2 hours', now() - interval '1 hour', now()) RETURNING id`,
        [JSON.stringify({ name: 'export', rate: 25, rate_counts: 'messages', dst_column: 'phone', batch_size: 100 }), SENDERS, rows]);
      const id = c!.id;
      await tx.query(
        `INSERT INTO batches (campaign_id, sender, text, units, size, status, attempts, accepted_at)
         SELECT $1, ($2::text[])[(g % 20) + 1], NULL, 1, 100, 'accepted', 1, now() - interval '2 hours' + g * interval '200 ms'
         FROM generate_series(0, ($3::int - 1) / 100) g ORDER BY g`, [id, SENDERS, rows]);
      const [{ first } = { first: 0 }] = await tx.query<{ first: number }>('SELECT min(id) AS first FROM batches WHERE campaign_id = $1', [id]);
      await tx.query(
        `INSERT INTO recipients (campaign_id, row_no, line_no, raw_dst, dst, sender, text, units, status, reason, batch_id, message_uuid, fields)
         SELECT $1, g, g + 1, '+1415' || lpad(g::text, 7, '0'), CASE WHEN g % 50 = 0 THEN NULL ELSE '1415' || lpad(g::text, 7, '0') END,
                CASE WHEN g % 50 = 0 THEN NULL ELSE ($2::text[])[((g - 1) / 100 % 20) + 1] END,
                'Hi Ana, your Austin order is ready. Code ' || (g::bigint * 7919 % 1000000) || '. Reply STOP to opt out.', 1,
                CASE WHEN g % 50 = 0 THEN 'invalid' WHEN g % 20 = 0 THEN 'undelivered' ELSE 'delivered' END,
                CASE WHEN g % 50 = 0 THEN 'line ' || (g + 1) || ': column ''phone'': a made-up problem' END,
                CASE WHEN g % 50 = 0 THEN NULL ELSE $3 + (g - 1) / 100 END,
                CASE WHEN g % 50 = 0 THEN NULL ELSE md5(g::text)::uuid::text END,
                ARRAY['+1415' || lpad(g::text, 7, '0'), 'Ana', 'Austin', (g::bigint * 7919 % 1000000)::text]
         FROM generate_series(1, $4::int) g`,
        [id, SENDERS, first, rows]);
      await tx.query(
        `INSERT INTO messages (message_uuid, campaign_id, batch_id, to_number, state, error_code, units, total_rate, total_amount,
                               message_time, submitted_at, sent_after, final_at, final_via, provider_updated_at)
         SELECT r.message_uuid, $1, r.batch_id, r.dst, r.status, CASE r.status WHEN 'delivered' THEN '000' ELSE '80' END, 1, 0.005, 0.005,
                b.accepted_at, b.accepted_at, b.accepted_at - interval '50 ms', b.accepted_at + interval '5 s', 'list',
                b.accepted_at + (2 + r.row_no % 9) * interval '1 s'
         FROM recipients r JOIN batches b ON b.id = r.batch_id WHERE r.campaign_id = $1 AND r.message_uuid IS NOT NULL`,
        [id]);
      await tx.query('ANALYZE');
    });
  } finally {
    await db.close();
  }
}

async function exportOnce(ctx: BenchContext, url: string, rows: number, dir: string): Promise<Run> {
  const env = { DATABASE_URL: url };
  const csv = path.join(dir, 'export.csv');
  const html = path.join(dir, 'export.html');
  const peak = (r: { samples: { maxRssBytes: number }[] }) => Math.max(...r.samples.map((s) => s.maxRssBytes)) / MB;
  const s = expectOk(await runSmsrun(['status', 'export'], { env }), 'status');
  const a = expectOk(await runSmsrun(['export', 'export', '--text', '--out', csv], { env }), 'the CSV export');
  const b = expectOk(await runSmsrun(['export', 'export', '--out', html], { env }), 'the HTML report');
  const run: Run = {
    rows,
    statusS: (s.endedAt - s.startedAt) / 1000,
    csvS: (a.endedAt - a.startedAt) / 1000,
    csvRssMb: peak(a),
    csvMb: (await stat(csv)).size / MB,
    htmlS: (b.endedAt - b.startedAt) / 1000,
    htmlRssMb: peak(b),
    htmlKb: (await stat(html)).size / 1024,
  };
  ctx.log(`  ${rows} rows: status ${run.statusS.toFixed(2)} s; csv ${run.csvS.toFixed(1)} s, peak RSS ${run.csvRssMb.toFixed(0)} MB, ${run.csvMb.toFixed(0)} MB; ` +
    `html ${run.htmlS.toFixed(1)} s, peak RSS ${run.htmlRssMb.toFixed(0)} MB, ${run.htmlKb.toFixed(0)} KB`);
  return run;
}

/** The same CSV export with the V8 heap capped at HEAP_CAP_MB: it finishes only if memory does not grow with rows. */
async function cappedOnce(ctx: BenchContext, url: string, rows: number, dir: string): Promise<{ rows: number; s: number; rssMb: number }> {
  const csv = path.join(dir, 'capped.csv');
  const r = expectOk(await runSmsrun(['export', 'export', '--text', '--out', csv], { env: { DATABASE_URL: url, NODE_OPTIONS: `--max-old-space-size=${HEAP_CAP_MB}` } }),
    `the CSV export with a ${HEAP_CAP_MB} MB heap`);
  const out = { rows, s: (r.endedAt - r.startedAt) / 1000, rssMb: Math.max(...r.samples.map((x) => x.maxRssBytes)) / MB };
  ctx.log(`  ${rows} rows, heap capped at ${HEAP_CAP_MB} MB: csv ${out.s.toFixed(1)} s, peak RSS ${out.rssMb.toFixed(0)} MB`);
  return out;
}

async function measure(ctx: BenchContext, rows: number, runs: number): Promise<{ runs: Run[]; capped: { rows: number; s: number; rssMb: number } }> {
  const db = await tempDatabase(ctx.postgresUrl, 'export');
  const scratch = await scratchDir('export');
  try {
    const t0 = performance.now();
    await seed(db.url, rows);
    ctx.log(`  seeded ${rows} rows in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const measured = await repeat(runs, () => exportOnce(ctx, db.url, rows, scratch.dir));
    return { runs: measured, capped: await cappedOnce(ctx, db.url, rows, scratch.dir) };
  } finally {
    await scratch.remove();
    await db.drop();
  }
}

export const benchmark: Benchmark = {
  id: 'export',
  title: 'Export',
  order: 70,
  async run(ctx): Promise<Section> {
    const rows = ctx.short ? 20_000 : 1_000_000;
    const small = rows / 100;
    const base = (await measure(ctx, small, 1)).runs[0]!;
    const { runs: big, capped } = await measure(ctx, rows, ctx.runs);
    const n = (x: number) => x.toLocaleString('en-US').replace(/,/g, ' ');
    return {
      id: 'export',
      title: 'Export',
      command: `npm run bench -- --only export${ctx.short ? ' --short' : ''}`,
      what: `A finished campaign of ${n(rows)} rows (20 senders, batches of 100, 2 % invalid, 5 % undelivered, every row
with its 4 CSV columns and its text) is seeded into a new Postgres database in SQL, then exported by the real CLI:
\`smsrun export export --text --out export.csv\` (every column, the user's and the text included) and
\`smsrun export export --out export.html\` (the report page: aggregates and the first 100 rows of each status that
needs attention), after \`smsrun status export\` (timed as a whole process: start, ledger open, the summary's
queries). Peak RSS is the CLI process's \`getrusage\` maximum; "flat memory" compares it with the same
export of a ${n(small)}-row campaign, and runs the CSV export once more with Node's heap capped at ${HEAP_CAP_MB} MB
(\`NODE_OPTIONS=--max-old-space-size=${HEAP_CAP_MB}\`): it can finish only if what it holds does not grow with the
rows.`,
      figures: [
        figure(big, `status of the ${n(rows)}-row campaign (the whole CLI process)`, 's', (r) => r.statusS, { target: { op: '<=', value: 0.5 }, digits: 2 }),
        figure(big, `CSV export of ${n(rows)} rows`, 'rows/s', (r) => r.rows / r.csvS, { digits: 0 }),
        figure(big, 'CSV export: time', 's', (r) => r.csvS, { target: { op: '<=', value: 10 }, digits: 1 }),
        figure(big, 'CSV export: peak RSS', 'MB', (r) => r.csvRssMb, { target: { op: '<', value: 200 }, digits: 0 }),
        figure(big, `CSV export: peak RSS / the ${n(small)}-row export's`, '×', (r) => r.csvRssMb / base.csvRssMb, { digits: 2 }),
        figure([capped], `CSV export with the V8 heap capped at ${HEAP_CAP_MB} MB: rows written`, 'rows', (r) => r.rows, { target: { op: '=', value: rows }, digits: 0 }),
        figure([capped], `CSV export with the V8 heap capped at ${HEAP_CAP_MB} MB: peak RSS`, 'MB', (r) => r.rssMb, { digits: 0 }),
        figure(big, 'CSV file size', 'MB', (r) => r.csvMb, { digits: 0 }),
        figure(big, 'HTML report: time', 's', (r) => r.htmlS, { digits: 1 }),
        figure(big, 'HTML report: peak RSS', 'MB', (r) => r.htmlRssMb, { target: { op: '<', value: 200 }, digits: 0 }),
        figure(big, 'HTML report: size', 'KB', (r) => r.htmlKb, { target: { op: '<', value: 500 }, digits: 0 }),
      ],
      notes: NOTES,
    };
  },
};

const NOTES = `On Postgres the CSV export is \`COPY (SELECT …) TO STDOUT WITH (FORMAT csv)\` (src/ledger/reports.ts
\`copyReport\`): every cell is computed in SQL, one COPY per range of 5 000 row numbers (each range's messages and
batches read through its batch ids), the ranges taken in turn by two transactions on one snapshot, so that one
backend computes the next range while node pipes this one into the file, waiting for it to drain: its memory does
not grow with the campaign. \`status\` reads the tallies the ledger keeps as it is written (sql/026: a few rows per
sender and status; the seed's own inserts are counted by the triggers like any write), so its whole-process time
is mostly Node starting and loading smsrun's modules (pg and the ledger's; not yargs, which a plain \`status\` skips), on a machine shared with other processes. The peak RSS of an uncapped
export still rises somewhat with the campaign's size: V8 lets its heap grow while garbage is cheap to keep; the
capped run shows that what is live stays small. The HTML report reads aggregates (grouped in SQL; the per-sender
figures from the tallies) and at most 100 rows per status that needs attention, so its size depends on the number
of senders and statuses, not of rows.`;
