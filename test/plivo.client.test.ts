import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PlivoApiError, PlivoClient } from '../src/plivo/client.js';

const AUTH_ID = 'MAXXXXXXXXXXXXXXXXXX';
const AUTH_TOKEN = 'ZmFrZS10b2tlbi1mb3ItdGVzdHMtb25seS0xMjM0NQ';
const CREDENTIAL = Buffer.from(`${AUTH_ID}:${AUTH_TOKEN}`).toString('base64');
const MESSAGE_PATH = `/v1/Account/${AUTH_ID}/Message/`;

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A one-test HTTP server on 127.0.0.1 that records what it was sent. */
async function serve(handler: Handler): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const reply =
  (status: number, body: unknown, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const type = typeof body === 'string' ? 'text/html' : 'application/json';
    res.writeHead(status, { 'Content-Type': type, ...headers }).end(text);
  };

const client = (base: string, timeoutMs?: number) =>
  new PlivoClient({ authId: AUTH_ID, authToken: AUTH_TOKEN, baseUrl: base, ...(timeoutMs ? { timeoutMs } : {}) });

const SMS = { src: '14155550000', dst: ['14155550001', '14155550002'], text: 'Hi' } as const;

const MDR = {
  api_id: 'a1',
  message_uuid: 'u1',
  message_time: '2024-05-01 17:30:00.123456+05:30',
  message_direction: 'outbound',
  message_state: 'delivered',
  message_type: 'sms',
  from_number: '14155550000',
  to_number: '14155550001',
  units: 2,
  total_rate: '0.00500',
  total_amount: '0.01000',
  error_code: '000',
};

describe('PlivoClient.send', () => {
  it('posts JSON with Basic auth to the Message endpoint and returns the accepted uuids', async () => {
    const { base, seen } = await serve(reply(202, { api_id: 'a1', message: 'message(s) queued', message_uuid: ['u2', 'u1'], invalid_number: ['1111111'] }));
    const outcome = await client(base).send({ ...SMS, dst: ['14155550001', '1111111', '14155550002'], url: 'https://cb.example/s', method: 'POST', log: false, messageExpiry: 600, powerpackUuid: undefined });
    expect(outcome).toEqual({ kind: 'accepted', apiId: 'a1', messageUuids: ['u2', 'u1'], invalidNumbers: ['1111111'] });
    expect(seen).toHaveLength(1);
    const [req] = seen;
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe(MESSAGE_PATH);
    expect(req?.headers['authorization']).toBe(`Basic ${CREDENTIAL}`);
    expect(req?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req?.body ?? '')).toEqual({
      src: '14155550000',
      dst: '14155550001<1111111<14155550002',
      text: 'Hi',
      url: 'https://cb.example/s',
      method: 'POST',
      log: false,
      message_expiry: 600,
    });
  });

  it('returns an empty invalidNumbers when Plivo omits invalid_number', async () => {
    const { base } = await serve(reply(202, { api_id: 'a1', message: 'message(s) queued', message_uuid: ['u1', 'u2'] }));
    expect(await client(base).send(SMS)).toEqual({ kind: 'accepted', apiId: 'a1', messageUuids: ['u1', 'u2'], invalidNumbers: [] });
  });

  it('sends MMS fields and a powerpack under their API names', async () => {
    const { base, seen } = await serve(reply(202, { api_id: 'a1', message_uuid: ['u1'] }));
    await client(base).send({ powerpackUuid: 'pp-1', dst: ['14155550001'], type: 'mms', mediaUrls: ['https://m.example/a.png'], trackable: true });
    expect(JSON.parse(seen[0]?.body ?? '')).toEqual({ powerpack_uuid: 'pp-1', dst: '14155550001', type: 'mms', media_urls: ['https://m.example/a.png'], trackable: true });
  });

  it.each([
    ["'1111111' is not a valid phone number."],
    ['invalid phone numbers.'],
    ['text parameter length exceeds 737 unicode characters'],
  ])('reports a 400 "%s" as permanent', async (error) => {
    const { base } = await serve(reply(400, { api_id: 'a1', error }));
    expect(await client(base).send(SMS)).toEqual({ kind: 'permanent', status: 400, reason: error });
  });

  it('reports a 401 without api_id as auth', async () => {
    const { base } = await serve(reply(401, { error: 'authentication credentials were not provided' }));
    expect(await client(base).send(SMS)).toEqual({ kind: 'auth', status: 401, reason: 'authentication credentials were not provided' });
  });

  it('reports a 429 with its Retry-After', async () => {
    const { base } = await serve(reply(429, { api_id: 'a1', error: 'too many requests' }, { 'Retry-After': '3' }));
    expect(await client(base).send(SMS)).toEqual({ kind: 'throttled', status: 429, reason: 'too many requests', retryAfterMs: 3000 });
  });

  it('reports a 500 HTML page as ambiguous', async () => {
    const { base } = await serve(reply(500, '<html><body>Internal Server Error</body></html>'));
    expect(await client(base).send(SMS)).toMatchObject({ kind: 'ambiguous', status: 500 });
  });

  it("reports a 500 with Plivo's JSON error as ambiguous (no document says nothing was queued)", async () => {
    const { base } = await serve(reply(500, { api_id: 'a1', error: 'internal server error' }));
    expect(await client(base).send(SMS)).toMatchObject({ kind: 'ambiguous', status: 500 });
  });

  it('reports a connection destroyed after the request as ambiguous', async () => {
    const { base, seen } = await serve((req) => req.socket.destroy());
    const outcome = await client(base).send(SMS);
    expect(seen).toHaveLength(1);
    expect(outcome.kind).toBe('ambiguous');
    expect(outcome).not.toHaveProperty('status');
  });

  it('reports a body cut off after a 202 status line as ambiguous, with the status', async () => {
    const { base } = await serve((_req, res) => {
      res.writeHead(202, { 'Content-Type': 'application/json', 'Content-Length': '500' });
      res.write('{"api_id":"a1","message_uuid":["u');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    expect(await client(base).send(SMS)).toMatchObject({ kind: 'ambiguous', status: 202 });
  });

  it('reports a server that never answers as ambiguous after timeoutMs', async () => {
    const { base } = await serve(() => undefined);
    // Without the timeout this would hang until vitest gives up: the answer itself is the proof, not a stopwatch.
    const outcome = await client(base, 150).send(SMS);
    expect(outcome).toEqual({ kind: 'ambiguous', reason: 'no answer within 150 ms: the message(s) may have been queued' });
  });

  it('reports a refused connection as retryable', async () => {
    const port = await closedPort();
    expect(await client(`http://127.0.0.1:${port}`).send(SMS)).toEqual({ kind: 'retryable', reason: 'could not connect (ECONNREFUSED): nothing was sent' });
  });

  it('does not follow a redirect, which would turn the POST into a GET', async () => {
    const { base, seen } = await serve(reply(302, '', { Location: '/elsewhere/' }));
    // Not a documented refusal, so ambiguous (issue 10 item 2); the reason still points at the base URL.
    expect(await client(base).send(SMS)).toMatchObject({ kind: 'ambiguous', status: 302, reason: expect.stringContaining('check the base URL') });
    expect(seen).toHaveLength(1);
  });

  it('refuses a malformed request before sending anything', async () => {
    const c = client('http://127.0.0.1:9');
    await expect(c.send({ dst: ['14155550001'], text: 'x' })).rejects.toThrow('exactly one of src and powerpackUuid');
    await expect(c.send({ ...SMS, dst: [] })).rejects.toThrow('1 to 1000 numbers');
    await expect(c.send({ ...SMS, dst: Array.from({ length: 1001 }, (_, i) => String(14155550000 + i)) })).rejects.toThrow('got 1001');
    await expect(c.send({ ...SMS, dst: ['14155550001', '14155550001'] })).rejects.toThrow('holds a number twice');
    await expect(c.send({ ...SMS, dst: ['1<2'] })).rejects.toThrow("contains '<'");
  });
});

describe('PlivoClient reads', () => {
  it('gets one message by uuid and parses it', async () => {
    const { base, seen } = await serve(reply(200, MDR));
    const mdr = await client(base).getMessage('u1');
    expect(seen[0]?.url).toBe(`${MESSAGE_PATH}u1/`);
    expect(seen[0]?.method).toBe('GET');
    expect(mdr).toMatchObject({ messageUuid: 'u1', state: 'delivered', units: 2, totalAmount: '0.01000', errorCode: '000' });
    expect(mdr?.messageTime.toISOString()).toBe('2024-05-01T12:00:00.123Z');
  });

  it('returns null for an unknown uuid', async () => {
    const { base } = await serve(reply(404, { api_id: 'a1', error: 'not found' }));
    expect(await client(base).getMessage('nope')).toBeNull();
  });

  it('throws a typed error on 401, 429, a 500 page and a timeout', async () => {
    const cases: [Handler, Partial<PlivoApiError>][] = [
      [reply(401, { error: 'authentication credentials were not provided' }), { kind: 'auth', status: 401 }],
      [reply(429, { error: 'too many requests' }, { 'Retry-After': '60' }), { kind: 'throttled', status: 429, retryAfterMs: 60_000 }],
      [reply(502, '<html>bad gateway</html>'), { kind: 'retryable', status: 502 }],
      [() => undefined, { kind: 'retryable' }],
    ];
    for (const [handler, expected] of cases) {
      const { base } = await serve(handler);
      const err = await client(base, 150).getMessage('u1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PlivoApiError);
      expect(err).toMatchObject(expected);
      expect((err as Error).message).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/v1\/Account\/MAX+\/Message\/u1\/.*(ask again|too many|credentials)/);
    }
  });

  it('refuses a 200 whose body is not a message record', async () => {
    const { base } = await serve(reply(200, { api_id: 'a1' }));
    await expect(client(base).getMessage('u1')).rejects.toMatchObject({ kind: 'permanent', status: 200 });
  });

  it('lists with filters in the query, UTC times and E.164 numbers', async () => {
    const page = {
      api_id: 'a2',
      meta: { limit: 20, offset: 0, next: `${MESSAGE_PATH}?limit=20&offset=20`, previous: null, total_count: 21 },
      objects: [MDR],
    };
    const { base, seen } = await serve(reply(200, page));
    const result = await client(base).listMessages({
      limit: 20,
      message_direction: 'outbound',
      to_number: '14155550001',
      message_time__gte: new Date('2024-05-01T02:00:00+02:00'),
    });
    const url = new URL(seen[0]?.url ?? '', base);
    expect(url.pathname).toBe(MESSAGE_PATH);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      limit: '20',
      message_direction: 'outbound',
      to_number: '+14155550001',
      message_time__gte: '2024-05-01 00:00:00.000000',
    });
    expect(result.next).toBe(`${MESSAGE_PATH}?limit=20&offset=20`);
    expect(result.totalCount).toBe(21);
    expect(result.objects.map((m) => m.messageUuid)).toEqual(['u1']);
  });

  it('follows next as a path on the configured host and ends on an empty next', async () => {
    const { base, seen } = await serve(reply(200, { meta: { next: '' }, objects: [] }));
    const page = await client(base).listNext(`${MESSAGE_PATH}?limit=20&offset=20`);
    expect(seen[0]?.url).toBe(`${MESSAGE_PATH}?limit=20&offset=20`);
    expect(page).toMatchObject({ objects: [], unreadable: [], next: null });
    expect(page.answered?.date).toEqual(expect.any(Number)); // Plivo's Date header, for clock skew
  });

  it('will not follow next to another host', async () => {
    await expect(client('http://127.0.0.1:9').listNext('https://evil.example/v1/')).rejects.toThrow(TypeError);
  });

  it('refuses a limit above 20', async () => {
    await expect(client('http://127.0.0.1:9').listMessages({ limit: 50 })).rejects.toThrow('limit must be 1 to 20');
  });
});

describe('the auth token', () => {
  it('never appears in outcomes, errors or their causes', async () => {
    // A misbehaving proxy that echoes the request headers back in its error page.
    const echo: Handler = (req, res) => res.writeHead(500, { 'Content-Type': 'text/html' }).end(`<pre>${req.headers['authorization']} ${AUTH_TOKEN}</pre>`);
    const { base: echoBase } = await serve(echo);
    const { base: hungBase } = await serve(() => undefined);
    const { base: resetBase } = await serve((req) => req.socket.destroy());
    const refusedBase = `http://127.0.0.1:${await closedPort()}`;

    const seen: unknown[] = [];
    for (const base of [echoBase, hungBase, resetBase, refusedBase]) {
      const c = client(base, 150);
      seen.push(await c.send(SMS));
      seen.push(await c.getMessage('u1').catch((e: unknown) => e));
      seen.push(await c.listMessages({}).catch((e: unknown) => e));
    }
    seen.push(client(echoBase));

    expect(seen.filter((x) => x instanceof PlivoApiError)).toHaveLength(8);
    for (const thing of seen) {
      const shown = inspect(thing, { depth: Infinity, showHidden: true }) + JSON.stringify(thing) + String(thing);
      expect(shown).not.toContain(AUTH_TOKEN);
      expect(shown).not.toContain(CREDENTIAL);
    }
    expect(JSON.stringify(seen[0])).toContain('[redacted]');
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
