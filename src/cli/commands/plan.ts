/**
 * `smsrun plan <job>`: validate the job and its CSV and estimate the campaign, sending nothing and writing
 * nothing to the ledger. The estimate assumes the senders share the recipients evenly, as `run` deals them.
 */
import { loadJobFile } from '../../campaign/job.js';
import { readRecipientChunks } from '../../campaign/load.js';
import { access, constants } from 'node:fs/promises';
import { EXIT, UsageError, type ExitCode } from '../../errors.js';
import { formatDuration } from '../../report/summary.js';
import type { Io } from '../context.js';

const SHOWN_PROBLEMS = 10;
const NON_GEOGRAPHIC = 'non-geographic';

/** Counts by key, largest first. */
class Counter {
  readonly #counts = new Map<string, number>();
  add(key: string): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }
  get(key: string): number {
    return this.#counts.get(key) ?? 0;
  }
  sorted(): Record<string, number> {
    return Object.fromEntries([...this.#counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  }
}

function formatCounts(counts: Record<string, number>): string {
  return Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ');
}

export async function planCommand(jobFile: string, args: { json: boolean }, io: Io): Promise<ExitCode> {
  const job = await loadJobFile(jobFile);
  await access(job.recipientsPath, constants.R_OK).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`${job.recipientsPath}: cannot read the recipients CSV (${err.code === 'ENOENT' ? 'no such file' : err.code}). ` +
      `Check the job's "recipients" path (${jobFile}); it is relative to the job file.`, { cause: err });
  });
  const seen = new Set<string>();
  const perText = new Map<string, number>();
  let rows = 0, valid = 0, invalid = 0, duplicate = 0, skipped = 0, units = 0;
  const problems: string[] = [];
  // Who the valid rows are, one count per number (as duplicates are sent once), skipped landlines included.
  const countries = new Counter();
  const types = new Counter();
  for await (const chunk of readRecipientChunks(job)) {
    for (const r of chunk) {
      rows++;
      if (r.status === 'invalid') {
        invalid++;
        if (problems.length < SHOWN_PROBLEMS) problems.push(`row ${r.rowNo}: ${r.reason}`);
      } else if (r.status === 'skipped') {
        skipped++;
        countries.add(r.country ?? NON_GEOGRAPHIC);
        types.add(r.numberType ?? 'unknown');
      } else if (seen.has(r.dst!)) {
        duplicate++;
      } else {
        seen.add(r.dst!);
        valid++;
        units += r.units ?? 1;
        perText.set(r.text ?? '', (perText.get(r.text ?? '') ?? 0) + 1);
        countries.add(r.country ?? NON_GEOGRAPHIC);
        types.add(r.numberType ?? 'unknown');
      }
    }
  }
  const landlines = types.get('fixed_line');
  const senders = job.senders.length;
  let batches = 0;
  for (const n of perText.values()) batches += senders * Math.ceil(Math.ceil(n / senders) / job.batch_size);
  batches = Math.min(batches, valid);
  const cost = job.rate_counts === 'units' ? units : valid;
  const seconds = cost / (senders * job.rate);
  const limitedBy = job.account_rate && job.account_rate < senders * job.rate ? Math.max(seconds, valid / job.account_rate) : seconds;
  const plan = {
    campaign: job.name, rows, valid, invalid, duplicate, skipped, units, senders, batches, estimatedSeconds: Math.ceil(limitedBy),
    countries: countries.sorted(), types: types.sorted(), landlines,
  };
  if (args.json) {
    io.stdout.write(JSON.stringify({ ...plan, problems }, null, 2) + '\n');
  } else {
    io.stdout.write([
      `plan for campaign '${job.name}' (nothing sent, nothing written):`,
      `  rows ${rows}: ${valid} to send, ${invalid} invalid, ${duplicate} duplicate` + (skipped > 0 ? `, ${skipped} skipped (landlines)` : ''),
      ...(rows > invalid ? [
        `  by country: ${formatCounts(plan.countries)}`,
        `  by number type: ${formatCounts(plan.types)}`,
      ] : []),
      ...(landlines > 0 ? [job.landlines === 'skip'
        ? `  ${landlines} landline(s) (fixed-line numbers) will be skipped, as the job's "landlines": "skip" says`
        : `  ${landlines} landline(s) (fixed-line numbers) will be sent to; most cannot receive a text: set "landlines": "skip" to skip them`] : []),
      `  ${units} units from ${senders} sender(s) at ${job.rate}/s each (${job.rate_counts}), in about ${batches} request(s)`,
      `  sending takes at least ${formatDuration(plan.estimatedSeconds)}`,
      ...(problems.length > 0 ? ['  invalid rows' + (invalid > problems.length ? ` (first ${problems.length} of ${invalid})` : '') + ':', ...problems.map((p) => `    ${p}`)] : []),
    ].join('\n') + '\n');
  }
  return EXIT.ok;
}
