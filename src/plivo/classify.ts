/**
 * The one place that decides what a send's answer means. Everything else
 * (retries, reconciliation, stopping a run) keys off the kind chosen here.
 */
import type { SendOutcome } from './outcome.js';

/** What came back over HTTP, reduced to what classification needs. */
export interface HttpAnswer {
  status: number;
  body: string;
  /** The Retry-After header, if any. */
  retryAfter?: string | null;
  /** When the request left and the answer was read (ms), and the Date header (ms), for clock skew. */
  timing?: { sentAt: number; receivedAt: number; date: number | null };
}

type NetworkOutcome = Extract<SendOutcome, { kind: 'retryable' | 'ambiguous' }>;

// Failures that happen before a connection exists, so no byte of the request
// can have reached Plivo. UND_ERR_CONNECT_TIMEOUT is undici's connect (TCP+TLS)
// timeout; the TLS codes are certificate checks, also before the request is written.
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const EXCERPT_CHARS = 200;

/** Classifies an HTTP answer to `POST /Message/`. `now` is for Retry-After dates. */
export function classifyResponse(answer: HttpAnswer, now: number = Date.now()): SendOutcome {
  const { status } = answer;
  const json = parseJson(answer.body);
  const apiError = documentedError(json);

  if (status >= 200 && status < 300) {
    const accepted = status === 202 ? acceptedBody(json) : null;
    if (accepted) return accepted;
    return {
      kind: 'ambiguous',
      status,
      reason:
        `HTTP ${status} with a body that is not Plivo's 202 answer (${excerpt(answer.body)}): ` +
        'the message(s) may have been queued',
      ...answeredBy(json),
    };
  }
  if (status === 401) {
    return { kind: 'auth', status, reason: apiError ?? `HTTP 401 (${excerpt(answer.body)})` };
  }
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(answer.retryAfter, now);
    const reason = apiError ?? 'too many requests';
    return retryAfterMs === undefined
      ? { kind: 'throttled', status, reason }
      : { kind: 'throttled', status, reason, retryAfterMs };
  }
  if (DOCUMENTED_REFUSALS.has(status) || (status === 403 && apiError !== null)) {
    return { kind: 'permanent', status, reason: apiError ?? `HTTP ${status} (${excerpt(answer.body)})` };
  }
  // Everything else may hide a request that went through: a 5xx (even with Plivo's own error body: no
  // document says it means nothing was queued, and no SDK retries a send), a redirect, an undocumented 4xx,
  // a proxy's page. Reconciliation looks it up; it is never sent again blindly.
  const said = apiError !== null ? `HTTP ${status} (${apiError})` : `HTTP ${status} without Plivo's JSON error body (${excerpt(answer.body)})`;
  const why = status >= 500
    ? apiError !== null ? 'no Plivo document says a 5xx means nothing was queued, so the message(s) may have been' : 'the message(s) may have been queued'
    : status >= 300 && status < 400
      ? 'an unexpected redirect (check the base URL); the message(s) may have been queued'
      : 'not one of the refusals Plivo documents (400, 401, 404, 429), so the message(s) may have been queued';
  return { kind: 'ambiguous', status, reason: `${said}: ${why}`, ...answeredBy(json) };
}

/** Plivo's api_id, when the body has one: its API answered, so it was done with the request by then. */
function answeredBy(json: unknown): { apiId?: string } {
  const apiId = isObject(json) ? json['api_id'] : undefined;
  return typeof apiId === 'string' && apiId !== '' ? { apiId } : {};
}

/**
 * Answers to a send that Plivo documents as refusals: nothing was queued (plivo-api.md). 401 and 429 are
 * handled above; 403 counts only with Plivo's own error body (geo permission, documented for sends).
 */
const DOCUMENTED_REFUSALS = new Set([400, 404]);


/**
 * Classifies a rejected fetch. undici rejects with `TypeError: fetch failed`
 * whose `cause` has the system or undici error code; AbortSignal.timeout
 * rejects with a DOMException named TimeoutError.
 */
export function classifyNetworkError(err: unknown, timeoutMs?: number): NetworkOutcome {
  const detail = networkErrorDetail(err, timeoutMs);
  const codes = errorCodes(err);
  if (!isTimeout(err) && codes.length > 0 && codes.every((c) => NOT_SENT.has(c))) {
    return { kind: 'retryable', reason: `could not connect (${detail}): nothing was sent` };
  }
  return { kind: 'ambiguous', reason: `${detail}: the message(s) may have been queued` };
}

/** What went wrong, in a few words: "no answer within 30000 ms", "ECONNRESET". Shared with the reads. */
export function networkErrorDetail(err: unknown, timeoutMs?: number): string {
  if (isTimeout(err)) return timeoutMs === undefined ? 'no answer' : `no answer within ${timeoutMs} ms`;
  const codes = errorCodes(err);
  return codes.length > 0 ? codes.join(', ') : describe(err);
}

function isTimeout(err: unknown): boolean {
  const name = err instanceof Error || err instanceof DOMException ? err.name : '';
  return name === 'TimeoutError' || name === 'AbortError';
}

/** Retry-After in milliseconds: delta-seconds or an HTTP date. Undefined if absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function acceptedBody(json: unknown): SendOutcome | null {
  if (!isObject(json)) return null;
  const uuids = json['message_uuid'];
  const invalid = json['invalid_number'] ?? [];
  if (!isStringArray(uuids) || !isStringArray(invalid)) return null;
  const apiId = typeof json['api_id'] === 'string' ? json['api_id'] : '';
  return { kind: 'accepted', apiId, messageUuids: uuids, invalidNumbers: invalid };
}

/** Plivo's documented error body is `{"api_id"?, "error": "<sentence>"}`. */
function documentedError(json: unknown): string | null {
  if (!isObject(json)) return null;
  const error = json['error'];
  return typeof error === 'string' && error.trim() !== '' ? error : null;
}

/** Codes from undici's cause, including each attempt of an AggregateError (several addresses tried). */
function errorCodes(err: unknown): string[] {
  const cause = isObject(err) && 'cause' in err ? err['cause'] : err;
  const found = new Set<string>();
  const collect = (e: unknown) => {
    if (isObject(e) && typeof e['code'] === 'string') found.add(e['code']);
  };
  if (isObject(cause) && Array.isArray(cause['errors']) && cause['errors'].length > 0) {
    cause['errors'].forEach(collect);
  } else {
    collect(cause);
  }
  return [...found];
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.name}: ${err.message}${cause}`;
  }
  return String(err);
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

function excerpt(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  if (flat === '') return 'empty body';
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}
