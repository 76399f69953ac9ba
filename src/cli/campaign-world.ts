/**
 * Which campaign a command means by a name: a real and a sandbox campaign may share one (sql/007).
 * Commands that change a campaign (resume, poll, cancel, retry) take the real one, or the sandbox one with
 * --sandbox, and refuse the other kind naming the flag to use: acting on the wrong one could stop, or text,
 * real people. Commands that only read (status, export) take the real one when both exist, else whichever
 * exists; with --sandbox, the sandbox one.
 */
import { findCampaign, type CampaignRow } from '../ledger/campaigns.js';
import type { Queryable } from '../ledger/db.js';
import { CampaignWorldError, UnknownCampaignError } from '../ledger/errors.js';

export interface CampaignChoice {
  sandbox: boolean;
  /** What the command does with it, for the message when it names the other kind: 'resume', 'cancel', … */
  verb: string;
  /** Only reading: without --sandbox, the sandbox campaign is taken when no real one has the name. */
  read?: boolean;
}

export async function campaignNamed(db: Queryable, name: string, o: CampaignChoice): Promise<CampaignRow> {
  const campaign = o.read && !o.sandbox ? await findCampaign(db, name) : await findCampaign(db, name, o.sandbox);
  if (campaign) return campaign;
  if (await findCampaign(db, name, !o.sandbox)) throw new CampaignWorldError(name, !o.sandbox, o.verb);
  throw new UnknownCampaignError(name);
}
