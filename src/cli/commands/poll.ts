/** `smsrun poll <campaign>`: carry on tracking a campaign's messages until they are final. */
import { jobFromLedger } from '../../campaign/job.js';
import { findCampaign } from '../../ledger/campaigns.js';
import { UnknownCampaignError } from '../../ledger/errors.js';
import { EXIT, type ExitCode } from '../../errors.js';
import { trackCampaign } from '../../run/run.js';
import { formatSummary, summarize } from '../../report/summary.js';
import { Stopper } from '../../send/stopper.js';
import { connectPlivo, openLedgerFor, type Io } from '../context.js';
import { onInterrupt } from '../signals.js';
import { callbackSetup, runOptions, type RunArgs } from './run.js';

export async function pollCommand(name: string, args: RunArgs, io: Io): Promise<ExitCode> {
  const db = await openLedgerFor(args, io);
  try {
    const campaign = await findCampaign(db, name);
    if (!campaign) throw new UnknownCampaignError(name);
    const job = jobFromLedger(campaign);
    const options = runOptions(args);
    const plivo = await connectPlivo(job, args.sandbox, io, options.requestTimeoutMs);
    const stopper = new Stopper();
    const removeHandlers = onInterrupt(stopper, io);
    try {
      const callbacks = callbackSetup(args, plivo.authToken, io);
      const result = await trackCampaign({ db, client: plivo.client, options, stopper, campaign, receiptCutoffHours: job.receipt_cutoff_hours, callbacks, account: plivo.account });
      io.stdout.write(formatSummary(await summarize(db, result.campaign)) + '\n');
      if (result.openMessages > 0) io.stdout.write(`  ${result.openMessages} message(s) still not final: run 'smsrun poll ${name}' again later.\n`);
      return stopper.reason === 'interrupted' ? EXIT.interrupted : EXIT.ok;
    } finally {
      removeHandlers();
      await plivo.close();
    }
  } finally {
    await db.close();
  }
}
