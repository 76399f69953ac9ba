/**
 * Scale: many senders in one campaign, and resuming a large campaign half sent.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Simulator } from '../sim/index.js';
import { MB, expectOk, runProbed, runSmsrun, type ChildResult } from './child.js';
import { csvFile, jobFile, plivoSim, psql, scratchDir, senders, tempDatabase } from './fixtures.js';
import { figure, repeat, type BenchContext, type Benchmark, type Section } from './lib.js';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

/**
 * Runs smsrun with `args` and SIGKILLs it `afterFirstMs` after the simulator accepted its first request.
 * Returns when it accepted that first request (ms since the epoch) and the child's result.
 */
async function untilFirstRequest(sim: Simulator, args: string[], env: NodeJS.ProcessEnv, afterFirstMs: number,
  onLine?: (line: string) => void): Promise<{ firstAt: number; child: ChildResult }> {
  let firstAt = NaN;
  let timer: NodeJS.Timeout | undefined;
  const child = await runSmsrun(args, {
    env,
    timeoutMs: 600_000,
    ...(onLine ? { onLine: (line: string) => onLine(line) } : {}),
    onSpawn: (kill) => {
      timer = setInterval(() => {
        const first = sim.acceptLog()[0];
        if (first && Number.isNaN(firstAt)) firstAt = first.at;
        if (!Number.isNaN(firstAt) && Date.now() >= firstAt + afterFirstMs) kill();
      }, 5);
    },
  });
  clearInterval(timer);
  if (child.signal === null) expectOk(child, `smsrun ${args[0]}`); // it ended by itself: it must have succeeded
  if (Number.isNaN(firstAt)) throw new Error(`smsrun ${args[0]} sent nothing:\n${child.stderr.slice(-2000)}`);
  return { firstAt, child };
}

interface SendersRun { firstRequestS: number; loadedS: number; reqPerS: number; peakRssMb: number }

/** `smsrun run` on a campaign of `srcs` senders and 2 recipients each, watched for `watchS` after its first request. */
async function manySenders(ctx: BenchContext, srcs: number, watchS: number): Promise<SendersRun> {
  const csv = await csvFile({ rows: 2 * srcs });
  const scratch = await scratchDir('senders');
  const db = await tempDatabase(ctx.postgresUrl, 'senders');
  const { sim, env } = await plivoSim(1);
  try {
    const job = await jobFile(scratch.dir, { name: `senders${srcs}`, csv, srcs: senders(srcs), rate: 1, batchSize: 100, broadcast: true });
    let loadedAt = NaN;
    const { firstAt, child } = await untilFirstRequest(sim, ['run', job, '--track-for', '0', '--home', scratch.dir],
      { ...env, DATABASE_URL: db.url }, watchS * 1000, (line) => { if (line.startsWith('loaded ')) loadedAt = Date.now(); });
    const inWatch = sim.acceptLog().filter((a) => a.at <= firstAt + watchS * 1000).length;
    const run: SendersRun = {
      loadedS: (loadedAt - child.startedAt) / 1000,
      firstRequestS: (firstAt - child.startedAt) / 1000,
      reqPerS: Math.min(inWatch, srcs) / watchS,
      peakRssMb: Math.max(...child.samples.map((s) => s.maxRssBytes)) / MB,
    };
    ctx.log(`  ${srcs} srcs: loaded ${run.loadedS.toFixed(1)} s, first request ${run.firstRequestS.toFixed(2)} s after start, ` +
      `${run.reqPerS.toFixed(1)} requests/s over the next ${watchS} s, peak RSS ${run.peakRssMb.toFixed(0)} MB`);
    return run;
  } finally {
    await sim.close();
    await db.drop();
    await scratch.remove();
  }
}

function limiterBytesPerSender(n: number): number {
  const out = execFileSync(process.execPath, ['--expose-gc', here('./limiters.child.js'), String(n)], { encoding: 'utf8' });
  return (JSON.parse(out) as { bytesPerSender: number }).bytesPerSender;
}

/** A database holding a campaign that a crash left half sent (bench/resume.child.ts), for CREATE DATABASE … TEMPLATE. */
async function halfSentTemplate(ctx: BenchContext, rows: number): Promise<{ name: string; drop(): Promise<void>; info: string }> {
  const csv = await csvFile({ rows });
  const scratch = await scratchDir('resume');
  const db = await tempDatabase(ctx.postgresUrl, 'resume_tmpl');
  try {
    const job = await jobFile(scratch.dir, { name: 'resume', csv, srcs: senders(20), rate: 25, batchSize: 100, broadcast: true });
    const t0 = Date.now();
    const r = expectOk(await runProbed(here('./resume.child.js'), [job], { env: { DATABASE_URL: db.url } }), 'building the half-sent campaign');
    const info = r.stdout.trim();
    ctx.log(`  built a half-sent campaign of ${rows} rows in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${info}`);
    psql(db.url, 'VACUUM ANALYZE'); // what autovacuum does soon after such writes; a resume usually comes later
    return { name: db.name, drop: db.drop, info };
  } catch (err) {
    await db.drop();
    throw err;
  } finally {
    await scratch.remove();
  }
}

interface ResumeRun { firstRequestS: number; peakRssMb: number }

async function resumeOnce(ctx: BenchContext, template: string): Promise<ResumeRun> {
  const db = await tempDatabase(ctx.postgresUrl, 'resume', template);
  const { sim, env } = await plivoSim(25);
  const scratch = await scratchDir('resume-run');
  try {
    const { firstAt, child } = await untilFirstRequest(sim, ['resume', 'resume', '--track-for', '0', '--home', scratch.dir],
      { ...env, DATABASE_URL: db.url }, 500);
    const run = { firstRequestS: (firstAt - child.startedAt) / 1000, peakRssMb: Math.max(...child.samples.map((s) => s.maxRssBytes)) / MB };
    ctx.log(`  resume: first new request ${run.firstRequestS.toFixed(2)} s after the process started`);
    return run;
  } finally {
    await sim.close();
    await db.drop();
    await scratch.remove();
  }
}

/**
 * \`smsrun status\` of the half-sent campaign, as a whole CLI process, on a copy of its own (made after the resumes,
 * so that their first reads are cold as before): the summary counts every batch not yet settled live, here all of
 * them (half pending, half accepted with no outcome yet).
 */
async function statusOfHalfSent(ctx: BenchContext, template: string): Promise<number[]> {
  const db = await tempDatabase(ctx.postgresUrl, 'resume_status', template);
  try {
    const times: number[] = [];
    for (let i = 0; i < ctx.runs; i++) {
      const r = expectOk(await runSmsrun(['status', 'resume'], { env: { DATABASE_URL: db.url } }), 'smsrun status');
      times.push((r.endedAt - r.startedAt) / 1000);
      ctx.log(`  status of the half-sent campaign: ${times.at(-1)!.toFixed(2)} s (whole process)`);
    }
    return times;
  } finally {
    await db.drop();
  }
}

/**
 * Half of a loaded campaign's batches made accepted, as a run leaves them while Plivo has not reported on them yet:
 * the batch \`accepted\` after one attempt, its recipients \`submitted\` with a uuid, a message each, none final.
 */
const HALF_ACCEPTED = `BEGIN;
CREATE TEMP TABLE half AS SELECT id FROM batches ORDER BY id LIMIT (SELECT count(*) / 2 FROM batches);
UPDATE batches b SET status = 'accepted', attempts = 1, accepted_at = now() FROM half h WHERE b.id = h.id;
INSERT INTO attempts (batch_id, attempt_no, owner, status, started_at, finished_at, http_status)
  SELECT id, 1, 'bench', 'accepted', now(), now(), 202 FROM half;
UPDATE recipients r SET status = 'submitted', message_uuid = gen_random_uuid()::text FROM half h WHERE r.batch_id = h.id;
INSERT INTO messages (message_uuid, campaign_id, batch_id, to_number, sent_after)
  SELECT r.message_uuid, r.campaign_id, r.batch_id, r.dst, now() FROM recipients r JOIN half h ON r.batch_id = h.id;
COMMIT;`;

/**
 * \`smsrun status\` of a personalised campaign half sent: every text differs, so a batch per recipient, the live
 * tally's largest case (a row per open batch). Loaded by the load's own child (bench/ingest.child.ts), then
 * HALF_ACCEPTED in SQL: claiming and recording half a million batches one by one would take the bench an hour.
 */
async function statusOfPersonalHalfSent(ctx: BenchContext, rows: number): Promise<number[]> {
  const csv = await csvFile({ rows });
  const scratch = await scratchDir('status-personal');
  const db = await tempDatabase(ctx.postgresUrl, 'status_personal');
  try {
    const job = await jobFile(scratch.dir, { name: 'personal', csv, srcs: senders(20), rate: 1, batchSize: 100, broadcast: false });
    expectOk(await runProbed(here('./ingest.child.js'), [job], { env: { DATABASE_URL: db.url } }), 'loading the personalised campaign');
    psql(db.url, HALF_ACCEPTED);
    psql(db.url, 'VACUUM ANALYZE');
    const times: number[] = [];
    for (let i = 0; i < ctx.runs; i++) {
      const r = expectOk(await runSmsrun(['status', 'personal'], { env: { DATABASE_URL: db.url } }), 'smsrun status');
      times.push((r.endedAt - r.startedAt) / 1000);
      ctx.log(`  status of the personalised campaign half sent: ${times.at(-1)!.toFixed(2)} s (whole process)`);
    }
    return times;
  } finally {
    await db.drop();
    await scratch.remove();
  }
}

export const benchmark: Benchmark = {
  id: 'scale',
  title: 'Scale',
  order: 40,
  async run(ctx): Promise<Section> {
    const many = ctx.short ? 2_000 : 10_000;
    const watchS = ctx.short ? 5 : 20;
    const bytes = await repeat(ctx.runs, async () => limiterBytesPerSender(many));
    const wide = await repeat(ctx.runs, () => manySenders(ctx, many, watchS));
    const narrow = await repeat(ctx.runs, () => manySenders(ctx, 10, watchS));
    const rows = ctx.short ? 20_000 : 1_000_000;
    const template = await halfSentTemplate(ctx, rows);
    let resumes: ResumeRun[];
    let statusS: number[];
    try {
      resumes = await repeat(ctx.runs, () => resumeOnce(ctx, template.name));
      statusS = await statusOfHalfSent(ctx, template.name);
    } finally {
      await template.drop();
    }
    const personalS = await statusOfPersonalHalfSent(ctx, rows);
    const n = (x: number) => x.toLocaleString('en-US').replace(/,/g, ' ');
    return {
      id: 'scale',
      title: 'Scale',
      command: `npm run bench -- --only scale${ctx.short ? ' --short' : ''}`,
      what: `**Many senders.** \`smsrun run\` (CLI, Postgres ledger) on one campaign of ${n(many)} srcs at 1 msg/s with 2
recipients each (one text: one request per sender), against the simulator with Plivo's limits, stopped (SIGKILL)
${watchS} s after its first request; the same with 10 srcs as the baseline. *Start to first request* runs from
the process's start (the load of the ${n(2 * many)} rows included) to the simulator accepting its first request.
With one request per sender, the account's request limit (smsrun keeps to 50/s of Plivo's 60/s) is the ceiling
of *requests per second*. *Limiter memory per sender* is measured apart (\`bench/limiters.child.ts\`, with
\`--expose-gc\`): the heap taken by ${n(many)} keys of the senders' \`Bottleneck.Group\`, made by the code a run uses.

**Resume.** A ${n(rows)}-row campaign (20 srcs at 25 msg/s, batches of 100) left half sent by a crash, built by
\`bench/resume.child.ts\` with smsrun's own ledger functions: \`loadCampaign\`, then \`claimBatch\` + \`recordAccepted\`
(made-up uuids) for the first half of the batches, then the leases released and the senders' last claim put an
hour back (so that the resumed buckets start full; otherwise the first request waits, by design, for the tokens
a crash a moment ago would not have earned). Each run resumes a fresh copy of it (\`CREATE DATABASE … TEMPLATE\`)
with \`smsrun resume\`, and is stopped once its first request is accepted. Setup: ${template.info}. After the
resumes, \`smsrun status resume\` runs on another copy (the whole CLI process timed, as in Export, whose campaign is
finished), once per run. **Personalised, half sent**: the Ingest section's personalised list of the same size (a
text per row, so a batch per recipient, 20 srcs) loaded by the load's child, then half of its batches made accepted in
SQL (one attempt each, recipients \`submitted\` with a uuid, a message each, none final: what a run leaves while Plivo
has not reported yet), and \`smsrun status personal\` timed as above, once per run.`,
      figures: [
        figure(bytes, `limiter memory per sender (${n(many)} senders)`, 'bytes', (b) => b, { digits: 0 }),
        figure(wide, `${n(many)} srcs: start to first request`, 's', (r) => r.firstRequestS),
        figure(narrow, '10 srcs (baseline): start to first request', 's', (r) => r.firstRequestS),
        figure(wide, `${n(many)} srcs: requests/s over ${watchS} s from the first`, '/s', (r) => r.reqPerS, { digits: 1 }),
        figure(wide, `${n(many)} srcs: peak RSS`, 'MB', (r) => r.peakRssMb, { digits: 0 }),
        figure(narrow, '10 srcs (baseline): peak RSS', 'MB', (r) => r.peakRssMb, { digits: 0 }),
        figure(resumes, `resume of ${n(rows)} rows half sent: start to first new request`, 's', (r) => r.firstRequestS, { target: { op: '<', value: 2 } }),
        figure(resumes, 'resume: peak RSS until then', 'MB', (r) => r.peakRssMb, { digits: 0 }),
        figure(statusS, `status of the ${n(rows)}-row campaign half sent (the whole CLI process)`, 's', (t) => t, { target: { op: '<=', value: 0.5 }, digits: 2 }),
        figure(personalS, `status of a personalised ${n(rows)}-row campaign half sent (a batch per recipient; the whole CLI process)`, 's', (t) => t,
          { target: { op: '<=', value: 0.5 }, digits: 2 }),
      ],
      notes: NOTES,
    };
  },
};

const NOTES = `**Many senders.** The figures in this paragraph are from this benchmark's first run (commit a3353f1) and
were not measured again since the design changed. Then, with 10 000 senders, the first request left about 0.2 s
after the load (which took most of the start-up: 20 000 rows, 10 000 sender leases taken in one statement, a
Bottleneck bucket started per sender), and memory grew by about 23 KB per sender (peak RSS about 340 MB against
111 MB for 10 senders with as many requests), most of it each sender's loop and limiter.

How it works now (src/ledger/senders.ts, src/ledger/sending.ts): a number's budget is one row of
\`sender_budgets\` (its rate and GCRA time), written for all of a campaign's senders in one statement
(\`prepareBudgets\`), and one claim statement (\`claimDue\`) takes the next batch of every sender whose time
comes within the lookahead. No loop, timer or limiter is kept per sender in the process, only its departure
gate (send/departures.ts). The account's request window is shared in the ledger as slots (\`account_slots\`:
300, each held 5.2 s from its request, for Plivo's 300 per 5 s); tracking may hold at most 150 of them, and 20
while a number of the account is sending (\`TRACKING_REQUEST_SLOTS\`). With one request per sender, 10 000
senders still need about 10 000 / (300 / 5.2 s), close to 3 minutes, for their first batches whatever the
senders' own rates, and bulk requests cannot merge messages of different senders.

**Resume** meets this benchmark's target (2 s) and misses the issue's 1 s by about 0.2 s at the median on Node 20
(0.76 s on 2026-12-02; 1.71 s on 2026-12-03 at 17:23 with the first tally triggers; 0.87-1.08 s by hand since
ledger version 27). About 0.55 s of it passes before the first statement: Node's start and smsrun's modules (yargs,
zod and libphonenumber-js for the job). A resume reads no CSV; it looks for work by index (\`batches_pending\`: a
campaign's pending batches by sender), reading a batch or two per sender, so the campaign's size hardly matters
(before 2026-12-03 night each claim read every pending batch of each sender: 5.2 s to the first request with 25 000
pending batches a sender; docs/decisions.md, "Issue 12: the claim's probe, its next-claim time and JIT"). The
setup took 67-80 s for 1 000 000 rows on 2026-12-03 (the load, then 5 000 claims and records through the ledger
functions).

**Status of a campaign half sent** (500 000 rows pending, 500 000 accepted with no outcome yet): since ledger
version 26 (docs/decisions.md, "Issue 12: status from tallies kept as the ledger is written") the summary reads the
tallies that statement triggers keep per campaign, sender and status as the ledger is written, so it reads no batch
and no recipient, whatever the campaign's size, state or batch size; a personalised campaign (a batch per
recipient) answers as fast as one of batches of 100. Before, it counted every batch not settled yet, live: 0.89 s
for batches of 100 and 9.54 s for the personalised campaign in this section's run of 14:40 UTC (5954283). What is
left of the whole process is mostly Node starting and loading smsrun's modules (about 0.2 s: \`smsrun --version\`),
the connection and the ledger's version check: about 0.35 s in this section since \`status\` stopped loading yargs (2026-12-03 night). The personalised campaign is loaded by the load's own child (bench/ingest.child.ts) and half of
its batches made accepted in one SQL statement (HALF_ACCEPTED), which the triggers count like any write.`;
