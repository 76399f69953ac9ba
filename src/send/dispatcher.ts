/**
 * Sends a campaign's batches: one loop per sender, all senders at once, each paced by its own limiter.
 *
 * For every batch: wait for the sender's tokens (and the account's, if `account_rate` is set), claim the
 * batch (the write-ahead row is committed), then send it through the account request limiter and record
 * the answer. A sender's loop only moves on once its batch is claimed, so it never schedules a batch twice;
 * requests of one sender may overlap (a slow bulk answer does not hold the next batch back).
 *
 * Retries go back through the same limiters: a failed batch returns to `pending` with a backoff, and its
 * sender's loop claims it again like any other. Ambiguous batches wait for the Reconciler.
 */
import type { Db } from '../ledger/db.js';
import { isConnectionLost } from '../ledger/faults.js';
import { deadAmong } from '../ledger/runners.js';
import {
  claimBatch, nextReadyBatch, recordAccepted, recordAmbiguous, recordPermanent, recordRetryable, senderBacklog,
  settleUnconfirmedClaim, type ClaimedBatch, type ReadyBatch,
} from '../ledger/sending.js';
import {
  acquireSenders, campaignHasUnsettledBatches, otherLeaseOwners, releaseSenders, renewSenders, type AcquiredSender,
} from '../ledger/senders.js';
import type { PlivoClient, SendOutcome, SendRequest } from '../plivo/client.js';
import { RunFailedError } from '../errors.js';
import type { Job } from '../campaign/job.js';
import { backoffMs } from './backoff.js';
import { PRIORITY, scheduleOnBucket, type Limiters } from './limits.js';
import type { LedgerRetry } from './ledger-retry.js';
import type { Stopper } from './stopper.js';
import { cutExpiry } from '../window/keeper.js';

export interface DispatchOptions {
  /** Lease on a claimed batch: longer than any wait for the account limiter plus the request timeout. */
  leaseMs: number;
  /** Lease on a sender, renewed every second while we hold it. */
  senderLeaseMs: number;
  /** Attempts of one batch before the run stops (its recipients stay pending for a later resume). */
  maxAttempts: number;
  retryBaseMs: number;
  /** The client's request timeout, stored with each attempt (its reconciliation window depends on it). */
  requestTimeoutMs?: number;
}

export type SendEvent =
  | { kind: 'accepted'; sender: string; size: number; rejected: number }
  | { kind: 'retry'; sender: string; size: number; reason: string; delayMs: number }
  | { kind: 'failed'; sender: string; size: number; reason: string }
  | { kind: 'ambiguous'; sender: string; size: number; reason: string }
  | { kind: 'senders'; held: number; of: number };

export interface DispatchDeps {
  db: Db;
  client: Pick<PlivoClient, 'send'>;
  job: Job;
  campaignId: number;
  owner: string;
  limiters: Limiters;
  options: DispatchOptions;
  stopper: Stopper;
  ledger: LedgerRetry;
  onEvent?: (e: SendEvent) => void;
  /** With smsrun's own callback receiver: the status-callback url of a batch (it names the batch). */
  callbackUrl?: (batchId: number) => string;
  /** True while this process is still loading the campaign's CSV: more batches are coming. */
  loading?: () => boolean;
}

export class Dispatcher {
  readonly #inFlight = new Set<Promise<void>>();
  /** Sender loops running, by sender; each holds that sender's lease. */
  readonly #loops = new Map<string, Promise<void>>();
  /** Senders whose loop ended with nothing left to send. */
  readonly #done = new Set<string>();
  /** Senders whose lease we lost (we were cut off from the ledger and someone took them over). */
  readonly #lost = new Set<string>();
  /** Batches whose claim may or may not have committed (the connection dropped during it). */
  readonly #unconfirmed = new Set<number>();
  /** Per sender: when its last request left and what it cost (see #spaceOut). */
  readonly #lastLeft = new Map<string, { at: number; cost: number }>();
  #running = false;

  constructor(private readonly deps: DispatchDeps) {}

  /** True while the campaign may still have batches to send or to settle. */
  get active(): boolean {
    return this.#running;
  }

  async run(): Promise<void> {
    this.#running = true;
    try {
      await this.#manageSenders();
      await Promise.all(this.#loops.values());
    } finally {
      await Promise.allSettled([...this.#inFlight]);
      const { db, campaignId, owner, job } = this.deps;
      await releaseSenders(db, campaignId, owner, job.senders).catch(() => undefined);
      this.#running = false;
    }
  }

  /**
   * Holds the leases of as many senders as it can get and runs a loop for each, once a second renewing
   * them and trying to take over the others (free, expired, or held by a dead process). Ends when this
   * process has no sender loop left and the campaign has no batch left to send or settle.
   */
  async #manageSenders(): Promise<void> {
    const { db, campaignId, owner, job, stopper, ledger, options, onEvent } = this.deps;
    let held = -1;
    while (!stopper.stopped) {
      await ledger.run(async () => {
        for (const id of this.#unconfirmed) {
          await settleUnconfirmedClaim(db, id, owner);
          this.#unconfirmed.delete(id);
        }
        const mine = [...this.#loops.keys()];
        const kept = await renewSenders(db, campaignId, owner, mine, options.senderLeaseMs);
        for (const s of mine) if (!kept.has(s)) this.#lost.add(s);
        const wanted = job.senders.filter((s) => !this.#loops.has(s) && !this.#done.has(s));
        if (wanted.length === 0) return;
        const dead = await deadAmong(db, await otherLeaseOwners(db, campaignId, owner), owner);
        for (const acquired of await acquireSenders(db, campaignId, owner, wanted, options.senderLeaseMs, dead)) {
          await this.#startBucket(acquired);
          this.#lost.delete(acquired.sender);
          this.#loops.set(acquired.sender, this.#senderLoop(acquired.sender).finally(() => this.#loops.delete(acquired.sender)));
        }
      });
      const unfinished = job.senders.length - this.#done.size;
      if (this.#loops.size !== held && this.#loops.size < unfinished) onEvent?.({ kind: 'senders', held: this.#loops.size, of: unfinished });
      held = this.#loops.size;
      if (this.#loops.size === 0 && !this.deps.loading?.()) {
        if (!(await ledger.run(() => campaignHasUnsettledBatches(db, campaignId)))) return;
        this.#done.clear(); // work appeared for a sender we had finished (another process's resend): take it up
      }
      await stopper.sleep(1000);
    }
  }

  /**
   * A sender's bucket starts with what a bucket emptied by the last claim of that sender (by any process,
   * in any run) would have earned since, so a resumed run or a takeover never adds a second burst.
   */
  async #startBucket({ sender, sinceLastClaim }: AcquiredSender): Promise<void> {
    const { rate, burst } = this.deps.limiters.senderBucket;
    const limiter = this.deps.limiters.senders.key(sender);
    const tokens = sinceLastClaim === null ? burst : Math.min(burst, rate * sinceLastClaim);
    const current = (await limiter.currentReservoir()) ?? 0;
    if (tokens < current) await limiter.incrementReservoir(tokens - current);
  }

  async #senderLoop(sender: string): Promise<void> {
    const { db, campaignId, stopper, ledger } = this.deps;
    let cursor = 0;
    while (!stopper.stopped && !this.#lost.has(sender)) {
      const batch = await ledger.run(() => nextReadyBatch(db, campaignId, sender, cursor));
      if (batch) {
        cursor = batch.id;
        await this.#scheduleBatch(sender, batch);
        continue;
      }
      cursor = 0;
      const backlog = await ledger.run(() => senderBacklog(db, campaignId, sender));
      if (backlog.waiting === 0 && backlog.unsettled === 0) {
        if (this.deps.loading?.()) {
          await stopper.sleep(100); // the load has not cut this sender's next batches yet
          continue;
        }
        this.#done.add(sender);
        return;
      }
      const untilNext = backlog.nextAt ? backlog.nextAt.getTime() - Date.now() : 500;
      await stopper.sleep(Math.min(1000, Math.max(20, untilNext)));
    }
  }

  /** Resolves once the batch is claimed (or found taken); the request itself goes on in the background. */
  #scheduleBatch(sender: string, batch: ReadyBatch): Promise<void> {
    const { limiters, job } = this.deps;
    const cost = job.rate_counts === 'units' ? batch.size * batch.units : batch.size;
    const limiter = limiters.senders.key(sender);
    return new Promise<void>((resolve) => {
      // A stop must not wait for this batch's tokens (up to a batch's cost / rate): the loop moves on, and
      // the job, when its turn comes, sees the stop and claims nothing.
      const { signal } = this.deps.stopper;
      const claimed = () => {
        signal.removeEventListener('abort', claimed);
        resolve();
      };
      signal.addEventListener('abort', claimed, { once: true });
      const job_ = async (): Promise<void> => {
        try {
          await limiters.accountMessages?.schedule({ weight: batch.size }, async () => undefined);
          if (this.deps.stopper.stopped || this.#lost.has(sender)) return;
          // The account request slot is taken before the claim, so the request leaves as soon as it is
          // claimed: a request that waited for a slot after its sender's tokens were spent could leave
          // together with the sender's next one, bunched above the sender's rate.
          await limiters.requests.schedule({ priority: PRIORITY.send }, async () => {
            await this.#spaceOut(sender, cost);
            if (this.deps.stopper.stopped) return;
            const claim = await this.#claim(batch);
            claimed();
            if (!claim) return;
            const sent = this.#send(claim, batch);
            this.#track(sent);
            await sent.catch(() => undefined); // the slot is held until the answer is read and recorded
          });
        } finally {
          claimed();
        }
      };
      scheduleOnBucket(limiter, limiters.senderBucket, cost, PRIORITY.send, job_).catch((err: unknown) => {
        claimed();
        if (!this.deps.stopper.stopped) this.deps.stopper.fail(err);
      });
    });
  }

  /**
   * A sender's requests leave at least the previous one's cost / rate apart. Its bucket grants tokens at
   * its rate, but two batches granted a moment apart can both wait for an account request slot (the
   * account bucket saturated, by this campaign's senders or by tracking) and then leave together: this
   * keeps them apart at the moment they leave, so rate·T + one batch holds where Plivo measures it.
   */
  async #spaceOut(sender: string, cost: number): Promise<void> {
    const last = this.#lastLeft.get(sender);
    const wait = last ? last.at + (last.cost / this.deps.job.rate) * 1000 - Date.now() : 0;
    if (wait > 0) await this.deps.stopper.sleep(wait);
    this.#lastLeft.set(sender, { at: Date.now(), cost });
  }

  #track(p: Promise<void>): void {
    const tracked = p.catch((err: unknown) => this.deps.stopper.fail(err)).finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  /** Claims the batch; undefined if someone else has it, or if the claim's commit could not be confirmed. */
  async #claim(batch: ReadyBatch): Promise<ClaimedBatch | undefined> {
    try {
      return await claimBatch(this.deps.db, batch.id, this.deps.owner, this.deps.options.leaseMs, this.deps.options.requestTimeoutMs);
    } catch (err) {
      if (!isConnectionLost(err)) throw err;
      this.#unconfirmed.add(batch.id); // settled once the ledger is back (see #manageSenders)
      return undefined;
    }
  }

  async #send(claim: ClaimedBatch, batch: ReadyBatch): Promise<void> {
    const outcome = await this.deps.client.send(this.#request(claim));
    // The request has left: its answer must be recorded, through any ledger outage we can wait out.
    await this.deps.ledger.run(() => this.#record(claim, batch, outcome));
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

  async #record(claim: ClaimedBatch, batch: ReadyBatch, outcome: SendOutcome): Promise<void> {
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
        if (outcome.kind === 'throttled') await this.#slowDown();
        const failures = claim.failuresBefore + 1;
        const delayMs = outcome.kind === 'throttled' && outcome.retryAfterMs !== undefined
          ? outcome.retryAfterMs
          : backoffMs(failures, options.retryBaseMs);
        await recordRetryable(db, claim, outcome.reason, delayMs, outcome.status);
        onEvent?.({ kind: 'retry', ...base, reason: outcome.reason, delayMs });
        if (failures >= options.maxAttempts) {
          throw new RunFailedError(`batch ${batch.id} (from ${claim.sender}) failed ${failures} times in a row, last with: ${outcome.reason}. ` +
            'Its recipients are still pending and nothing was lost; run the same command again later to resume.');
        }
        return;
      }
    }
  }

  /** A 429 empties the account's request bucket, so every request waits for it to refill. */
  async #slowDown(): Promise<void> {
    const { requests } = this.deps.limiters;
    const left = (await requests.currentReservoir()) ?? 0;
    if (left > 0) await requests.incrementReservoir(-left);
  }
}
