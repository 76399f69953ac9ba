/**
 * `smsrun plan <job>`: the whole plan of a campaign (src/plan), sending nothing and writing nothing to the
 * ledger. `--json` prints it as one document with every refused row; `--out FILE` writes the refused rows
 * as CSV (line, row, dst, reason, detail). Suppressed rows are counted against the job's `suppress` files
 * and, when a ledger exists, the account's list in it (PLIVO_AUTH_ID's, or the sandbox's with --sandbox),
 * read as it is: the ledger is neither created nor migrated.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { loadJobFile, type Job } from '../../campaign/job.js';
import { EXIT, UsageError, type ExitCode } from '../../errors.js';
import { collectPlan, type Plan, type RefusedRow } from '../../plan/collect.js';
import { formatPlan } from '../../plan/format.js';
import { readRateCard } from '../../plan/rate-card.js';
import { parseAt } from '../../window/at.js';
import { describePlace, ledgerPlace, redactUrl } from '../../ledger/place.js';
import { SANDBOX_ACCOUNT } from '../../optout/account.js';
import { openLedgerAsIs, planSuppression, type LedgerList, type PlanSuppression } from '../../optout/plan.js';
import type { GlobalArgs, Io } from '../context.js';

export interface PlanArgs extends GlobalArgs {
  /** The suppression list of --sandbox runs rather than PLIVO_AUTH_ID's. */
  sandbox?: boolean | undefined;
  json: boolean;
  out?: string | undefined;
  rateCard?: string | undefined;
  at?: string | undefined;
}

export async function planCommand(jobFile: string, args: PlanArgs, io: Io): Promise<ExitCode> {
  const job = await loadJobFile(jobFile);
  await access(job.recipientsPath, constants.R_OK).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`${job.recipientsPath}: cannot read the recipients CSV (${err.code === 'ENOENT' ? 'no such file' : err.code}). ` +
      `Check the job's "recipients" path (${jobFile}); it is relative to the job file.`, { cause: err });
  });
  const ledger = await ledgerList(args, io);
  try {
    // Before any output: a bad suppress file stops the plan with its lines.
    const suppression = await planSuppression(job, ledger);
    await writePlan(job, args, suppression, io);
  } finally {
    await ledger.close?.();
  }
  return EXIT.ok;
}

async function writePlan(job: Job, args: PlanArgs, suppression: PlanSuppression, io: Io): Promise<void> {
  const sinks: Sink[] = [];
  if (args.out) sinks.push(new Sink(await openOut(args.out), (r) => stringify([[r.line, r.row, r.dst, r.reason, r.detail]])));
  if (args.out) await sinks[0]!.write(stringify([['line', 'row', 'dst', 'reason', 'detail']]));
  const json = args.json ? new Sink(io.stdout, (r, first) => `${first ? '' : ',\n'}    ${JSON.stringify(r)}`) : undefined;
  if (json) {
    sinks.push(json);
    await json.write('{\n  "refused": [\n');
  }
  const plan = await planJob(job, args, suppression, async (r) => {
    for (const s of sinks) await s.row(r);
  });
  if (json) await json.write(`\n  ],\n${JSON.stringify(plan, null, 2).slice(2)}\n`);
  else io.stdout.write(formatPlan(plan, job, { details: true }) + (args.out ? `  refused rows written to ${args.out}\n` : ''));
  for (const s of sinks) if (s.stream !== io.stdout) await s.close();
}

/**
 * The ledger whose suppression list applies, opened as it is, or why not. Like every command that opens a
 * ledger, the plan names it on stderr; it says nothing there when it opens none (the plan says why).
 */
async function ledgerList(args: PlanArgs, io: Io): Promise<LedgerList & { close?: () => Promise<void> }> {
  const account = args.sandbox ? SANDBOX_ACCOUNT : io.env['PLIVO_AUTH_ID'];
  if (!account) {
    return { why: 'PLIVO_AUTH_ID is not set, and suppression lists are kept per Plivo account (set it, or pass --sandbox for the list of --sandbox runs)' };
  }
  const place = ledgerPlace(args.home, io.env);
  const opened = await openLedgerAsIs(place);
  if ('why' in opened) return opened;
  io.stderr.write(`${describePlace(place, io.env, opened.via)}\n`);
  const ledger = place.databaseUrl ? redactUrl(place.databaseUrl) : path.join(place.home, 'ledger');
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= opened.db.close());
  // An embedded ledger this process holds is released as soon as the list is read (a run may be starting).
  const holding = !place.databaseUrl && opened.via === undefined;
  return { db: opened.db, ledger, account, close, ...(holding ? { release: close } : {}) };
}

/** The plan of a job, with the rate card and start time of the command line (also `run`'s confirmation). */
export async function planJob(job: Job, args: { rateCard?: string | undefined; at?: string | undefined }, suppression: PlanSuppression,
  onRefused?: (r: RefusedRow) => Promise<void> | void): Promise<Plan> {
  const rateCard = args.rateCard ? await readRateCard(args.rateCard) : undefined;
  const startAt = args.at ? parseAt(args.at) : undefined;
  return collectPlan(job, { rateCard, startAt, suppression, ...(onRefused ? { onRefused } : {}) });
}

async function openOut(file: string): Promise<WriteStream> {
  const stream = createWriteStream(file);
  try {
    await once(stream, 'open');
  } catch (err) {
    throw new UsageError(`--out ${file}: cannot write it (${(err as NodeJS.ErrnoException).code}); check the folder exists and is writable.`, { cause: err });
  }
  return stream;
}

/** Writes refused rows to a stream, waiting when it is full, so a million refused rows keep memory flat. */
class Sink {
  #first = true;
  constructor(readonly stream: NodeJS.WritableStream, private readonly format: (r: RefusedRow, first: boolean) => string) {}

  async row(r: RefusedRow): Promise<void> {
    await this.write(this.format(r, this.#first));
    this.#first = false;
  }

  async write(text: string): Promise<void> {
    if (!this.stream.write(text)) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}
