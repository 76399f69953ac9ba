/**
 * Whose suppression list applies: the Plivo account that sends (its auth id, `MA…` or `SA…`), or
 * 'sandbox' for --sandbox runs (the built-in simulator), which must never share a list with a real account.
 */
import { UsageError } from '../errors.js';
import type { CampaignAccount } from '../ledger/campaigns.js';

export const SANDBOX_ACCOUNT = 'sandbox';

export function suppressionAccount(sandbox: boolean, env: NodeJS.ProcessEnv): string {
  if (sandbox) return SANDBOX_ACCOUNT;
  const authId = env['PLIVO_AUTH_ID'];
  if (!authId) {
    throw new UsageError('suppression lists are kept per Plivo account: set PLIVO_AUTH_ID (the Plivo console\'s overview page shows it), ' +
      'or pass --sandbox for the list of --sandbox runs.');
  }
  return authId;
}

/** The suppression list of the account a run sends as (the campaign's account, sql/007). */
export function listOwner(account: CampaignAccount): string {
  return account.sandbox ? SANDBOX_ACCOUNT : account.authId;
}
