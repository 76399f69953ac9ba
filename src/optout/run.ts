/**
 * What a run does about opt-outs and cancellation (called by run/run.ts):
 *   - before the load: the job's `suppress` files join the account's list (the load scrubs each chunk with it,
 *     and the run scrubs what an earlier run loaded);
 *   - while running: a watch that stops the run within a second or two of `smsrun cancel`.
 */
import { access, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Job } from '../campaign/job.js';
import type { CountryCode } from 'libphonenumber-js/max';
import type { Db } from '../ledger/db.js';
import { cancelCampaign, cancelledAt } from '../ledger/cancel.js';
import { addSuppressions } from '../ledger/suppressions.js';
import type { LedgerRetry } from '../send/ledger-retry.js';
import type { Stopper } from '../send/stopper.js';
import { readSuppressionFile } from './files.js';

export interface OptOutPrep {
  /** Numbers the job's files added to the list. */
  imported: number;
  /** Pending recipients now `suppressed`. */
  scrubbed: number;
}

/** The job's suppression files, read before anything is written (a bad file stops the run with its lines). */
export async function readJobSuppressions(job: Job) {
  const dir = path.dirname(job.jobFile);
  const lists = await Promise.all((job.suppress ?? []).map((f) => {
    const file = path.resolve(dir, f);
    return readSuppressionFile(file, {
      source: `job:${file}`, defaultReason: `listed in the job's suppress file ${f}`,
      defaultCountry: job.default_country as CountryCode | undefined, numberColumn: job.dst_column,
    });
  }));
  return lists.flat();
}

/** Adds the job's suppression files to the account's list (before the load, which scrubs each chunk with it). */
export async function importJobSuppressions(db: Db, ledger: LedgerRetry, job: Job, account: string): Promise<number> {
  const fromJob = await readJobSuppressions(job);
  return ledger.run(() => addSuppressions(db, account, fromJob));
}

/** How often a run looks for a cancel. */
export const CANCEL_WATCH_MS = 1000;

/**
 * Stops the run (reason 'cancelled') once the campaign is cancelled: in the ledger (`smsrun cancel` on
 * Postgres, or an embedded ledger no run held), or by a request file that `smsrun cancel` leaves when this
 * process holds the embedded ledger; then this process records the cancel itself. Resolves when the run
 * stops for any reason.
 */
export async function watchCancel(o: {
  db: Db; ledger: LedgerRetry; stopper: Stopper; campaignId: number; requestFile?: string | undefined; everyMs?: number;
  /** Stopped when the run is over: the watch then ends at once. */
  end: Stopper;
}): Promise<void> {
  const endWithRun = () => o.end.stop('run stopped');
  o.stopper.signal.addEventListener('abort', endWithRun, { once: true });
  try {
    await watch(o);
  } finally {
    o.stopper.signal.removeEventListener('abort', endWithRun);
  }
}

async function watch(o: Parameters<typeof watchCancel>[0]): Promise<void> {
  while (!o.end.stopped) {
    if (o.requestFile !== undefined && (await exists(o.requestFile))) {
      await o.ledger.run(() => cancelCampaign(o.db, o.campaignId, 'smsrun cancel (request file)'));
      await rm(o.requestFile, { force: true });
    }
    if ((await o.ledger.run(() => cancelledAt(o.db, o.campaignId))) !== null) {
      o.stopper.stop('cancelled');
      return;
    }
    await o.end.sleep(o.everyMs ?? CANCEL_WATCH_MS);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where `smsrun cancel` asks the run holding an embedded ledger to cancel a campaign. A sandbox campaign's
 * request has `@sandbox` after the name ('@' is never in a campaign name), so that a run of the real
 * campaign of the same name never takes it for its own.
 */
export function cancelRequestFile(home: string, campaign: string, sandbox = false): string {
  return path.join(home, 'cancel-requests', sandbox ? `${campaign}@sandbox` : campaign);
}
