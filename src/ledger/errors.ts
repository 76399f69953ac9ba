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
      'Wait for it to finish (or stop it with Ctrl-C), or give this run its own SMSRUN_HOME. ' +
      'To run several processes on one campaign, use a Postgres ledger (DATABASE_URL).');
  }
}

export class CampaignConflictError extends UsageError {}
export class UnknownCampaignError extends UsageError {
  constructor(name: string) {
    super(`no campaign named '${name}' in this ledger. Run 'smsrun status' to list campaigns, ` +
      'or check DATABASE_URL / SMSRUN_HOME point at the ledger you used.');
  }
}
