/** `smsrun poll <campaign>`: carry on tracking a campaign's messages until they are final. */
import { jobFromLedger } from '../../campaign/job.js';
import { EXIT, type ExitCode } from '../../errors.js';
import { trackCampaign } from '../../run/run.js';
import { roleAnnouncer } from '../../run/election.js';
import { formatSummary, summarize } from '../../report/summary.js';
import { Stopper } from '../../send/stopper.js';
import { connectPlivo, openLedgerFor, smsrunHome, type Io } from '../context.js';
import { onInterrupt } from '../signals.js';
import { callbackSetup, findCampaignToRun, runOptions, type RunArgs } from './run.js';

export async function pollCommand(name: string, args: RunArgs, io: Io): Promise<ExitCode> {
  const db = await openLedgerFor(args, io);
  try {
    const campaign = await findCampaignToRun(db, name, args.sandbox);
    const job = jobFromLedger(campaign);
    const options = runOptions(args);
    const plivo = await connectPlivo(job, args.sandbox, io, options.requestTimeoutMs, smsrunHome(args, io.env));
    const stopper = new Stopper();
    const removeHandlers = onInterrupt(stopper, io);
    try {
      const callbacks = callbackSetup(args, plivo.authToken, io);
      const announce = roleAnnouncer((line) => io.stderr.write(`${line}\n`));
      const result = await trackCampaign({ db, client: plivo.client, account: plivo.account, options, stopper, campaign, receiptCutoffHours: job.receipt_cutoff_hours, callbacks,
        onEvent: (e) => { if (e.kind === 'roles') announce(e); },
      });
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
