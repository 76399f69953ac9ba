/*
Plivo Message API client. Every call is under {base}/v1/Account/{auth_id}/Message/
(trailing slash), HTTP Basic auth id:token, JSON bodies.

POST /v1/Account/MAXXXXXXXXXXXXXXXXXX/Message/
{"src":"14155550000","dst":"14155550001<14155550002<1111111","text":"Hi Ann","url":"https://example.com/status","method":"POST"}

202 {"api_id":"db342550-7f1d-11e1-8ea7-1231380bc196","message":"message(s) queued",
     "message_uuid":["db3ce55a-7f1d-11e1-8ea7-1231380bc196","db3ce55b-7f1d-11e1-8ea7-1231380bc196"],
     "invalid_number":["1111111"]}
     (uuids are not in dst order; invalid_number only when some numbers were refused)
400 {"api_id":"…","error":"'1111111' is not a valid phone number."}   or "invalid phone numbers."
401 {"error":"authentication credentials were not provided"}          (no api_id)
429 {"api_id":"…","error":"too many requests"}                       (Retry-After unconfirmed)
5xx may be HTML from a proxy rather than Plivo's JSON

GET /v1/Account/MAXXXXXXXXXXXXXXXXXX/Message/2a340179-e8a9-4b1d-ae2c-9f346e7b6d7d/
200 {"api_id":"035eeada-…","message_uuid":"2a340179-…","message_time":"2016-08-17 21:22:36+05:30",
     "message_direction":"outbound","message_state":"failed","message_type":"sms",
     "from_number":"18552828641","to_number":"19352326448","units":1,"total_rate":"0.00350",
     "total_amount":"0.00000","error_code":"200","error_message":"", …}
404 {"api_id":"…","error":"not found"}

GET /v1/Account/MAXXXXXXXXXXXXXXXXXX/Message/?limit=20&message_time__gte=2024-05-01+00%3A00%3A00.000000
200 {"api_id":"…","meta":{"limit":20,"offset":0,"total_count":31,"previous":null,
     "next":"/v1/Account/MAXXXXXXXXXXXXXXXXXX/Message/?limit=20&offset=20&message_time__gte=…"},
     "objects":[{…an MDR without api_id…}]}          (newest first; 20 List requests per minute)
*/
import { classifyNetworkError, classifyResponse, networkErrorDetail, type HttpAnswer } from './classify.js';
import { PlivoApiError } from './errors.js';
import { parseMdr } from './mdr.js';
import type { SendOutcome } from './outcome.js';
import { listQuery, parseListPage, type ListFilter, type ListPage } from './list.js';
import type { Mdr } from './types.js';
import { watchWritten } from './written.js';

export { PlivoApiError } from './errors.js';
export type { SendOutcome } from './outcome.js';
export type { ListFilter, ListPage } from './list.js';

export interface PlivoClientOptions {
  authId: string;
  authToken: string;
  /** @default 'https://api.plivo.com' */
  baseUrl?: string;
  /** Per request, including reading the body. @default 30000 */
  timeoutMs?: number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

export interface SendHooks {
  /** Called once the request is written to the socket, if the transport tells (Node's fetch does): pacing's departure. */
  onWritten?: () => void;
}

export interface SendRequest {
  /** Exactly one of src and powerpackUuid. */
  src?: string;
  powerpackUuid?: string;
  /** 1 to 1000 unique, already sanitised numbers; joined with '<'. */
  dst: readonly string[];
  text?: string;
  type?: 'sms' | 'mms';
  mediaUrls?: readonly string[];
  /** Status callback URL and its method. */
  url?: string;
  method?: 'GET' | 'POST';
  log?: boolean | 'number_only' | 'content_only';
  trackable?: boolean;
  /** Seconds, 5–10799. */
  messageExpiry?: number;
}

const DEFAULT_BASE_URL = 'https://api.plivo.com';
const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_DST = 1000;

type Exchange = { ok: true; answer: HttpAnswer } | { ok: false; error: unknown; status?: number };

export class PlivoClient {
  readonly #authorization: string;
  readonly #secrets: string[];
  readonly #base: string;
  readonly #messageUrl: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(opts: PlivoClientOptions) {
    if (!opts.authId) throw new TypeError('PlivoClient: authId is required');
    if (!opts.authToken) throw new TypeError('PlivoClient: authToken is required');
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new TypeError(`PlivoClient: timeoutMs must be a positive number, got ${timeoutMs}`);
    }
    const base = (opts.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
    if (!URL.canParse(base)) throw new TypeError(`PlivoClient: baseUrl '${base}' is not a URL`);
    const credential = Buffer.from(`${opts.authId}:${opts.authToken}`).toString('base64');
    this.#authorization = `Basic ${credential}`;
    // Anything echoed back (a proxy's error page, say) is scrubbed of these before it reaches a reason.
    this.#secrets = [credential, opts.authToken].filter((s) => s.length >= 8);
    this.#base = base;
    this.#messageUrl = `${base}/v1/Account/${encodeURIComponent(opts.authId)}/Message/`;
    this.#timeoutMs = timeoutMs;
    this.#fetch = opts.fetch ?? globalThis.fetch;
  }

  /** Sends one (bulk) message. Never throws for HTTP or network problems: see SendOutcome. */
  async send(req: SendRequest, hooks: SendHooks = {}): Promise<SendOutcome> {
    const watch = hooks.onWritten ? watchWritten(hooks.onWritten) : undefined;
    const exchange = await this.#exchange('POST', this.#messageUrl, sendBody(req), watch?.header).finally(() => watch?.done());
    if (exchange.ok) return this.#scrub(classifyResponse(exchange.answer));
    const outcome = classifyNetworkError(exchange.error, this.#timeoutMs);
    // A status line arrived, so the request reached the server: whatever broke after that is ambiguous.
    if (exchange.status !== undefined) {
      const reason = `answer cut off after HTTP ${exchange.status}: ${outcome.reason}`;
      return this.#scrub({ kind: 'ambiguous', status: exchange.status, reason });
    }
    return this.#scrub(outcome);
  }

  /** The record of one message, or null if Plivo does not know the uuid. */
  async getMessage(uuid: string): Promise<Mdr | null> {
    if (!uuid) throw new TypeError('getMessage: uuid is required');
    try {
      return this.#parse(await this.#get(`${this.#messageUrl}${encodeURIComponent(uuid)}/`), parseMdr);
    } catch (err) {
      if (err instanceof PlivoApiError && err.status === 404 && err.kind === 'permanent') return null;
      throw err;
    }
  }

  /** One page of `GET /Message/`. Without a message_time filter Plivo lists only the last 24 hours. */
  async listMessages(filter: ListFilter): Promise<ListPage> {
    return withTiming(await this.#get(`${this.#messageUrl}${listQuery(filter)}`), (a) => this.#parse(a, parseListPage));
  }

  /** Follows a page's `next` (a path relative to the API host, as Plivo returns it). */
  async listNext(nextPath: string): Promise<ListPage> {
    return withTiming(await this.#get(this.#resolveNext(nextPath)), (a) => this.#parse(a, parseListPage));
  }

  /** A read: the answer if 2xx, else a PlivoApiError. */
  async #get(url: string): Promise<HttpAnswer> {
    const exchange = await this.#exchange('GET', url);
    if (!exchange.ok) {
      // Reads are idempotent: whether or not the request arrived, asking again is safe.
      const detail = networkErrorDetail(exchange.error, this.#timeoutMs);
      throw new PlivoApiError('retryable', this.#redact(`GET ${url} failed (${detail}): safe to ask again`), {
        status: exchange.status,
        cause: exchange.error,
      });
    }
    const { answer } = exchange;
    if (answer.status >= 200 && answer.status < 300) return answer;
    const outcome = classifyResponse(answer);
    if (outcome.kind === 'accepted' || outcome.kind === 'ambiguous') {
      // For a send this is "may have been queued"; for a read, just worth another try.
      const reason = `${outcome.kind === 'ambiguous' ? outcome.reason.split(': ')[0] : `HTTP ${answer.status}`}: safe to ask again`;
      throw new PlivoApiError('retryable', this.#redact(`GET ${url}: ${reason}`), { status: answer.status });
    }
    throw new PlivoApiError(outcome.kind, this.#redact(`GET ${url}: ${outcome.reason}`), {
      status: answer.status,
      retryAfterMs: outcome.kind === 'throttled' ? outcome.retryAfterMs : undefined,
    });
  }

  #parse<T>(answer: HttpAnswer, parse: (json: unknown) => T): T {
    try {
      return parse(JSON.parse(answer.body) as unknown);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      const message = `unexpected answer from Plivo (HTTP ${answer.status}): ${why}`;
      throw new PlivoApiError('permanent', this.#redact(message), { status: answer.status });
    }
  }

  async #exchange(method: 'GET' | 'POST', url: string, body?: unknown, extra?: [string, string]): Promise<Exchange> {
    const headers: Record<string, string> = { Authorization: this.#authorization, Accept: 'application/json' };
    if (extra) headers[extra[0]] = extra[1];
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let status: number | undefined;
    const sentAt = Date.now();
    try {
      const res = await this.#fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
        // Following a redirect would turn the POST into a GET; report it instead.
        redirect: 'manual',
      });
      status = res.status;
      // Redacted before anything cuts an excerpt from it: a cut could leave part of a secret unmatched.
      const text = this.#redact(await res.text());
      const date = Date.parse(res.headers.get('date') ?? '');
      const timing = { sentAt, receivedAt: Date.now(), date: Number.isNaN(date) ? null : date };
      return { ok: true, answer: { status, body: text, retryAfter: res.headers.get('retry-after'), timing } };
    } catch (error) {
      return status === undefined ? { ok: false, error } : { ok: false, error, status };
    }
  }

  #resolveNext(nextPath: string): string {
    if (nextPath.startsWith('/')) return `${this.#base}${nextPath}`;
    const base = new URL(this.#base);
    const next = URL.canParse(nextPath) ? new URL(nextPath) : null;
    // Never send the credentials to a host other than the configured one.
    if (next === null || next.origin !== base.origin) {
      throw new TypeError(`listNext: '${nextPath}' is not a path on ${base.origin}`);
    }
    return next.href;
  }

  #redact(text: string): string {
    return this.#secrets.reduce((t, secret) => t.split(secret).join('[redacted]'), text);
  }

  #scrub(outcome: SendOutcome): SendOutcome {
    return 'reason' in outcome ? { ...outcome, reason: this.#redact(outcome.reason) } : outcome;
  }
}

function withTiming(answer: HttpAnswer, parse: (a: HttpAnswer) => ListPage): ListPage {
  const page = parse(answer);
  if (answer.timing) page.answered = answer.timing;
  return page;
}

function sendBody(req: SendRequest): Record<string, unknown> {
  if ((req.src === undefined) === (req.powerpackUuid === undefined)) {
    throw new TypeError('send: give exactly one of src and powerpackUuid');
  }
  if (req.dst.length === 0 || req.dst.length > MAX_DST) {
    throw new TypeError(`send: dst must hold 1 to ${MAX_DST} numbers, got ${req.dst.length}`);
  }
  if (new Set(req.dst).size !== req.dst.length) {
    // Plivo would drop the duplicate and return fewer uuids than numbers.
    throw new TypeError('send: dst holds a number twice');
  }
  if (req.dst.some((n) => n === '' || n.includes('<'))) {
    throw new TypeError("send: a dst number is empty or contains '<', the bulk separator");
  }
  const body: Record<string, unknown> = { dst: req.dst.join('<') };
  if (req.src !== undefined) body['src'] = req.src;
  if (req.powerpackUuid !== undefined) body['powerpack_uuid'] = req.powerpackUuid;
  if (req.text !== undefined) body['text'] = req.text;
  if (req.type !== undefined) body['type'] = req.type;
  if (req.mediaUrls !== undefined) body['media_urls'] = [...req.mediaUrls];
  if (req.url !== undefined) body['url'] = req.url;
  if (req.method !== undefined) body['method'] = req.method;
  if (req.log !== undefined) body['log'] = req.log;
  if (req.trackable !== undefined) body['trackable'] = req.trackable;
  if (req.messageExpiry !== undefined) body['message_expiry'] = req.messageExpiry;
  return body;
}
