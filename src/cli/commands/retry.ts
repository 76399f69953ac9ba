/**
 * `smsrun retry <campaign> [--only failed,undelivered,…] [--name NEW]`: a new campaign of the recipients
 * with those statuses, linked to the first (ledger/retry.ts); nobody already reached is texted again.
 * It is created, not sent: `smsrun resume NEW` sends it, with the same options as any run. `--sandbox` retries
 * the sandbox campaign of that name (its retry is a sandbox campaign); without it, only a real one.
 */
import { findCampaign } from '../../ledger/campaigns.js';
import { createRetryCampaign, DEFAULT_RETRY_STATUSES, nextRetryName, RETRYABLE_STATUSES } from '../../ledger/retry.js';
import { jobFromLedger } from '../../campaign/job.js';
import { EXIT, UsageError, type ExitCode } from '../../errors.js';
import { openLedgerFor, type GlobalArgs, type Io } from '../context.js';
import { campaignNamed } from '../campaign-world.js';

export interface RetryArgs extends GlobalArgs {
  only?: string[] | undefined;
  name?: string | undefined;
  /** The sandbox campaign of that name (sql/007). */
  sandbox?: boolean | undefined;
}

const CAMPAIGN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export async function retryCommand(name: string, args: RetryArgs, io: Io): Promise<ExitCode> {
  const statuses = statusesOf(args.only);
  if (args.name !== undefined && !CAMPAIGN_NAME.test(args.name)) {
    throw new UsageError(`--name '${args.name}': use 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  }
  const db = await openLedgerFor(args, io);
  try {
    const original = await campaignNamed(db, name, { sandbox: args.sandbox === true, verb: 'retry' });
    const newName = args.name ?? (await nextRetryName(db, name));
    if (!CAMPAIGN_NAME.test(newName)) throw new UsageError(`'${newName}' is too long for a campaign name: give one with --name`);
    if (await findCampaign(db, newName, original.sandbox)) throw new UsageError(`a campaign named '${newName}' exists already: give another --name`);
    const batchSize = jobFromLedger(original).batch_size;
    const r = await createRetryCampaign(db, original, { name: newName, statuses, batchSize });
    if (!r) {
      io.stdout.write(`campaign '${name}' has no recipient to retry among ${statuses.join(', ')} ` +
        '(or each of them was reached by this campaign or one of its retries): nothing created.\n');
      return EXIT.ok;
    }
    const counts = Object.entries(r.byStatus).map(([s, n]) => `${n} ${s}`).join(', ');
    io.stdout.write(`created campaign '${newName}' from '${name}': ${counts}.\n`);
    if (r.leftOut > 0) io.stdout.write(`  ${r.leftOut} left out: their number was reached, or is being texted, by '${name}' or another of its retries.\n`);
    io.stdout.write(`  Send it: smsrun resume ${newName}${original.sandbox ? ' --sandbox' : ''}   (with any run option; opt-outs are checked again)\n`);
    return EXIT.ok;
  } finally {
    await db.close();
  }
}

function statusesOf(only: string[] | undefined): string[] {
  const list = (only ?? []).flatMap((v) => v.split(',')).map((v) => v.trim().toLowerCase()).filter(Boolean);
  if (list.length === 0) return [...DEFAULT_RETRY_STATUSES];
  const allowed = new Set<string>(RETRYABLE_STATUSES);
  for (const s of list) {
    if (allowed.has(s)) continue;
    const why = s === 'delivered' || s === 'sent' ? 'its recipients were (or may have been) reached already'
      : ['pending', 'sending', 'submitted'].includes(s) ? "they are still on their way: resume the campaign, or cancel it and retry 'cancelled'"
      : ['invalid', 'duplicate', 'skipped', 'suppressed'].includes(s) ? 'they were left out on purpose'
      : 'it is not a recipient status';
    throw new UsageError(`--only ${s}: cannot retry it (${why}). Retryable: ${RETRYABLE_STATUSES.join(', ')}`);
  }
  return [...new Set(list)];
}
