/** `smsrun export --format html`: the campaign as one self-contained page (see html/page.ts). */
import type { Queryable } from '../ledger/db.js';
import type { CampaignRow } from '../ledger/campaigns.js';
import { gatherReport } from './html/data.js';
import { renderReport } from './html/page.js';
import { once } from 'node:events';
import { openFile, write } from './export.js';

export async function htmlReport(db: Queryable, campaign: CampaignRow, opts: { mask?: boolean | undefined; now?: Date } = {}): Promise<string> {
  return renderReport(await gatherReport(db, campaign, { mask: opts.mask === true, ...(opts.now ? { now: opts.now } : {}) }));
}

export async function writeHtmlReport(db: Queryable, campaign: CampaignRow, out: NodeJS.WritableStream, opts: { mask?: boolean | undefined } = {}): Promise<void> {
  await write(out, await htmlReport(db, campaign, opts));
}

/** Writes the page to a file (its folder made if needed). */
export async function writeHtmlReportFile(db: Queryable, campaign: CampaignRow, file: string, opts: { mask?: boolean | undefined } = {}): Promise<void> {
  const out = await openFile(file);
  try {
    await writeHtmlReport(db, campaign, out, opts);
    out.end();
    await once(out, 'finish');
  } finally {
    out.destroy();
  }
}
