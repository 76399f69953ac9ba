/**
 * The simulated account, without HTTP: accepted messages, their queues and
 * lifecycle, callbacks, limits, faults and counters. server.ts speaks HTTP
 * to it; simulator.ts exposes it to tests.
 */

import { randomUUID } from 'node:crypto';
import { CallbackDispatcher } from './callbacks.js';
import { nowUs } from './clock.js';
import type { SendRequest } from './create.js';
import { FaultInjector } from './faults.js';
import { Lifecycle } from './lifecycle.js';
import { RequestLimiter } from './limits.js';
import { runList, type ListPage, type ListQuery } from './list.js';
import type { MessageRecord } from './message.js';
import type { ResolvedOptions } from './options.js';
import type { AcceptEntry } from './pacing.js';
import type { ReadEntry } from './stats.js';
import { forkRng, type Rng } from './rng.js';
import { Scheduler } from './scheduler.js';
import { emptyStats, type SimStats } from './stats.js';
import type { SimJournal } from './journal.js';
import { messageIntent, postInbound, type InboundAttempt, type ReplyOptions } from './inbound.js';

export interface AcceptContext {
  /** When the request reached the server (ms): the acceptLog's `at`. */
  arrivalMs: number;
  requesterIp: string;
  apiId: string;
}

export class SimCore {
  readonly messages: MessageRecord[] = [];
  readonly acceptLog: AcceptEntry[] = [];
  /** One entry per GET or List request that passed authentication, throttled or not. */
  readonly readLog: ReadEntry[] = [];
  readonly stats: SimStats = emptyStats();
  readonly scheduler: Scheduler;
  readonly lifecycle: Lifecycle;
  readonly callbacks: CallbackDispatcher;
  readonly limiter: RequestLimiter;
  readonly faults: FaultInjector;
  /** Numbers whose messages fail with 200 (opted out): the optedOut option, then STOP / START replies. */
  readonly optedOut: Set<string>;
  readonly inboundLog: InboundAttempt[] = [];
  #inboundRng: Rng;
  #byUuid = new Map<string, MessageRecord>();
  #shuffle: Rng;
  #journal: SimJournal | undefined;

  constructor(readonly opts: ResolvedOptions, journal?: SimJournal) {
    this.#journal = journal;
    this.scheduler = new Scheduler((error) => this.recordInternalError(error));
    this.callbacks = new CallbackDispatcher({
      authToken: opts.authToken,
      retryDelaysMs: opts.callbackRetryDelaysMs,
      timeoutMs: opts.callbackTimeoutMs,
      scheduler: this.scheduler,
      rng: forkRng(opts.seed, 'nonces'),
    });
    this.optedOut = new Set(opts.optedOut);
    this.#inboundRng = forkRng(opts.seed, 'inbound');
    this.lifecycle = new Lifecycle(this.scheduler, {
      isOptedOut: (to) => this.optedOut.has(to),
      mpsFor: (sender) => opts.mpsBySrc[sender] ?? opts.mps,
      counts: opts.mpsCounts,
      deliveryDelayMs: opts.deliveryDelayMs,
      rng: forkRng(opts.seed, 'delivery'),
      onChange: (m) => {
        this.#journal?.changed(m);
        this.callbacks.notify(m);
      },
    });
    this.limiter = new RequestLimiter(opts.limits);
    this.faults = new FaultInjector(opts.faults, forkRng(opts.seed, 'faults'));
    this.#shuffle = forkRng(opts.seed, 'shuffle');
  }

  /**
   * Records one message per valid destination, in dst order, queues them and
   * returns their uuids in a shuffled order: Plivo does not keep dst order.
   */
  accept(req: SendRequest, ctx: AcceptContext): string[] {
    const uuids: string[] = [];
    for (const to of req.destinations) {
      const acceptedAtUs = nowUs();
      const m: MessageRecord = {
        uuid: randomUUID(),
        seq: this.messages.length,
        sender: req.sender,
        from: req.from,
        to,
        type: req.type,
        text: req.text,
        units: req.units,
        mediaUrls: req.mediaUrls,
        powerpackUuid: req.powerpackUuid,
        url: req.url,
        method: req.method,
        log: req.log,
        trackable: req.trackable,
        expirySec: req.expirySec,
        requesterIp: ctx.requesterIp,
        requestId: ctx.apiId,
        acceptedAtUs,
        messageTimeUs: acceptedAtUs,
        state: 'queued',
        errorCode: null,
        sentAtUs: null,
        updatedAtUs: acceptedAtUs,
        history: [{ state: 'queued', atUs: acceptedAtUs }],
      };
      this.messages.push(m);
      this.#byUuid.set(m.uuid, m);
      this.#journal?.accepted(m);
      uuids.push(m.uuid);
      this.lifecycle.admit(m, acceptedAtUs / 1000);
      this.callbacks.notify(m);
    }
    const units = req.units * uuids.length;
    this.acceptLog.push({ src: req.sender, at: ctx.arrivalMs, count: uuids.length, units });
    const a = this.stats.accepted;
    a.requests++;
    a.messages += uuids.length;
    a.units += units;
    a.invalidNumbers += req.invalid.length;
    return this.#shuffle.shuffle(uuids);
  }

  /**
   * Takes back the messages of an earlier run (sim/journal.ts). One not final yet is queued again from now:
   * its outcome follows from its number, as before.
   */
  restore(records: readonly MessageRecord[]): void {
    const nowMs = nowUs() / 1000;
    for (const m of records) {
      const record: MessageRecord = { ...m, seq: this.messages.length };
      this.messages.push(record);
      this.#byUuid.set(record.uuid, record);
      if (record.state === 'queued' || record.state === 'sent') {
        record.state = 'queued';
        this.lifecycle.admit(record, nowMs);
      }
    }
  }

  /**
   * `from` texts `text` to one of our numbers: posted, signed, to the inbound url. A STOP opts `from` out
   * (later messages to it fail with 200) and START lifts it, before the post, as the carrier would.
   */
  async reply(from: string, text: string, o: ReplyOptions = {}): Promise<InboundAttempt> {
    const who = from.replace(/^\+/, '');
    const url = o.url ?? this.opts.inboundUrl;
    if (!url) throw new RangeError('reply: give a url, or start the simulator with inboundUrl');
    const intent = messageIntent(text);
    if (intent === 'optout') this.optedOut.add(who);
    if (intent === 'optin') this.optedOut.delete(who);
    const to = o.to ?? this.#lastSenderTo(who);
    const attempt = await postInbound({ from: who, to, text, url, authToken: this.opts.authToken, rng: this.#inboundRng, timeoutMs: o.timeoutMs ?? this.opts.callbackTimeoutMs });
    this.inboundLog.push(attempt);
    return attempt;
  }

  #lastSenderTo(to: string): string {
    for (let i = this.messages.length - 1; i >= 0; i--) if (this.messages[i]!.to === to) return this.messages[i]!.from;
    return '';
  }

  find(uuid: string): MessageRecord | undefined {
    return this.#byUuid.get(uuid);
  }

  list(q: ListQuery): ListPage {
    return runList(this.messages, q, nowUs(), `/v1/Account/${this.opts.authId}/Message/`);
  }

  /**
   * Test hook: moves a message's message_time `ms` into the past, to exercise
   * the List API's 24-hour default window. Its queue and lifecycle are unchanged.
   */
  backdate(uuid: string, ms: number): void {
    const m = this.#byUuid.get(uuid);
    if (!m) throw new RangeError(`backdate: no message ${uuid}`);
    m.messageTimeUs -= Math.round(ms * 1000);
  }

  currentStats(): SimStats {
    const log = this.callbacks.log();
    const ok = log.filter((c) => c.ok).length;
    return structuredClone({
      ...this.stats,
      inFlight: this.limiter.inFlight,
      peakConcurrent: this.limiter.peakInFlight,
      callbacks: { attempts: log.length, ok, failed: log.length - ok },
    });
  }

  recordInternalError(error: unknown): void {
    this.stats.internalErrors++;
    this.stats.lastInternalError = error instanceof Error ? (error.stack ?? error.message) : String(error);
  }

  close(): void {
    this.scheduler.close();
    this.callbacks.close();
  }
}
