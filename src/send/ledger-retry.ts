/**
 * Riding out a lost ledger connection. Every ledger call of a run goes through `LedgerRetry.run`: on a
 * lost connection it waits with backoff and tries again, for up to `giveUpMs`, then stops the run with a
 * message saying nothing was lost. Sending pauses meanwhile by construction: no batch can be claimed
 * (its write-ahead row written) without the ledger, and no request leaves unclaimed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RunFailedError } from '../errors.js';
import { isConnectionLost } from '../ledger/faults.js';

export type LedgerEvent = { kind: 'ledger_lost'; error: string } | { kind: 'ledger_back'; afterMs: number };

export class LedgerRetry {
  #lostSince: number | undefined;

  constructor(
    private readonly giveUpMs: number,
    private readonly onEvent?: (e: LedgerEvent) => void,
  ) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    let delay = 250;
    for (;;) {
      try {
        const result = await fn();
        if (this.#lostSince !== undefined) {
          this.onEvent?.({ kind: 'ledger_back', afterMs: Date.now() - this.#lostSince });
          this.#lostSince = undefined;
        }
        return result;
      } catch (err) {
        if (!isConnectionLost(err)) throw err;
        if (this.#lostSince === undefined) {
          this.#lostSince = Date.now();
          this.onEvent?.({ kind: 'ledger_lost', error: (err as Error).message });
        }
        if (Date.now() - this.#lostSince >= this.giveUpMs) {
          throw new RunFailedError(`the ledger connection has been lost for ${Math.round(this.giveUpMs / 1000)}s (${(err as Error).message}). ` +
            'Nothing was lost: every request that left is recorded or will be reconciled. Run the same command again once the database is back.', { cause: err });
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }
}
