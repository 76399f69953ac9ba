/**
 * Status callbacks: on every state change of a message sent with `url`
 * (including the first, `queued`), Plivo calls that url, form-encoded on POST
 * or in the query string on GET, signed with the auth token (V3 and V2
 * headers). A non-2xx answer, or none within the timeout (8 s), is retried
 * after each of callbackRetryDelaysMs (Plivo: +60 s, +120 s, +240 s), each
 * wait counted from the failed attempt. `Sequence` numbers the callbacks of
 * one message 1, 2, 3 so a receiver can order them; retries keep their number.
 *
 * Example POST body (one line in reality):
 *   MessageUUID=0936ec98-…&ParentMessageUUID=0936ec98-…&PartInfo=1 of 1
 *   &To=14155550123&From=14155550100&Type=sms&Status=delivered&Units=1
 *   &TotalRate=0.00500&TotalAmount=0.00500&ErrorCode=000&MCC=&MNC=&Sequence=3
 *   &MessageTime=2024-08-21 12:58:51.123456&QueuedTime=…&SentTime=…
 *   &DeliveryReportTime=…&PowerpackUUID=
 * Times in callbacks are UTC WITHOUT an offset (`YYYY-mm-dd HH:MM:SS.SSSSSS`, as in Plivo's docs
 * and the official SDKs' fixtures), unlike MDR times. MessageTime is the message's time (when it
 * was queued), not the time of the change being reported.
 */

import { formatCallbackTime, nowMs } from './clock.js';
import { RATE, totalAmount, type MessageRecord, type SimState } from './message.js';
import type { Rng } from './rng.js';
import type { Scheduler } from './scheduler.js';
import { signatureHeaders } from './signing.js';

export interface CallbackAttempt {
  uuid: string;
  sequence: number;
  status: SimState;
  /** 1 for the first try. */
  attempt: number;
  method: 'GET' | 'POST';
  url: string;
  atMs: number;
  /** The receiver's status code, or null when it did not answer in time or could not be reached. */
  httpStatus: number | null;
  ok: boolean;
  error?: string;
}

export interface CallbackConfig {
  authToken: string;
  retryDelaysMs: number[];
  timeoutMs: number;
  scheduler: Scheduler;
  /** Draws signature nonces. */
  rng: Rng;
}

interface Job {
  uuid: string;
  sequence: number;
  status: SimState;
  method: 'GET' | 'POST';
  url: string;
  fields: Record<string, string>;
  /** 0-based: which attempt this is. */
  attempt: number;
}

// Receivers are usually one small web server: do not open hundreds of connections to it.
const MAX_IN_FLIGHT = 32;

export class CallbackDispatcher {
  #sequences = new Map<string, number>();
  /** FIFO of attempts to make: `#waiting[#head…]`. */
  #waiting: Job[] = [];
  #head = 0;
  #inFlight = 0;
  #log: CallbackAttempt[] = [];
  #closed = new AbortController();
  #idle: Array<() => void> = [];

  constructor(private readonly config: CallbackConfig) {}

  /** Call after every state change of `m` (and at acceptance); does nothing for a message without url. */
  notify(m: MessageRecord): void {
    if (m.url === null || this.#closed.signal.aborted) return;
    const sequence = (this.#sequences.get(m.uuid) ?? 0) + 1;
    this.#sequences.set(m.uuid, sequence);
    this.#enqueue({
      uuid: m.uuid,
      sequence,
      status: m.state,
      method: m.method,
      url: m.url,
      fields: callbackFields(m, sequence),
      attempt: 0,
    });
  }

  log(): readonly CallbackAttempt[] {
    return this.#log;
  }

  /** Callbacks waiting or in flight (not counting scheduled retries). */
  get busy(): number {
    return this.#waiting.length - this.#head + this.#inFlight;
  }

  /** Resolves when nothing is waiting or in flight. */
  idle(): Promise<void> {
    if (this.busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  close(): void {
    this.#closed.abort();
    this.#waiting = [];
    this.#head = 0;
    if (this.#inFlight === 0) this.#idle.splice(0).forEach((resolve) => resolve());
  }

  #enqueue(job: Job): void {
    this.#waiting.push(job);
    this.#pump();
  }

  #pump(): void {
    while (this.#inFlight < MAX_IN_FLIGHT && this.#head < this.#waiting.length) {
      const job = this.#waiting[this.#head++] as Job;
      if (this.#head >= 1024 && this.#head * 2 >= this.#waiting.length) {
        this.#waiting = this.#waiting.slice(this.#head);
        this.#head = 0;
      }
      this.#inFlight++;
      void this.#attempt(job).finally(() => {
        this.#inFlight--;
        this.#pump();
        if (this.busy === 0) this.#idle.splice(0).forEach((resolve) => resolve());
      });
    }
  }

  async #attempt(job: Job): Promise<void> {
    const record: CallbackAttempt = {
      uuid: job.uuid,
      sequence: job.sequence,
      status: job.status,
      attempt: job.attempt + 1,
      method: job.method,
      url: job.url,
      atMs: nowMs(),
      httpStatus: null,
      ok: false,
    };
    try {
      const target = job.method === 'GET' ? withQuery(job.url, job.fields) : job.url;
      const isPost = job.method === 'POST';
      const headers = {
        ...signatureHeaders(job.method, target, isPost ? job.fields : {}, this.config.authToken, this.config.rng),
        'User-Agent': 'PlivoHTTP/1.0 (smsrun simulator)',
        ...(isPost ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
      };
      const res = await fetch(target, {
        method: job.method,
        headers,
        body: isPost ? new URLSearchParams(job.fields).toString() : undefined,
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(this.config.timeoutMs), this.#closed.signal]),
      });
      record.httpStatus = res.status;
      // Read the answer so the connection can be reused; it counts against the timeout.
      await res.arrayBuffer();
      record.ok = res.status >= 200 && res.status < 300;
    } catch (error) {
      record.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    if (this.#closed.signal.aborted) return;
    this.#log.push(record);
    if (!record.ok) this.#retryLater(job);
  }

  #retryLater(job: Job): void {
    const delay = this.config.retryDelaysMs[job.attempt];
    if (delay === undefined) return;
    this.config.scheduler.at(nowMs() + delay, () => {
      if (this.#closed.signal.aborted) return;
      this.#enqueue({ ...job, attempt: job.attempt + 1 });
    });
  }
}

function callbackFields(m: MessageRecord, sequence: number): Record<string, string> {
  const utc = (us: number | null | undefined): string => (us == null ? '' : formatCallbackTime(us));
  const receipt = m.state === 'delivered' || m.state === 'undelivered' ? m.updatedAtUs : null;
  return {
    MessageUUID: m.uuid,
    ParentMessageUUID: m.uuid,
    PartInfo: '1 of 1',
    To: m.to,
    From: m.from,
    Type: m.type,
    Status: m.state,
    Units: String(m.units),
    TotalRate: RATE[m.type],
    TotalAmount: totalAmount(m),
    ErrorCode: m.errorCode ?? '',
    MCC: '',
    MNC: '',
    Sequence: String(sequence),
    MessageTime: utc(m.messageTimeUs),
    QueuedTime: utc(m.acceptedAtUs),
    SentTime: utc(m.sentAtUs),
    DeliveryReportTime: utc(receipt),
    PowerpackUUID: m.powerpackUuid ?? '',
  };
}

function withQuery(url: string, fields: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(fields)) u.searchParams.append(k, v);
  return u.toString();
}

