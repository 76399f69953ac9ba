import { describe, expect, it } from 'vitest';
import { classifyNetworkError, classifyResponse, parseRetryAfter } from '../src/plivo/classify.js';

const NOW = Date.parse('2024-05-01T12:00:00Z');
const json = (v: unknown) => JSON.stringify(v);

describe('classifyResponse', () => {
  it.each([
    [
      '202 with invalid_number',
      { status: 202, body: json({ api_id: 'a1', message: 'message(s) queued', message_uuid: ['u1', 'u2'], invalid_number: ['1111111'] }) },
      { kind: 'accepted', apiId: 'a1', messageUuids: ['u1', 'u2'], invalidNumbers: ['1111111'] },
    ],
    [
      '202 without invalid_number',
      { status: 202, body: json({ api_id: 'a1', message: 'message(s) queued', message_uuid: ['u1'] }) },
      { kind: 'accepted', apiId: 'a1', messageUuids: ['u1'], invalidNumbers: [] },
    ],
    ['202 that is not JSON', { status: 202, body: 'queued' }, { kind: 'ambiguous', status: 202 }],
    ['202 without message_uuid', { status: 202, body: json({ api_id: 'a1' }) }, { kind: 'ambiguous', status: 202 }],
    ['200 instead of 202', { status: 200, body: json({ api_id: 'a1', message_uuid: ['u1'] }) }, { kind: 'ambiguous', status: 200 }],
    [
      '400 one bad number',
      { status: 400, body: json({ api_id: 'a1', error: "'1111111' is not a valid phone number." }) },
      { kind: 'permanent', status: 400, reason: "'1111111' is not a valid phone number." },
    ],
    [
      '400 every number bad',
      { status: 400, body: json({ api_id: 'a1', error: 'invalid phone numbers.' }) },
      { kind: 'permanent', status: 400, reason: 'invalid phone numbers.' },
    ],
    [
      '400 text too long',
      { status: 400, body: json({ api_id: 'a1', error: 'text parameter length exceeds 737 unicode characters' }) },
      { kind: 'permanent', status: 400, reason: 'text parameter length exceeds 737 unicode characters' },
    ],
    [
      '401 without api_id',
      { status: 401, body: json({ error: 'authentication credentials were not provided' }) },
      { kind: 'auth', status: 401, reason: 'authentication credentials were not provided' },
    ],
    ['401 empty', { status: 401, body: '' }, { kind: 'auth', status: 401, reason: 'HTTP 401 (empty body)' }],
    ['403 geo permission', { status: 403, body: json({ api_id: 'a', error: 'geo permission' }) }, { kind: 'permanent', status: 403, reason: 'geo permission' }],
    ['404', { status: 404, body: json({ api_id: 'a', error: 'not found' }) }, { kind: 'permanent', status: 404, reason: 'not found' }],
    // Not a documented refusal: the request may have been queued (issue 10 item 2).
    ['403 HTML from a proxy', { status: 403, body: '<h1>Forbidden</h1>' }, { kind: 'ambiguous', status: 403 }],
    ['413 HTML', { status: 413, body: '<h1>Too large</h1>' }, { kind: 'ambiguous', status: 413 }],
    ['409 JSON error', { status: 409, body: json({ api_id: 'a', error: 'conflict' }) }, { kind: 'ambiguous', status: 409 }],
    ['402 JSON error', { status: 402, body: json({ error: 'payment required' }) }, { kind: 'ambiguous', status: 402 }],
    ['429 with seconds', { status: 429, body: json({ error: 'too many requests' }), retryAfter: '7' }, { kind: 'throttled', status: 429, reason: 'too many requests', retryAfterMs: 7000 }],
    ['429 with a date', { status: 429, body: '', retryAfter: 'Wed, 01 May 2024 12:00:30 GMT' }, { kind: 'throttled', status: 429, reason: 'too many requests', retryAfterMs: 30_000 }],
    ['429 without Retry-After', { status: 429, body: '' }, { kind: 'throttled', status: 429, reason: 'too many requests' }],
    // No document says a 5xx means nothing was queued, and no SDK retries a send: ambiguous, even with Plivo's body.
    ['500 JSON error', { status: 500, body: json({ api_id: 'a', error: 'internal error' }) }, { kind: 'ambiguous', status: 500 }],
    ['503 JSON error without api_id', { status: 503, body: json({ error: 'service unavailable' }) }, { kind: 'ambiguous', status: 503 }],
    ['500 HTML', { status: 500, body: '<html>oops</html>' }, { kind: 'ambiguous', status: 500 }],
    ['502 JSON that is not an error', { status: 502, body: json({ message: 'bad gateway' }) }, { kind: 'ambiguous', status: 502 }],
    ['301 redirect', { status: 301, body: '' }, { kind: 'ambiguous', status: 301 }],
  ])('%s', (_title, answer, expected) => {
    const outcome = classifyResponse(answer, NOW);
    expect(outcome).toMatchObject(expected);
    if (expected.kind === 'throttled' && !('retryAfterMs' in expected)) expect(outcome).not.toHaveProperty('retryAfterMs');
  });

  it("says why a 5xx with Plivo's own error body is still ambiguous", () => {
    expect(classifyResponse({ status: 503, body: json({ api_id: 'a', error: 'service unavailable' }) })).toEqual({
      kind: 'ambiguous',
      status: 503,
      reason: "HTTP 503 (service unavailable): no Plivo document says a 5xx means nothing was queued, so the message(s) may have been",
      apiId: 'a', // Plivo's API answered: the reconciliation window can end at the answer
    });
  });

  it("keeps Plivo's api_id of an ambiguous answer only when its JSON has one (a proxy's page has none)", () => {
    expect(classifyResponse({ status: 500, body: json({ api_id: 'a', error: 'internal error' }) })).toHaveProperty('apiId', 'a');
    expect(classifyResponse({ status: 200, body: json({ api_id: 'b', message_uuid: ['u1'] }) })).toHaveProperty('apiId', 'b');
    expect(classifyResponse({ status: 503, body: json({ error: 'service unavailable' }) })).not.toHaveProperty('apiId');
    expect(classifyResponse({ status: 502, body: '<html>bad gateway</html>' })).not.toHaveProperty('apiId');
  });

  it('says why a 5xx HTML body is ambiguous', () => {
    expect(classifyResponse({ status: 500, body: '<html>\n  oops\n</html>' })).toEqual({
      kind: 'ambiguous',
      status: 500,
      reason: "HTTP 500 without Plivo's JSON error body (<html> oops </html>): the message(s) may have been queued",
    });
  });
});

describe('classifyNetworkError', () => {
  const fetchFailed = (cause: unknown) => new TypeError('fetch failed', { cause });
  const sys = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

  it.each(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT'])(
    '%s is retryable: nothing was sent',
    (code) => {
      expect(classifyNetworkError(fetchFailed(sys(code)))).toEqual({ kind: 'retryable', reason: `could not connect (${code}): nothing was sent` });
    },
  );

  it.each(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_HEADERS_TIMEOUT'])('%s is ambiguous', (code) => {
    expect(classifyNetworkError(fetchFailed(sys(code)))).toMatchObject({ kind: 'ambiguous' });
  });

  it('treats an AggregateError as retryable only if every attempt failed before connecting', () => {
    const refusedTwice = Object.assign(new AggregateError([sys('ECONNREFUSED'), sys('ENETUNREACH')]), { code: 'ECONNREFUSED' });
    expect(classifyNetworkError(fetchFailed(refusedTwice)).kind).toBe('retryable');
    const oneReset = new AggregateError([sys('ECONNREFUSED'), sys('ECONNRESET')]);
    expect(classifyNetworkError(fetchFailed(oneReset)).kind).toBe('ambiguous');
  });

  it('treats a timeout as ambiguous', () => {
    expect(classifyNetworkError(new DOMException('timed out', 'TimeoutError'), 30_000)).toEqual({
      kind: 'ambiguous',
      reason: 'no answer within 30000 ms: the message(s) may have been queued',
    });
    expect(classifyNetworkError(new DOMException('aborted', 'AbortError')).kind).toBe('ambiguous');
  });

  it('treats an unknown error as ambiguous', () => {
    expect(classifyNetworkError(new TypeError('fetch failed')).kind).toBe('ambiguous');
    expect(classifyNetworkError('weird').kind).toBe('ambiguous');
  });
});

describe('parseRetryAfter', () => {
  it.each([
    ['12', 12_000],
    ['1.5', 1_500],
    ['Wed, 01 May 2024 12:01:00 GMT', 60_000],
    ['Wed, 01 May 2024 11:00:00 GMT', 0],
    ['soon', undefined],
    ['', undefined],
    [null, undefined],
  ])('%j → %j', (value, ms) => {
    expect(parseRetryAfter(value, NOW)).toBe(ms);
  });
});
