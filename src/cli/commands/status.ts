/** `smsrun status [campaign] [--json]`: counts per state, cost so far, ETA, and anything ambiguous. */
import { findCampaign, listCampaigns } from '../../ledger/campaigns.js';
import { UnknownCampaignError } from '../../ledger/errors.js';
import { EXIT, type ExitCode } from '../../errors.js';
import { formatSummary, summarize } from '../../report/summary.js';
import { openLedgerFor, type GlobalArgs, type Io } from '../context.js';

export async function statusCommand(name: string | undefined, args: GlobalArgs & { json: boolean }, io: Io): Promise<ExitCode> {
  const db = await openLedgerFor(args, io);
  try {
    const campaigns = name === undefined ? await listCampaigns(db) : [await findCampaign(db, name)];
    if (name !== undefined && !campaigns[0]) throw new UnknownCampaignError(name);
    const summaries = await Promise.all(campaigns.map((c) => summarize(db, c!)));
    if (args.json) {
      io.stdout.write(JSON.stringify(name === undefined ? summaries : summaries[0], null, 2) + '\n');
    } else if (summaries.length === 0) {
      io.stdout.write('no campaigns in this ledger yet: smsrun run <job.json> starts one.\n');
    } else {
      io.stdout.write(summaries.map(formatSummary).join('\n\n') + '\n');
    }
    return EXIT.ok;
  } finally {
    await db.close();
  }
}
