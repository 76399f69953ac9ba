/**
 * An HTTP server for Plivo's status callbacks (POST form or JSON body, or GET query string).
 *
 * It also takes Plivo's inbound-message callbacks (a text to one of our numbers: `Text`, no `Status`), at the
 * same url and signed the same way, for opt-outs (optout/inbound.ts).
 *
 * Each request is answered only after what it says is committed to the ledger: Plivo retries a callback
 * that gets no 2xx within 8 s (+60 s, +120 s, +240 s), so a 200 must mean "recorded" and anything else
 * a retry. Hence:
 *   - 200 once `apply` resolved for the micro-batch holding it (at most 10 ms or 200 callbacks);
 *   - 503 when `apply` threw or did not finish within 6 s of the request's arrival (Plivo retries;
 *     `apply` is idempotent, so a late success followed by the retry is harmless);
 *   - 403 for a missing or wrong signature, 400 for a callback without MessageUUID or Status, 405 for
 *     another method, 413 for a body over 64 KiB: nothing applied.
 *
 * Signatures: X-Plivo-Signature-V3 (or -Ma-V3, the main account's) with X-Plivo-Signature-V3-Nonce
 * covers the url, its query (smsrun's campaign and batch ids) and the body. V2 is used only when no V3
 * header is present; it covers the url without its query, so it cannot protect the ids or the body.
 * The url checked is the PUBLIC one Plivo called (behind a proxy or tunnel the local path and port
 * differ): the public url's origin and path, plus the query the request arrived with.
 *
 * The auth token is used for the HMAC and nothing else: never logged, echoed or put in an event.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UsageError } from '../errors.js';
import type { ProviderUpdate } from '../ledger/tracking.js';
import { validateV2Signature, validateV3Signature, type SignatureParams } from '../plivo/signature.js';
import { BatcherFullError, MicroBatcher } from './batcher.js';
import { checkCallbackUrl, parseCallback, signedUrlFor, type CallbackFields } from './callback.js';
import { isInboundCallback, parseInbound, type InboundMessage } from '../optout/inbound.js';

export { callbackUrlFor, checkCallbackUrl } from './callback.js';

/** Micro-batches: one ledger transaction per this many callbacks or this long, whichever comes first. */
const BATCH_ITEMS = 200;
const BATCH_WAIT_MS = 10;
/** Plivo gives up on an answer after 8 s; leave it room for the network. */
const ANSWER_WITHIN_MS = 6000;
/** Callback bodies are about 1 KiB. */
const MAX_BODY_BYTES = 64 * 1024;
/** Callbacks waiting for the ledger beyond this are answered 503 at once (Plivo retries them later). */
const MAX_WAITING = 10_000;

export interface ReceiverOptions {
  /** The callback url given to Plivo, without smsrun's campaign/batch parameters. */
  publicUrl: string;
  listen: { host: string; port: number };
  authToken: string;
  /** Records a micro-batch of updates; must be idempotent. Never called twice at once. */
  apply(updates: ProviderUpdate[]): Promise<unknown>;
  /**
   * Records an inbound message (optout/inbound.ts: STOP and START); must be idempotent. Inbound messages
   * come one at a time, rarely, so they are not micro-batched. Without it they are answered 400.
   */
  inbound?(m: InboundMessage): Promise<unknown>;
  onEvent?(e: ReceiverEvent): void;
}

export type ReceiverEvent =
  | { kind: 'applied'; count: number; ms: number }
  | { kind: 'rejected'; status: 400 | 403 | 405 | 413; reason: string }
  | { kind: 'failed'; reason: string };

export interface ReceiverStats {
  /** Requests received, whatever became of them. */
  received: number;
  /** Callbacks recorded and answered 200. */
  applied: number;
  /** Requests refused (4xx): bad or missing signature, malformed, wrong method, too large. Nothing applied. */
  rejected: number;
  /** Callbacks answered 503 (ledger failed, too slow, or shutting down): Plivo retries them. */
  failed: number;
}

export interface Receiver {
  /** The local port (useful with port 0). */
  port: number;
  /** The local address, for messages: http://host:port */
  localUrl: string;
  readonly stats: Readonly<ReceiverStats>;
  /** Stops accepting, answers what is waiting (after applying it), then closes every connection. */
  close(): Promise<void>;
}

type Outcome = { status: 200 } | { status: 400 | 403 | 405 | 413; reason: string } | { status: 503; reason: string };

export async function startReceiver(o: ReceiverOptions): Promise<Receiver> {
  if (o.authToken === '') throw new UsageError('the callback receiver needs the Plivo auth token to check signatures');
  const publicUrl = checkCallbackUrl(o.publicUrl);
  const stats: ReceiverStats = { received: 0, applied: 0, rejected: 0, failed: 0 };
  const emit = (e: ReceiverEvent) => o.onEvent?.(e);
  const batcher = new MicroBatcher<ProviderUpdate>({
    maxItems: BATCH_ITEMS,
    maxWaitMs: BATCH_WAIT_MS,
    maxPending: MAX_WAITING,
    async flush(updates) {
      const started = Date.now();
      await o.apply(updates);
      emit({ kind: 'applied', count: updates.length, ms: Date.now() - started });
    },
  });
  let closing: Promise<void> | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    stats.received++;
    const outcome = closing
      ? ({ status: 503, reason: 'the receiver is shutting down' } as const)
      : await handleCallback(req, { publicUrl, authToken: o.authToken, batcher, inbound: o.inbound });
    count(stats, outcome, emit);
    answer(res, outcome, closing !== undefined);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      stats.failed++;
      emit({ kind: 'failed', reason: `unexpected: ${describe(err)}` });
      answer(res, { status: 503, reason: 'internal error' }, true);
    });
  });
  // A slow or silent client must not hold a connection for Node's default 5 minutes.
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  await listen(server, o.listen.host, o.listen.port);
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = o.listen.host.includes(':') ? `[${o.listen.host}]` : o.listen.host;

  return {
    port,
    localUrl: `http://${hostForUrl}:${port}`,
    stats,
    close() {
      closing ??= shutDown(server, batcher);
      return closing;
    },
  };
}

interface CallbackContext {
  publicUrl: string;
  authToken: string;
  batcher: MicroBatcher<ProviderUpdate>;
  inbound?: ((m: InboundMessage) => Promise<unknown>) | undefined;
}

/** From request to outcome: method, body, signature, fields, then recorded (or not) within the deadline. */
async function handleCallback(req: IncomingMessage, ctx: CallbackContext): Promise<Outcome> {
  const deadline = Date.now() + ANSWER_WITHIN_MS;
  const method = req.method ?? '';
  if (method !== 'GET' && method !== 'POST') return { status: 405, reason: `method ${method} is not GET or POST` };
  const body = await readBody(req, MAX_BODY_BYTES);
  if (body === null) return { status: 413, reason: `body over ${MAX_BODY_BYTES} bytes` };
  const rawQuery = rawQueryOf(req.url ?? '');
  const bodyFields = method === 'POST' ? parseBody(body, String(req.headers['content-type'] ?? '')) : {};
  if (bodyFields === null) return { status: 400, reason: 'the JSON body is not an object' };
  const signature = checkSignature(method, req.headers, signedUrlFor(ctx.publicUrl, rawQuery), bodyFields, ctx.authToken);
  if (!signature.ok) return { status: 403, reason: signature.reason };
  const query = new URLSearchParams(rawQuery);
  const fields = { ...fieldsOf(query), ...bodyFields };
  if (isInboundCallback(fields)) return handleInbound(fields, ctx, deadline);
  const update = parseCallback(fields, query);
  if ('invalid' in update) return { status: 400, reason: update.invalid };
  return recordWithin(ctx.batcher.add(update), deadline - Date.now());
}

async function handleInbound(fields: CallbackFields, ctx: CallbackContext, deadline: number): Promise<Outcome> {
  if (!ctx.inbound) return { status: 400, reason: 'an inbound message, but this receiver does not record them (smsrun webhook needs PLIVO_AUTH_ID for that)' };
  const m = parseInbound(fields);
  if ('invalid' in m) return { status: 400, reason: m.invalid };
  return recordWithin(ctx.inbound(m).then(() => undefined), deadline - Date.now());
}

type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** V3 (plain or -Ma-) when any V3 header is present; V2 only without one. See the file's comment. */
export function checkSignature(
  method: string, headers: IncomingHttpHeaders, signedUrl: string, params: SignatureParams, authToken: string,
): SignatureCheck {
  const v3 = [header(headers, 'x-plivo-signature-v3'), header(headers, 'x-plivo-signature-ma-v3')].filter((h) => h !== '');
  if (v3.length > 0) {
    const nonce = header(headers, 'x-plivo-signature-v3-nonce');
    if (nonce === '') return { ok: false, reason: 'X-Plivo-Signature-V3 without X-Plivo-Signature-V3-Nonce' };
    const matches = v3.map((sig) => validateV3Signature(method, signedUrl, nonce, authToken, sig, params));
    return matches.includes(true) ? { ok: true } : { ok: false, reason: 'X-Plivo-Signature-V3 does not match (wrong auth token, or the url, query or body changed)' };
  }
  const v2 = [header(headers, 'x-plivo-signature-v2'), header(headers, 'x-plivo-signature-ma-v2')].filter((h) => h !== '');
  if (v2.length > 0) {
    const nonce = header(headers, 'x-plivo-signature-v2-nonce');
    if (nonce === '') return { ok: false, reason: 'X-Plivo-Signature-V2 without X-Plivo-Signature-V2-Nonce' };
    const candidates = v2.flatMap((h) => h.split(','));
    const matches = candidates.map((sig) => validateV2Signature(signedUrl, nonce, authToken, sig));
    return matches.includes(true) ? { ok: true } : { ok: false, reason: 'X-Plivo-Signature-V2 does not match (wrong auth token, or another url)' };
  }
  return { ok: false, reason: 'no X-Plivo-Signature-V3 or X-Plivo-Signature-V2 header' };
}

async function recordWithin(recorded: Promise<void>, ms: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ status: 503, reason: `not recorded within ${ANSWER_WITHIN_MS} ms` }), Math.max(0, ms));
  });
  const done = recorded.then(
    (): Outcome => ({ status: 200 }),
    (err: unknown): Outcome => ({
      status: 503,
      reason: err instanceof BatcherFullError ? `too many callbacks waiting: ${err.message}` : `the ledger refused it: ${describe(err)}`,
    }),
  );
  try {
    return await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
}

function count(stats: ReceiverStats, outcome: Outcome, emit: (e: ReceiverEvent) => void): void {
  if (outcome.status === 200) {
    stats.applied++;
  } else if (outcome.status === 503) {
    stats.failed++;
    emit({ kind: 'failed', reason: outcome.reason });
  } else {
    stats.rejected++;
    emit({ kind: 'rejected', status: outcome.status, reason: outcome.reason });
  }
}

/** Short plain-text answers: the reason helps whoever runs the receiver, and names no secret. */
function answer(res: ServerResponse, outcome: Outcome, closeConnection: boolean): void {
  if (res.headersSent) return;
  const text = outcome.status === 200 ? 'OK' : outcome.status === 403 ? 'invalid signature' : outcome.reason;
  const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8' };
  if (outcome.status === 405) headers['Allow'] = 'GET, POST';
  // A body left unread (413), or a server going down, must not keep the connection.
  if (closeConnection || outcome.status === 413) headers['Connection'] = 'close';
  res.writeHead(outcome.status, headers).end(`${text}\n`);
}

/** The body as UTF-8 text, or null when it exceeds `limit` bytes (the rest is not read). */
function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  if (Number(req.headers['content-length'] ?? 0) > limit) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData).pause();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

/** Form fields, or a JSON object's scalar values as strings; null for JSON that is not an object. */
function parseBody(body: string, contentType: string): CallbackFields | null {
  if (!/\bjson\b/i.test(contentType)) return fieldsOf(new URLSearchParams(body));
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const fields: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(value)) {
    if (isScalar(v)) fields[k] = String(v);
    else if (Array.isArray(v) && v.every(isScalar)) fields[k] = v.map(String);
  }
  return fields;
}

function isScalar(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function fieldsOf(params: URLSearchParams): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    fields[key] = values.length === 1 ? (values[0] as string) : values;
  }
  return fields;
}

/** The query exactly as it arrived (not re-encoded): that is what Plivo signed. */
function rawQueryOf(url: string): string {
  const at = url.indexOf('?');
  return at < 0 ? '' : url.slice(at + 1);
}

/** A header's value; repeated headers joined with ',' (which the signature checks split on). */
function header(headers: IncomingHttpHeaders, name: string): string {
  const v = headers[name];
  return (Array.isArray(v) ? v.join(',') : v ?? '').trim();
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new UsageError(`cannot listen on ${host}:${port} for status callbacks (${err.code ?? err.message}): choose another --listen`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * Stop taking connections, answer every callback already waiting (once applied, or 503 at its
 * deadline), then close what is left. Responses sent meanwhile carry `Connection: close`, so keep-alive sockets go with them.
 */
async function shutDown(server: Server, batcher: MicroBatcher<ProviderUpdate>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Every waiting request is answered by its deadline anyway; a hung ledger must not hang the shutdown.
  let giveUp: NodeJS.Timeout | undefined;
  await Promise.race([batcher.drain(), new Promise((resolve) => { giveUp = setTimeout(resolve, ANSWER_WITHIN_MS + 500); })]);
  clearTimeout(giveUp);
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), 1000);
  await closed;
  clearTimeout(force);
}

/**
 * `--listen` values: ':8080' and '8080' (all interfaces), '127.0.0.1:8080', '[::1]:8080'. Port 0 picks
 * a free port.
 */
export function parseListen(value: string, flag = '--listen'): { host: string; port: number } {
  const m = /^(?:(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]*)):)?(\d{1,5})$/.exec(value.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535) {
    throw new UsageError(`${flag} takes [host]:port, like :8080, 127.0.0.1:8080 or [::1]:8080 (port 0-65535), not '${value}'`);
  }
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}
