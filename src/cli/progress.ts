/**
 * Live progress of a run: a one-line bar with rate and ETA on a terminal, plain periodic lines otherwise
 * (logs, CI). Fed by run events; it never queries the ledger.
 */
import type { RunEvent } from '../run/run.js';
import { formatDuration } from '../report/summary.js';
import { roleAnnouncer } from '../run/election.js';

export class Progress {
  #accepted = 0;
  #rejected = 0;
  #failed = 0;
  #final = 0;
  #ambiguous = 0;
  #total = 0;
  /** What earlier runs of the campaign sent: shown apart, as the campaign's total, never as this run's. */
  #sentBefore = 0;
  readonly #started = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #lastLine = '';
  /** Another process reconciles (and tracks): this one's ambiguous batches are settled there. */
  #standby = false;
  readonly #announceRoles = roleAnnouncer((line) => this.#line(line));

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly ratePerSecond: number,
    private readonly everyMs = out.isTTY ? 250 : 10_000,
  ) {}

  /** `toSend`: what this run has to send; `sentBefore`: what earlier runs of the campaign sent. */
  start(toSend: number, sentBefore = 0): void {
    this.#total = toSend;
    this.#sentBefore = sentBefore;
    this.#timer = setInterval(() => this.#render(), this.everyMs);
    this.#timer.unref();
  }

  /** Once a streamed load is over: the campaign's recipients to send, all runs together (`toSend` was a guess). */
  setSendable(sendable: number): void {
    this.#total = Math.max(0, sendable - this.#sentBefore);
  }

  onEvent(e: RunEvent): void {
    switch (e.kind) {
      case 'accepted': this.#accepted += e.size - e.rejected; this.#rejected += e.rejected; break;
      case 'failed': this.#failed += e.size; break;
      case 'ambiguous': this.#ambiguous += e.size; this.#line(`a request from ${e.sender} may or may not have been accepted (${e.reason}); it will be checked against Plivo's records, never simply resent`); break;
      case 'reconciling': this.#line(`looking up ${e.batches} ambiguous batch(es) from ${e.sender} (${e.size} recipients) in Plivo's records`); break;
      case 'reconciled': this.#ambiguous -= e.size; if (e.found > 0) this.#accepted += e.found; this.#line(`reconciled batch ${e.batchId}: ${e.found} of ${e.size} found at Plivo${e.verdict === 'accepted' ? '' : `; ${e.size - e.found} will be sent`}`); break;
      case 'retry': this.#line(`retrying a batch of ${e.size} from ${e.sender} in ${formatDuration(e.delayMs / 1000)}: ${e.reason}`); break;
      case 'final': this.#final += e.count; break;
      case 'ledger_lost': this.#line(`lost the ledger connection (${e.error}): nothing is claimed until it is back; reconnecting...`); break;
      case 'ledger_back': this.#line(`ledger connection back after ${formatDuration(e.afterMs / 1000)}; carrying on`); break;
      case 'roles': this.#standby = e.held.length < e.wanted.length; this.#announceRoles(e); break;
      default: break;
    }
  }

  /** Idempotent; prints the last state once, and nothing if the bar never started. */
  stop(): void {
    if (!this.#timer) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#render();
    if (this.out.isTTY) this.out.write('\n');
  }

  #line(text: string): void {
    if (this.out.isTTY) this.out.write('\r\x1b[K');
    this.out.write(`${text}\n`);
    if (this.out.isTTY && this.#lastLine) this.out.write(this.#lastLine);
  }

  #render(): void {
    const done = this.#accepted + this.#rejected + this.#failed;
    const elapsed = (Date.now() - this.#started) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const left = Math.max(0, this.#total - done);
    // The limits set the pace, not the burst at the start: estimate from the job's rates.
    const eta = left > 0 ? ` · ETA ${formatDuration(left / this.ratePerSecond)}` : '';
    const campaign = this.#sentBefore > 0
      ? ` · campaign: ${this.#sentBefore + done}/${this.#sentBefore + this.#total} sent`
      : '';
    const text = `this run: sent ${done}/${this.#total} · final ${this.#final} · ${rate.toFixed(1)} msg/s${eta}` +
      (this.#ambiguous > 0 && !this.#standby ? ` · ${this.#ambiguous} being reconciled` : '') +
      (this.#standby ? ' · standby (another process reconciles and tracks)' : '') + campaign;
    if (this.out.isTTY) {
      const width = 24;
      const filled = this.#total > 0 ? Math.round((done / this.#total) * width) : width;
      this.#lastLine = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}`;
      this.out.write(`\r\x1b[K${this.#lastLine}`);
    } else if (text !== this.#lastLine) {
      this.#lastLine = text;
      this.out.write(`${text}\n`);
    }
  }
}
