/** `smsrun run <job>` and `smsrun resume <campaign>`: send a campaign, track it, print the summary, write the report. */
import path from 'node:path';
import type { Job } from '../../campaign/job.js';
import { loadJobFile, jobFromLedger } from '../../campaign/job.js';
import { findCampaign, type CampaignRow } from '../../ledger/campaigns.js';
import type { Queryable } from '../../ledger/db.js';
import { recipientProgress } from '../../ledger/tallies.js';
import { describeConflicts, rateConflicts, runConflicts, type BudgetCaps } from '../../ledger/senders.js';
import { newPacing, type Pacing } from '../../send/dispatcher.js';
import { EXIT, UsageError, type ExitCode } from '../../errors.js';
import { DEFAULT_RUN_OPTIONS, runCampaign, type CallbackSetup, type RunOptions } from '../../run/run.js';
import { callbackUrlFor, checkCallbackUrl, parseListen, startReceiver, type ReceiverEvent } from '../../track/receiver.js';
import { writeReportFile } from '../../report/export.js';
import { writeHtmlReportFile } from '../../report/html.js';
import { formatSummary, summarize } from '../../report/summary.js';
import { Stopper } from '../../send/stopper.js';
import { connectPlivo, openLedgerFor, smsrunHome, type GlobalArgs, type Io } from '../context.js';
import { Progress } from '../progress.js';
import type { TrackBy } from '../../track/planner.js';
import { onInterrupt } from '../signals.js';
import { confirm, shouldConfirm } from '../confirm.js';
import { campaignNamed } from '../campaign-world.js';
import { planJob } from './plan.js';
import { formatPlan } from '../../plan/format.js';
import { parseAt } from '../../window/at.js';
import { cancelRequestFile } from '../../optout/run.js';
import { listOwner } from '../../optout/account.js';
import { planSuppression } from '../../optout/plan.js';

export interface RunArgs extends GlobalArgs {
  sandbox: boolean;
  trackFor: number;
  requestTimeout: number;
  settle: number;
  listPerMinute: number;
  trackBy: TrackBy;
  callbackUrl?: string | undefined;
  listen?: string | undefined;
  report?: string | undefined;
  at?: string | undefined;
  yes?: boolean;
}

/** The run's status-callback setup from --callback-url and --listen, or undefined without them. */
export function callbackSetup(args: RunArgs, authToken: string, io: Io, job?: Job): CallbackSetup | undefined {
  if (args.listen !== undefined && args.callbackUrl === undefined) {
    throw new UsageError('--listen needs --callback-url: the public https url that reaches this port (through your proxy or tunnel), which Plivo calls and signs.');
  }
  if (args.callbackUrl === undefined) return undefined;
  if (job?.url) {
    throw new UsageError(`the job's "url" already sends status callbacks to ${job.url}; remove it to let smsrun receive them with --callback-url, or drop --callback-url.`);
  }
  const publicUrl = checkCallbackUrl(args.callbackUrl);
  const listen = args.listen === undefined ? undefined : parseListen(args.listen);
  return {
    urlFor: (campaignId, batchId) => callbackUrlFor(publicUrl, campaignId, batchId),
    ...(listen ? { start: (apply, inbound) => startReceiver({ publicUrl, listen, authToken, apply, inbound, onEvent: (e) => reportRefusal(e, io) }) } : {}),
  };
}

export async function runCommand(jobFiles: readonly string[], args: RunArgs, io: Io): Promise<ExitCode> {
  const jobs = await Promise.all(jobFiles.map((f) => loadJobFile(f)));
  if (jobs.length === 1) return runJob(jobs[0]!, args, io);
  return runTogether(jobs, args, io);
}

/**
 * Several campaigns in one process (`smsrun run a.json b.json`), on one ledger: they share each number's
 * budget and the account's limits in the ledger, and one departure gate per number in the process. The only
 * way to run campaigns at once on the embedded ledger, which one process holds.
 */
async function runTogether(jobs: readonly Job[], args: RunArgs, io: Io): Promise<ExitCode> {
  const names = jobs.map((j) => j.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new UsageError(`two of the job files are campaign '${twice}': give each job its own "name", or run it once.`);
  if (shouldConfirm(io, args.yes === true)) {
    throw new UsageError('several campaigns are not confirmed one by one: check each with `smsrun plan <job>`, then run them together with --yes.');
  }
  const db = await openLedgerFor(args, io);
  try {
    // Said first: a number shared by these jobs, or with a campaign still sending, runs at the lowest rate.
    const conflicts = await runConflicts(db, jobs);
    if (conflicts.length > 0) io.stderr.write(`${describeConflicts(conflicts)}\n`);
    const senders: Record<string, number> = {};
    for (const job of jobs) for (const s of job.senders) senders[s] = Math.min(senders[s] ?? Infinity, job.rate);
    const accountRates = jobs.flatMap((j) => (j.account_rate ? [j.account_rate] : []));
    const budgetCaps: BudgetCaps = { senders, ...(accountRates.length > 0 ? { accountRate: Math.min(...accountRates) } : {}) };
    const together = { pacing: newPacing(), budgetCaps, conflictsSaid: true };
    const codes = await Promise.all(jobs.map((job) => runJob(job, args, io, db, together)));
    return codes.find((c) => c !== EXIT.ok) ?? EXIT.ok;
  } finally {
    await db.close();
  }
}

export async function resumeCommand(name: string, args: RunArgs, io: Io): Promise<ExitCode> {
  const db = await openLedgerFor(args, io);
  try {
    const campaign = await findCampaignToRun(db, name, args.sandbox);
    return await runJob(jobFromLedger(campaign), args, io, db);
  } finally {
    await db.close();
  }
}

/** The campaign `resume` and `poll` carry on: the sandbox one with --sandbox, else the real one. */
export async function findCampaignToRun(db: Queryable, name: string, sandbox: boolean): Promise<CampaignRow> {
  return campaignNamed(db, name, { sandbox, verb: 'resume' });
}

export function runOptions(args: RunArgs): RunOptions {
  return {
    ...DEFAULT_RUN_OPTIONS,
    trackForMs: args.trackFor * 1000,
    requestTimeoutMs: args.requestTimeout * 1000,
    settleMs: args.settle * 1000,
    listPerMinute: args.listPerMinute,
    trackBy: args.trackBy,
  };
}

/** Refused or failed callbacks are worth a line each (a wrong token or url shows here); accepted ones are not. */
function reportRefusal(e: ReceiverEvent, io: Io): void {
  if (e.kind === 'rejected') io.stderr.write(`status callback refused (HTTP ${e.status}): ${e.reason}\n`);
  else if (e.kind === 'failed') io.stderr.write(`status callback not recorded (HTTP 503, Plivo will retry): ${e.reason}\n`);
}

interface Together {
  pacing: Pacing;
  budgetCaps: BudgetCaps;
  /** The rate conflicts were printed for all the jobs at once. */
  conflictsSaid: boolean;
}

async function runJob(job: Job, args: RunArgs, io: Io, openDb?: Awaited<ReturnType<typeof openLedgerFor>>, together?: Together): Promise<ExitCode> {
  const options = runOptions(args);
  const startAt = args.at === undefined ? undefined : parseAt(args.at);
  const db = openDb ?? (await openLedgerFor(args, io));
  const plivo = await connectPlivo(job, args.sandbox, io, options.requestTimeoutMs, smsrunHome(args, io.env)).catch(async (err: unknown) => {
    if (!openDb) await db.close();
    throw err;
  });
  const stopper = new Stopper();
  const progress = new Progress(io.stderr, job.rate * job.senders.length);
  let removeHandlers = () => {};
  try {
    // Said first: a number shared with another campaign runs at the lower rate, whatever this job says.
    const conflicts = together?.conflictsSaid ? [] : await rateConflicts(db, job.name, job.senders, job.rate);
    if (conflicts.length > 0) io.stderr.write(`${describeConflicts(conflicts)}\n`);
    io.stderr.write(`smsrun: campaign '${job.name}' via ${plivo.description}\n`);
    if (!job.fromLedger && shouldConfirm(io, args.yes === true) && !(await findCampaign(db, job.name))) {
      const plan = await planJob(job, { at: args.at }, await planSuppression(job, { db, ledger: 'the ledger', account: listOwner(plivo.account) }));
      io.stderr.write(formatPlan(plan, job, { details: false }));
      if (!(await confirm(io, `Send campaign '${job.name}' to ${plan.valid} recipient(s)? [y/N] `))) {
        io.stderr.write('not confirmed: nothing was sent or loaded (--yes skips this question).\n');
        return EXIT.failure;
      }
    }
    removeHandlers = onInterrupt(stopper, io);
    const callbacks = callbackSetup(args, plivo.authToken, io, job);
    if (args.listen) io.stderr.write(`receiving status callbacks on ${args.listen} for ${args.callbackUrl}\n`);
    const result = await runCampaign({
      db, client: plivo.client, job, account: plivo.account, options, stopper, callbacks, startAt, pacing: together?.pacing, budgetCaps: together?.budgetCaps,
      ...(io.env['DATABASE_URL'] ? {} : { cancelRequestFile: cancelRequestFile(smsrunHome(args, io.env), job.name, args.sandbox) }),
      onEvent: (e) => {
        if (e.kind === 'suppressed') {
          if (e.imported > 0) io.stderr.write(`suppression list: ${e.imported} number(s) added from the job's suppress files\n`);
          if (e.scrubbed > 0) io.stderr.write(`suppressed: ${e.scrubbed} recipient(s) on the suppression list of ${plivo.account}; they will not be texted\n`);
        } else if (e.kind === 'loaded') {
          io.stderr.write(e.campaign.loading
            ? `loading about ${e.campaign.expected_rows ?? '?'} rows from ${e.campaign.csv_file}; sending starts with the first ${e.campaign.total_rows}\n`
            : e.fresh ? `loaded ${e.campaign.total_rows} rows from ${e.campaign.csv_file}\n` : `resuming: the campaign is already in the ledger (${e.campaign.total_rows} rows)\n`);
          if (e.campaign.state !== 'done') {
            void recipientProgress(db, e.campaign.id)
              .then(({ unsent, sendable }) => progress.start(e.campaign.loading ? Math.max(unsent, e.campaign.expected_rows ?? 0) : unsent, sendable - unsent), () => progress.start(0));
          }
        } else if (e.kind === 'load-finished') {
          io.stderr.write(`\nloaded ${e.campaign.total_rows} rows from ${e.campaign.csv_file}\n`);
          void recipientProgress(db, e.campaign.id).then(({ sendable }) => progress.setSendable(sendable), () => undefined);
        } else if (e.kind === 'waiting') {
          io.stderr.write(`waiting: nothing can be sent before ${e.until.toISOString()}${e.zone ? ` (the send window opens in ${e.zone.split(' ').join(', ')})` : ' (the scheduled start)'}; Ctrl-C stops, and running again resumes\n`);
        } else if (e.kind === 'tracking') {
          io.stderr.write(`\nall batches sent; tracking until every message is final (at most ${Math.round(options.trackForMs / 1000)}s)\n`);
        }
        progress.onEvent(e);
      },
    });
    progress.stop();
    const summary = await summarize(db, result.campaign);
    if (result.alreadyDone && result.cancelledAt !== null) {
      io.stdout.write(`campaign '${job.name}' was cancelled (${result.cancelledAt.toISOString()}): nothing is sent. ` +
        `'smsrun retry ${job.name} --only cancelled' makes a new campaign of the recipients it did not text.\n${formatSummary(summary)}\n`);
      return EXIT.cancelled;
    }
    if (result.alreadyDone) {
      io.stdout.write(`campaign '${job.name}' is already finished: nothing to send or track.\n${formatSummary(summary)}\n`);
      return EXIT.ok;
    }
    const reportFile = args.report ?? path.join(smsrunHome(args, io.env), 'reports', `${job.name}.csv`);
    await writeReportFile(db, result.campaign, 'csv', reportFile);
    const pageFile = `${reportFile.replace(/\.csv$/i, '')}.html`;
    await writeHtmlReportFile(db, result.campaign, pageFile);
    io.stdout.write(`${formatSummary(summary)}\n  report: ${reportFile}\n  page: ${pageFile}\n`);
    if (stopper.reason === 'cancelled') {
      io.stderr.write(`cancelled: the campaign was cancelled (smsrun cancel); requests in flight were recorded and nothing more is sent.\n`);
      return EXIT.cancelled;
    }
    if (stopper.reason === 'interrupted') {
      io.stderr.write(`interrupted: requests in flight were recorded. Run 'smsrun resume ${job.name}' (or the same command again) to carry on; nobody will be texted twice.\n`);
      return EXIT.interrupted;
    }
    if (result.openMessages > 0) {
      io.stdout.write(`  ${result.openMessages} message(s) not final yet: run 'smsrun poll ${job.name}' later to follow them up.\n`);
    }
    return EXIT.ok;
  } finally {
    progress.stop();
    removeHandlers();
    await plivo.close();
    if (!openDb) await db.close();
  }
}
