import { RunFailedError, UsageError } from '../errors.js';

export class LedgerTooNewError extends RunFailedError {
  constructor(dbVersion: number, codeVersion: number) {
    super(`the ledger database is at schema version ${dbVersion}, but this smsrun only knows up to ${codeVersion}: ` +
      'upgrade smsrun (npm install smsrun@latest) before using this ledger.');
  }
}

/** The embedded ledger is single-process: a second process on the same SMSRUN_HOME would corrupt it. */
export class LedgerLockedError extends RunFailedError {
  constructor(home: string, pid: number) {
    super(`the embedded ledger in ${home} is in use by another smsrun process (pid ${pid}). ` +
      'Wait for it to finish (or stop it with Ctrl-C). To send several campaigns at once, run them in one process: ' +
      '`smsrun run a.json b.json` (they share each number\'s rate and the account\'s limits); for several processes, ' +
      'use a Postgres ledger (DATABASE_URL). Another SMSRUN_HOME would have budgets of its own: campaigns there ' +
      'sending from the same numbers would not be paced together.');
  }
}

export class CampaignConflictError extends UsageError {}

/** A campaign resumed as another Plivo account, or against another endpoint, than the one it runs as. */
export class CampaignAccountError extends UsageError {
  constructor(name: string, owner: { authId: string; apiUrl: string }, asked: { authId: string; apiUrl: string }) {
    super(`campaign '${name}' belongs to Plivo account ${owner.authId} at ${owner.apiUrl}, but this run would send as ` +
      `${asked.authId} at ${asked.apiUrl}. Set PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN (and PLIVO_API_URL) to that account's ` +
      'to resume it, or give the job another name to start a new campaign on this account.');
  }
}

/** A campaign resumed by name in the other world: a sandbox campaign without --sandbox, or a real one with it. */
export class CampaignWorldError extends UsageError {
  /** `verb`: what the command does with the campaign ('resume', 'cancel', 'export', …). */
  constructor(name: string, sandbox: boolean, verb = 'resume') {
    super(sandbox
      ? `campaign '${name}' is a sandbox campaign (run with --sandbox): ${verb} it with --sandbox. A real campaign of that name ` +
        "is started by 'smsrun run <job file>' without --sandbox."
      : `campaign '${name}' is a real campaign, not a sandbox one: ${verb} it without --sandbox. A sandbox trial of its job ` +
        "is 'smsrun run <job file> --sandbox'.");
  }
}
export class UnknownCampaignError extends UsageError {
  constructor(name: string) {
    super(`no campaign named '${name}' in this ledger. Run 'smsrun status' to list campaigns, ` +
      'or check DATABASE_URL / SMSRUN_HOME point at the ledger you used.');
  }
}

/** `smsrun resolve` named a batch that is not one of the campaign's. */
export class UnknownBatchError extends UsageError {
  constructor(readonly campaign: string, readonly batchId: number) {
    super(`campaign '${campaign}' has no batch ${batchId}. Run 'smsrun status ${campaign}' to list its ambiguous batches ` +
      'with their numbers.');
  }
}

/**
 * Only an `ambiguous` batch may be resolved by hand. An `in_flight` one may belong to a live run, which will
 * record Plivo's answer itself; any other state is already settled.
 */
export class BatchNotResolvableError extends UsageError {
  constructor(readonly campaign: string, readonly batchId: number, readonly status: string) {
    super(`batch ${batchId} of campaign '${campaign}' ${notResolvableBecause(campaign, status)}`);
  }
}

function notResolvableBecause(campaign: string, status: string): string {
  switch (status) {
    case 'in_flight':
      return 'is in flight: a run may be sending it right now and will record the answer itself. ' +
        'Wait for that run to finish, or stop it (Ctrl-C) first. If no run is going (it crashed or was killed), ' +
        `'smsrun resume ${campaign}' turns the batch into an ambiguous one and looks it up in Plivo's records; ` +
        'resolve it by hand only if that lookup cannot settle it.';
    case 'pending':
      return `is pending: Plivo has not accepted it, and 'smsrun resume ${campaign}' sends it. There is nothing to resolve.`;
    case 'accepted':
      return `was accepted by Plivo (or already resolved): there is nothing to resolve. 'smsrun export ${campaign}' shows its recipients.`;
    case 'failed':
      return `failed: Plivo refused the request for good (the reason is in 'smsrun export ${campaign}'). There is nothing to resolve.`;
    default:
      return `is '${status}': only ambiguous batches can be resolved. 'smsrun status ${campaign}' lists them.`;
  }
}

/**
 * The smsrun process holding the embedded ledger is older than the suppression op of ledger/share.ts: it serves
 * reads to other processes, but cannot change the suppression list for them.
 */
export class HolderCannotWriteError extends RunFailedError {
  constructor(home: string, pid: number) {
    super(`the embedded ledger in ${home} is held by an older smsrun process (pid ${pid}) that cannot change the suppression ` +
      'list for another process. Stop that run (Ctrl-C; the same command resumes it) and run this command again, or use ' +
      'a Postgres ledger (DATABASE_URL), which several processes share.');
  }
}

/**
 * A chunk of a load that would leave recipients and batches disagreeing (a bug, not a user error): the
 * chunk's transaction is rolled back, so the ledger holds the chunks before it and nothing of this one.
 */
export class LoadIntegrityError extends RunFailedError {
  constructor(campaign: string, batched: number, held: number) {
    super(`ledger integrity: loading campaign '${campaign}' gave ${batched} recipients a batch, but the new batches hold ` +
      `${held}; nothing of this chunk was written. Please report this with the job and CSV; running again goes on from ` +
      'the last chunk written.');
  }
}
