/**
 * Sends a campaign's batches. The ledger decides when: one claim statement (ledger/sending.ts `claimDue`)
 * takes the next batch of every sender whose time comes within the lookahead, advancing the senders' GCRA
 * times and taking the account's request slots on the database clock, and commits each batch's attempt
 * before its request leaves. This loop only asks at the right moments (it sleeps until the time the claim
 * said the next sender is due, less the lookahead), and holds each claimed request until its slot
 * (send/departures.ts), so requests leave spaced as the ledger decided, whatever the claim's round trip.
 *
 * Any process may claim any sender's next batch, so processes sharing a campaign (or campaigns sharing
 * numbers) divide the work and share every budget. A sender stays with the process that claimed it while that
 * process keeps it on time; another takes it once it is overdue by the hand-over margin (ledger/sending.ts
 * HANDOVER_MS), so one process's departure gate sees a number's consecutive requests. A process that dies
 * leaves its senders to be taken after that margin, and its in-flight batches, which the Reconciler adopts once
 * its liveness lock is gone.
 *
 * Retries go back through the same claim: a failed batch returns to `pending` with a backoff. Ambiguous
 * batches wait for the Reconciler.
 */
import type { Db } from '../ledger/db.js';
import { isConnectionLost } from '../ledger/faults.js';
import {
  claimDue, recordAccepted, recordAmbiguous, recordPermanent, recordRetryable, settleUnconfirmedClaims,
  type Claim, type ClaimedBatch, type Claimed,
} from '../ledger/sending.js';
import { campaignsHaveUnsettledBatches, holdAllSlots } from '../ledger/senders.js';
import type { PlivoClient, SendOutcome, SendRequest } from '../plivo/client.js';
import { RunFailedError } from '../errors.js';
import type { Job } from '../campaign/job.js';
import { backoffMs } from './backoff.js';
import type { LedgerRetry } from './ledger-retry.js';
import type { Stopper } from './stopper.js';
import { DbClock, Departures, type Left } from './departures.js';
import { cutExpiry } from '../window/keeper.js';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

export interface DispatchOptions {
  /** Lease on a claimed batch: longer than the request timeout plus the time to record its answer. */
  leaseMs: number;
  /** Attempts of one batch before the run stops (its recipients stay pending for a later resume). */
  maxAttempts: number;
  retryBaseMs: number;
  /** Requests of this process in flight at once (Plivo allows 100 concurrent requests per account). @default 100 */
  maxInFlight?: number;
  /** The client's request timeout, stored with each attempt (its reconciliation window depends on it). */
  requestTimeoutMs?: number;
}

export type SendEvent =
  | { kind: 'accepted'; sender: string; size: number; rejected: number }
  | { kind: 'retry'; sender: string; size: number; reason: string; delayMs: number }
  | { kind: 'failed'; sender: string; size: number; reason: string }
  | { kind: 'ambiguous'; sender: string; size: number; reason: string };

export interface DispatchDeps {
  db: Db;
  client: Pick<PlivoClient, 'send'>;
  job: Job;
  campaignId: number;
  /** Whose budgets to claim from (the Plivo auth id): every campaign of one account shares them. */
  account: string;
  owner: string;
  options: DispatchOptions;
  stopper: Stopper;
  ledger: LedgerRetry;
  onEvent?: (e: SendEvent) => void;
  /** With smsrun's own callback receiver: the status-callback url of a batch (it names the batch). */
  callbackUrl?: (batchId: number) => string;
  /** Shared by the campaigns one process runs, so their requests from one number are gated together. */
  pacing?: Pacing;
  /** True while this process is still loading the campaign's CSV: more batches are coming. */
  loading?: () => boolean;
}

/**
 * The process's mapping of the database clock and its per-sender departure gate (send/departures.ts), and the
 * id its claims name as the senders' pacer (sql/024): the senders it claims stay with this gate.
 */
export interface Pacing {
  id: string;
  clock: DbClock;
  departures: Departures;
}

export function newPacing(): Pacing {
  return { id: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`, clock: new DbClock(), departures: new Departures() };
}

/**
 * Senders due within this many ms are claimed now and their requests wait in the process until their slot:
 * longer than a claim's round trip and a busy event loop's lateness, short enough that a batch rarely waits
 * in a process that might die (it would be reconciled, not lost).
 */
export const LOOKAHEAD_MS = 250;

/**
 * The loop wakes this long before the next sender is due. Less than the lookahead, so that each claim takes
 * every sender due in the next LOOKAHEAD_MS − CLAIM_EARLY_MS too: a few claims a second, not one per request.
 */
const CLAIM_EARLY_MS = 100;

/** The longest the loop sleeps without asking the ledger: other processes and the Reconciler change what is ready. */
const MAX_SLEEP_MS = 1000;

export class Dispatcher {
  readonly #inFlight = new Set<Promise<void>>();
  /** Batches whose request this process is sending (the others it holds in flight are unconfirmed claims). */
  readonly #sending = new Set<number>();
  /** A claim's commit could not be confirmed (the connection dropped during it). */
  #unconfirmed = false;
  #wake: (() => void) | undefined;
  /** The loop sleeps because every in-flight place is taken: a request finishing wakes it. */
  #wantRoom = false;
  #running = false;
  readonly #pacing: Pacing;

  constructor(private readonly deps: DispatchDeps) {
    this.#pacing = deps.pacing ?? newPacing();
  }

  /** True while the campaign may still have batches to send or to settle. */
  get active(): boolean {
    return this.#running;
  }

  async run(): Promise<void> {
    this.#running = true;
    try {
      await this.#loop();
    } finally {
      await Promise.allSettled([...this.#inFlight]);
      this.#running = false;
    }
  }

  async #loop(): Promise<void> {
    const { db, campaignId, owner, stopper, ledger } = this.deps;
    const maxInFlight = this.deps.options.maxInFlight ?? 100;
    while (!stopper.stopped) {
      if (this.#unconfirmed) {
        await ledger.run(() => settleUnconfirmedClaims(db, owner, [campaignId], [...this.#sending]));
        this.#unconfirmed = false;
      }
      const room = maxInFlight - this.#inFlight.size;
      if (room <= 0) {
        this.#wantRoom = true;
        await this.#sleep(MAX_SLEEP_MS);
        this.#wantRoom = false;
        continue;
      }
      const claim = await this.#claim(room);
      if (!claim) continue;
      for (const batch of claim.batches) this.#start(batch);
      if (claim.nextInMs === null && claim.batches.length === 0) {
        // Nothing pending: done once nothing is in flight or ambiguous, ours or anyone's, and the load (if this
        // process is still loading the CSV) has cut its last batches.
        if (this.#inFlight.size === 0 && !this.deps.loading?.() && !(await ledger.run(() => campaignsHaveUnsettledBatches(db, [campaignId])))) return;
        await this.#sleep(MAX_SLEEP_MS);
        continue;
      }
      // More senders may be due than one claim took (room): ask again at once; otherwise when the ledger said.
      if (claim.batches.length >= room && claim.batches.length > 0) continue;
      // A due sender another process holds right now, or no free request slot: a few ms, not a spin.
      await this.#sleep(Math.max(5, Math.min(MAX_SLEEP_MS, (claim.nextInMs ?? MAX_SLEEP_MS) - CLAIM_EARLY_MS)));
    }
  }

  /** Sleeps `ms`, cut short by a stop, or by a request finishing when the loop waits for room. */
  async #sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.deps.stopper.stopped) return;
    const { signal } = this.deps.stopper;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }

  /** Claims what is due; undefined if the claim's commit could not be confirmed (settled on the next turn). */
  async #claim(max: number): Promise<Claim | undefined> {
    const { db, campaignId, account, owner, options } = this.deps;
    try {
      const sentAt = Date.now();
      const claim = await claimDue(db, {
        account, campaignId, owner, leaseMs: options.leaseMs, max, lookaheadMs: LOOKAHEAD_MS, requestTimeoutMs: options.requestTimeoutMs,
        pacer: this.#pacing.id,
      });
      this.#pacing.clock.sample(sentAt, Date.now(), claim.dbNowMs, claim.dbEndMs);
      return claim;
    } catch (err) {
      if (!isConnectionLost(err)) throw err;
      this.#unconfirmed = true;
      // Wait for the ledger before trying again (LedgerRetry reports the outage and gives up in time).
      await this.deps.ledger.run(() => db.query('SELECT 1'));
      return undefined;
    }
  }

  /**
   * Resolves when a claimed request may leave: its ledger slot on our clock, the sender's spacing since its last
   * request left and, with an account rate, the account's spacing since the account's last request left (the
   * same gate, keyed by the account, entered once the sender's turn has come).
   */
  async #departure(batch: Claimed): Promise<Left> {
    const { clock, departures } = this.#pacing;
    const slot = clock.toLocal(batch.slotMs);
    const senderLeft = await departures.wait(batch.sender, slot, batch.intervalMs);
    if (batch.accountIntervalMs === undefined) return senderLeft;
    const accountLeft = await departures.wait(`account:${this.deps.account}`, slot, batch.accountIntervalMs);
    return (at) => {
      senderLeft(at);
      accountLeft(at);
    };
  }

  #start(batch: Claimed): void {
    this.#sending.add(batch.id);
    const sent = this.#send(batch, this.#departure(batch)).finally(() => {
      this.#sending.delete(batch.id);
      if (this.#wantRoom) this.#wake?.();
    });
    const tracked = sent.catch((err: unknown) => this.deps.stopper.fail(err)).finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  async #send(claim: ClaimedBatch, departure: Promise<Left>): Promise<void> {
    // The claim is committed: the request leaves at its slot even if the run is stopping meanwhile (a
    // lookahead at most), so a claimed batch is never left in flight unsent.
    const left = await departure;
    let outcome: SendOutcome;
    try {
      outcome = await this.deps.client.send(this.#request(claim), { onWritten: () => left(Date.now()) });
    } finally {
      left(Date.now()); // the transport did not say when it was written: its exchange is over, at the latest
    }
    // The request has left: its answer must be recorded, through any ledger outage we can wait out.
    await this.deps.ledger.run(() => this.#record(claim, outcome));
  }

  #request(claim: ClaimedBatch): SendRequest {
    const { job } = this.deps;
    const sender = claim.sender.startsWith('powerpack:') ? { powerpackUuid: claim.sender.slice('powerpack:'.length) } : { src: claim.sender };
    return {
      ...sender,
      dst: claim.dsts,
      ...(claim.text ? { text: claim.text } : {}),
      type: job.type,
      ...(job.media_urls ? { mediaUrls: job.media_urls } : {}),
      ...(this.deps.callbackUrl ? { url: this.deps.callbackUrl(claim.id), method: 'POST' as const } : job.url ? { url: job.url, method: job.method } : {}),
      log: job.log,
      trackable: job.trackable,
      ...this.#expiry(claim),
    };
  }

  /** The job's message_expiry, cut so that nothing is delivered after the batch's send window closes. */
  #expiry(claim: ClaimedBatch): { messageExpiry?: number } {
    const expiry = cutExpiry(this.deps.job.message_expiry, claim.windowClosesAt, Date.now());
    return expiry === undefined ? {} : { messageExpiry: expiry };
  }

  async #record(claim: ClaimedBatch, outcome: SendOutcome): Promise<void> {
    const { db, options, onEvent } = this.deps;
    const base = { sender: claim.sender, size: claim.dsts.length };
    switch (outcome.kind) {
      case 'accepted':
        await recordAccepted(db, claim, { httpStatus: 202, apiId: outcome.apiId, messageUuids: outcome.messageUuids, invalidNumbers: outcome.invalidNumbers });
        onEvent?.({ kind: 'accepted', ...base, rejected: outcome.invalidNumbers.length });
        return;
      case 'permanent':
        await recordPermanent(db, claim, outcome.reason, outcome.status);
        onEvent?.({ kind: 'failed', ...base, reason: outcome.reason });
        return;
      case 'ambiguous':
        await recordAmbiguous(db, claim, outcome.reason, outcome.status, outcome.apiId);
        onEvent?.({ kind: 'ambiguous', ...base, reason: outcome.reason });
        return;
      case 'auth':
        await recordRetryable(db, claim, outcome.reason, 0, outcome.status);
        throw new RunFailedError(`Plivo refused the credentials (HTTP 401: ${outcome.reason}). ` +
          'Check PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN; nothing more was sent, and running the same command again resumes.');
      case 'throttled':
      case 'retryable': {
        const failures = claim.failuresBefore + 1;
        const delayMs = outcome.kind === 'throttled' && outcome.retryAfterMs !== undefined
          ? outcome.retryAfterMs
          : backoffMs(failures, options.retryBaseMs);
        // A 429 means Plivo counts more requests than our window did (another tool on the account?): every
        // request of the account, in every process, waits out the backoff.
        if (outcome.kind === 'throttled') await holdAllSlots(db, this.deps.account, delayMs);
        await recordRetryable(db, claim, outcome.reason, delayMs, outcome.status);
        onEvent?.({ kind: 'retry', ...base, reason: outcome.reason, delayMs });
        if (failures >= options.maxAttempts) {
          throw new RunFailedError(`batch ${claim.id} (from ${claim.sender}) failed ${failures} times in a row, last with: ${outcome.reason}. ` +
            'Its recipients are still pending and nothing was lost; run the same command again later to resume.');
        }
        return;
      }
    }
  }
}
