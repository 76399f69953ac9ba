/**
 * `smsrun plan <job>`: the whole plan of a campaign (src/plan), sending nothing and writing nothing to the
 * ledger. `--json` prints it as one document with every refused row; `--out FILE` writes the refused rows
 * as CSV (line, row, dst, reason, detail).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { stringify } from 'csv-stringify/sync';
import { loadJobFile, type Job } from '../../campaign/job.js';
import { EXIT, UsageError, type ExitCode } from '../../errors.js';
import { collectPlan, type Plan, type RefusedRow } from '../../plan/collect.js';
import { formatPlan } from '../../plan/format.js';
import { readRateCard } from '../../plan/rate-card.js';
import { parseAt } from '../../window/at.js';
import type { Io } from '../context.js';

export interface PlanArgs {
  json: boolean;
  out?: string | undefined;
  rateCard?: string | undefined;
  at?: string | undefined;
}

export async function planCommand(jobFile: string, args: PlanArgs, io: Io): Promise<ExitCode> {
  const job = await loadJobFile(jobFile);
  const sinks: Sink[] = [];
  if (args.out) sinks.push(new Sink(await openOut(args.out), (r) => stringify([[r.line, r.row, r.dst, r.reason, r.detail]])));
  if (args.out) await sinks[0]!.write(stringify([['line', 'row', 'dst', 'reason', 'detail']]));
  const json = args.json ? new Sink(io.stdout, (r, first) => `${first ? '' : ',\n'}    ${JSON.stringify(r)}`) : undefined;
  if (json) {
    sinks.push(json);
    await json.write('{\n  "refused": [\n');
  }
  const plan = await planJob(job, args, async (r) => {
    for (const s of sinks) await s.row(r);
  });
  if (json) await json.write(`\n  ],\n${JSON.stringify(plan, null, 2).slice(2)}\n`);
  else io.stdout.write(formatPlan(plan, job, { details: true }) + (args.out ? `  refused rows written to ${args.out}\n` : ''));
  for (const s of sinks) if (s.stream !== io.stdout) await s.close();
  return EXIT.ok;
}

/** The plan of a job, with the rate card and start time of the command line (also `run`'s confirmation). */
export async function planJob(job: Job, args: { rateCard?: string | undefined; at?: string | undefined }, onRefused?: (r: RefusedRow) => Promise<void> | void): Promise<Plan> {
  const rateCard = args.rateCard ? await readRateCard(args.rateCard) : undefined;
  const startAt = args.at ? parseAt(args.at) : undefined;
  return collectPlan(job, { rateCard, startAt, ...(onRefused ? { onRefused } : {}) });
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
