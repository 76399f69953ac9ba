/**
 * Signatures of Plivo's status callbacks: HMAC-SHA256 keyed with the auth
 * token, base64 with padding. Prefer V3 when both families are present.
 *
 * V2 (`X-Plivo-Signature-V2`, nonce in `X-Plivo-Signature-V2-Nonce`) signs
 *   scheme://host[:port]path + nonce          (query dropped, no separator)
 *
 * V3 (`X-Plivo-Signature-V3`, nonce in `X-Plivo-Signature-V3-Nonce`) signs
 *   GET:  base + ('?' + sorted k=v&k=v of the URL query and params merged, if any)
 *   POST: base + ('?' + [sorted k=v&… of the URL query + '.'] + sorted k1v1k2v2… of the params, if any params;
 *                 else '?' + sorted query, if any)
 *   then '.' + nonce.
 * Keys sort by UTF-16 code unit and the values of a repeated key sort too,
 * matching the official node SDK. Query values are percent-decoded first.
 * Text is hashed as UTF-8 (the SDK double-encodes non-ASCII; ASCII agrees).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Callback parameters: a form body (POST) or extra query values (GET). Repeated keys as arrays. */
export type SignatureParams = Readonly<Record<string, string | readonly string[]>>;

export function computeV2Signature(uri: string, nonce: string, authToken: string): string {
  return hmac(authToken, splitUri(uri).base + nonce);
}

export function validateV2Signature(uri: string, nonce: string, authToken: string, signature: string): boolean {
  return safeEqual(signature.trim(), computeV2Signature(uri, nonce, authToken));
}

export function computeV3Signature(
  method: string,
  uri: string,
  nonce: string,
  authToken: string,
  params: SignatureParams = {},
): string {
  return hmac(authToken, `${v3Payload(method.toUpperCase(), uri, params)}.${nonce}`);
}

/**
 * True if any of the comma-separated signatures in `signatureHeader` matches
 * (Plivo sends several while an auth token is being rotated). False, not a
 * throw, for a method other than GET or POST: such a request is not Plivo's.
 */
export function validateV3Signature(
  method: string,
  uri: string,
  nonce: string,
  authToken: string,
  signatureHeader: string,
  params: SignatureParams = {},
): boolean {
  const upper = method.toUpperCase();
  if (upper !== 'GET' && upper !== 'POST') return false;
  const expected = computeV3Signature(upper, uri, nonce, authToken, params);
  // Compare every candidate, without stopping early, so timing does not reveal which matched.
  return signatureHeader
    .split(',')
    .map((candidate) => safeEqual(candidate.trim(), expected))
    .includes(true);
}

function v3Payload(method: string, uri: string, params: SignatureParams): string {
  const { base, query } = splitUri(uri);
  const fromQuery = queryEntries(query);
  const fromParams = paramEntries(params);
  if (method === 'GET') {
    const merged = sortEntries([...fromQuery, ...fromParams]);
    return merged.length === 0 ? base : `${base}?${joinQuery(merged)}`;
  }
  if (method !== 'POST') throw new TypeError(`V3 signatures cover GET and POST only, not ${method}`);
  const sortedQuery = sortEntries(fromQuery);
  if (fromParams.length === 0) return sortedQuery.length === 0 ? base : `${base}?${joinQuery(sortedQuery)}`;
  const queryPart = sortedQuery.length === 0 ? '' : `${joinQuery(sortedQuery)}.`;
  const paramPart = sortEntries(fromParams)
    .map(([k, v]) => k + v)
    .join('');
  return `${base}?${queryPart}${paramPart}`;
}

/** `scheme://host[:port]path` without user info, query or fragment, and the raw query. */
function splitUri(uri: string): { base: string; query: string } {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)(?:[^@/?#]*@)?([^/?#]*)([^?#]*)(?:\?([^#]*))?/.exec(uri);
  if (!m) throw new TypeError(`signature: '${uri}' is not an absolute URL`);
  const [, scheme = '', host = '', path = '', query = ''] = m;
  return { base: scheme + host + path, query };
}

type Entry = [key: string, value: string];

function queryEntries(query: string): Entry[] {
  return [...new URLSearchParams(query)];
}

function paramEntries(params: SignatureParams): Entry[] {
  return Object.entries(params).flatMap(([key, value]): Entry[] =>
    typeof value === 'string' ? [[key, value]] : value.map((v): Entry => [key, v]),
  );
}

function sortEntries(entries: Entry[]): Entry[] {
  const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...entries].sort(([ka, va], [kb, vb]) => byCodeUnit(ka, kb) || byCodeUnit(va, vb));
}

function joinQuery(entries: Entry[]): string {
  return entries.map(([k, v]) => `${k}=${v}`).join('&');
}

function hmac(key: string, payload: string): string {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(payload, 'utf8').digest('base64');
}

function safeEqual(candidate: string, expected: string): boolean {
  const a = Buffer.from(candidate, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
