/**
 * `smsrun plan <job>`: validate the job and its CSV and estimate the campaign, sending nothing and writing
 * nothing to the ledger. The estimate assumes the senders share the recipients evenly, as `run` deals them.
 */
import { loadJobFile } from '../../campaign/job.js';
import { readRecipientChunks } from '../../campaign/load.js';
import { EXIT, type ExitCode } from '../../errors.js';
import { formatDuration } from '../../report/summary.js';
import type { Io } from '../context.js';

const SHOWN_PROBLEMS = 10;

export async function planCommand(jobFile: string, args: { json: boolean }, io: Io): Promise<ExitCode> {
  const job = await loadJobFile(jobFile);
  const seen = new Set<string>();
  const perText = new Map<string, number>();
  let rows = 0, valid = 0, invalid = 0, duplicate = 0, units = 0;
  const problems: string[] = [];
  for await (const chunk of readRecipientChunks(job)) {
    for (const r of chunk) {
      rows++;
      if (r.status === 'invalid') {
        invalid++;
        if (problems.length < SHOWN_PROBLEMS) problems.push(`row ${r.rowNo}: ${r.reason}`);
      } else if (seen.has(r.dst!)) {
        duplicate++;
      } else {
        seen.add(r.dst!);
        valid++;
        units += r.units ?? 1;
        perText.set(r.text ?? '', (perText.get(r.text ?? '') ?? 0) + 1);
      }
    }
  }
  const senders = job.senders.length;
  let batches = 0;
  for (const n of perText.values()) batches += senders * Math.ceil(Math.ceil(n / senders) / job.batch_size);
  batches = Math.min(batches, valid);
  const cost = job.rate_counts === 'units' ? units : valid;
  const seconds = cost / (senders * job.rate);
  const limitedBy = job.account_rate && job.account_rate < senders * job.rate ? Math.max(seconds, valid / job.account_rate) : seconds;
  const plan = { campaign: job.name, rows, valid, invalid, duplicate, units, senders, batches, estimatedSeconds: Math.ceil(limitedBy) };
  if (args.json) {
    io.stdout.write(JSON.stringify({ ...plan, problems }, null, 2) + '\n');
  } else {
    io.stdout.write([
      `plan for campaign '${job.name}' (nothing sent, nothing written):`,
      `  rows ${rows}: ${valid} to send, ${invalid} invalid, ${duplicate} duplicate`,
      `  ${units} units from ${senders} sender(s) at ${job.rate}/s each (${job.rate_counts}), in about ${batches} request(s)`,
      `  sending takes at least ${formatDuration(plan.estimatedSeconds)}`,
      ...(problems.length > 0 ? ['  invalid rows' + (invalid > problems.length ? ` (first ${problems.length} of ${invalid})` : '') + ':', ...problems.map((p) => `    ${p}`)] : []),
    ].join('\n') + '\n');
  }
  return EXIT.ok;
}
