/** `smsrun export <campaign> --format csv|jsonl [--out file]`: the delivery report, one row per CSV row. */
import { findCampaign } from '../../ledger/campaigns.js';
import { UnknownCampaignError } from '../../ledger/errors.js';
import { EXIT, type ExitCode } from '../../errors.js';
import { writeReport, writeReportFile, type ReportFormat } from '../../report/export.js';
import { openLedgerFor, type GlobalArgs, type Io } from '../context.js';

export async function exportCommand(name: string, args: GlobalArgs & { format: ReportFormat; out?: string | undefined }, io: Io): Promise<ExitCode> {
  const db = await openLedgerFor(args, io);
  try {
    const campaign = await findCampaign(db, name);
    if (!campaign) throw new UnknownCampaignError(name);
    if (args.out) {
      const rows = await writeReportFile(db, campaign.id, args.format, args.out);
      io.stderr.write(`wrote ${rows} rows to ${args.out}\n`);
    } else {
      await writeReport(db, campaign.id, args.format, io.stdout);
    }
    return EXIT.ok;
  } finally {
    await db.close();
  }
}
