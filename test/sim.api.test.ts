import { request } from 'node:http';
import { afterEach, describe, expect, test } from 'vitest';
import { startSimulator, type Simulator, type SimOptions } from '../src/sim/index.js';
import { waitFor } from './helpers/wait.js';

// The simulator's HTTP surface, spoken to with plain fetch: routes, auth,
// validation of a send, the List API, account limits and injected faults.

const open: Simulator[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function sim(opts: SimOptions = {}): Promise<Simulator> {
  const s = await startSimulator({ mps: 1000, deliveryDelayMs: [5, 10], seed: 7, ...opts });
  open.push(s);
  return s;
}

interface Answer {
  status: number;
  text: string;
  body: any;
  contentType: string;
}

type Auth = 'good' | 'none' | { id: string; token: string };

async function call(
  s: Simulator,
  method: string,
  path: string,
  init: { json?: unknown; form?: Record<string, string>; auth?: Auth } = {},
): Promise<Answer> {
  const auth = init.auth ?? 'good';
  const headers: Record<string, string> = {};
  if (auth !== 'none') {
    const { id, token } = auth === 'good' ? { id: s.authId, token: s.authToken } : auth;
    headers.Authorization = 'Basic ' + Buffer.from(`${id}:${token}`).toString('base64');
  }
  let body: string | undefined;
  if (init.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(init.json);
  } else if (init.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  }
  const res = await fetch(s.url + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, text, body: parsed, contentType: res.headers.get('content-type') ?? '' };
}

const messagesPath = (s: Simulator) => `/v1/Account/${s.authId}/Message/`;
const send = (s: Simulator, json: Record<string, unknown>) => call(s, 'POST', messagesPath(s), { json });
const TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?\+05:30$/;

describe('routes and auth', () => {
  test('missing credentials get 401 without api_id, as Plivo answers', async () => {
    const s = await sim();
    const a = await call(s, 'GET', messagesPath(s), { auth: 'none' });
    expect(a.status).toBe(401);
    expect(a.body).toEqual({ error: 'authentication credentials were not provided' });
  });

  test('wrong credentials, or another account in the path, get 401 with api_id', async () => {
    const s = await sim();
    const wrong = await call(s, 'GET', messagesPath(s), { auth: { id: s.authId, token: 'nope' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.api_id).toEqual(expect.any(String));
    const other = await call(s, 'GET', '/v1/Account/MAOTHERACCOUNT0000000/Message/');
    expect(other.status).toBe(401);
    expect(s.stats().unauthorized).toBe(2);
  });

  test('unknown paths and unknown uuids are 404 not found', async () => {
    const s = await sim();
    const path = await call(s, 'GET', `/v1/Account/${s.authId}/Call/`);
    expect(path.status).toBe(404);
    expect(path.body).toEqual({ api_id: expect.any(String), error: 'not found' });
    const uuid = await call(s, 'GET', `${messagesPath(s)}0936ec98-7c4c-11e4-9bd8-22000afa12b9/`);
    expect(uuid.status).toBe(404);
    expect(uuid.body.error).toBe('not found');
  });

  test('paths work with and without the trailing slash', async () => {
    const s = await sim();
    const created = await send(s, { src: '14155550100', dst: '14155550101', text: 'hi' });
    const uuid = created.body.message_uuid[0];
    expect((await call(s, 'GET', `/v1/Account/${s.authId}/Message`)).status).toBe(200);
    expect((await call(s, 'GET', `${messagesPath(s)}${uuid}`)).status).toBe(200);
    expect((await call(s, 'POST', `/v1/Account/${s.authId}/Message`, { json: { src: '14155550100', dst: '14155550102', text: 'x' } })).status).toBe(202);
  });

  test('the inspection endpoints need the same credentials and return JSON', async () => {
    const s = await sim();
    await send(s, { src: '14155550100', dst: '14155550101<14155550102', text: 'hi' });
    expect((await call(s, 'GET', '/__sim/messages', { auth: 'none' })).status).toBe(401);
    const messages = await call(s, 'GET', '/__sim/messages');
    expect(messages.body.map((m: { to: string }) => m.to)).toEqual(['14155550101', '14155550102']);
    const log = await call(s, 'GET', '/__sim/accept-log');
    expect(log.body).toEqual([{ src: '14155550100', at: expect.any(Number), count: 2, units: 2 }]);
    const stats = await call(s, 'GET', '/__sim/stats');
    expect(stats.body.requests).toBe(1);
  });
});

describe('sending', () => {
  test('a send answers 202 with one uuid per number and no invalid_number when all are valid', async () => {
    const s = await sim();
    const a = await send(s, { src: '14155550100', dst: '14155550101<14155550102', text: 'hello' });
    expect(a.status).toBe(202);
    expect(a.body).toEqual({
      api_id: expect.any(String),
      message: 'message(s) queued',
      message_uuid: [expect.any(String), expect.any(String)],
    });
    expect(s.messages().map((m) => m.uuid).sort()).toEqual([...a.body.message_uuid].sort());
  });

  test('a form-encoded send is accepted like a JSON one', async () => {
    const s = await sim();
    const a = await call(s, 'POST', messagesPath(s), {
      form: { src: '14155550100', dst: '14155550101', text: 'form body', url: 'http://127.0.0.1:9/cb', method: 'GET' },
    });
    expect(a.status).toBe(202);
    const [m] = s.messages();
    expect(m).toMatchObject({ text: 'form body', url: 'http://127.0.0.1:9/cb', method: 'GET' });
  });

  test('numbers are sanitised and duplicates removed', async () => {
    const s = await sim();
    const a = await send(s, { src: '+1 (415) 555-0100', dst: '+1 (415) 555-0101<14155550101<1415.555.0102<', text: 'x' });
    expect(a.status).toBe(202);
    expect(a.body.message_uuid).toHaveLength(2);
    expect(s.messages().map((m) => [m.from, m.to])).toEqual([
      ['14155550100', '14155550101'],
      ['14155550100', '14155550102'],
    ]);
  });

  test('invalid numbers are listed in invalid_number and the rest are sent', async () => {
    const s = await sim();
    const a = await send(s, { src: '14155550100', dst: '14155550101<9991234567890<12345<0412345678', text: 'x' });
    expect(a.status).toBe(202);
    expect(a.body.message_uuid).toHaveLength(1);
    expect(a.body.invalid_number).toEqual(['9991234567890', '12345', '0412345678']);
    expect(s.stats().accepted.invalidNumbers).toBe(3);
  });

  test('a single invalid number and all-invalid numbers are refused with Plivo sentences', async () => {
    const s = await sim();
    const one = await send(s, { src: '14155550100', dst: '9991234567', text: 'x' });
    expect(one.status).toBe(400);
    expect(one.body).toEqual({ api_id: expect.any(String), error: "'9991234567' is not a valid phone number." });
    const all = await send(s, { src: '14155550100', dst: '1234<9991234567', text: 'x' });
    expect(all.status).toBe(400);
    expect(all.body.error).toBe('invalid phone numbers.');
    expect(s.messages()).toHaveLength(0);
  });

  test('1000 unique numbers are accepted, 1001 are refused', async () => {
    const s = await sim();
    const numbers = Array.from({ length: 1001 }, (_, i) => String(14155500000 + i));
    const ok = await send(s, { src: '14155550100', dst: numbers.slice(0, 1000).join('<') + '<' + numbers[0], text: 'x' });
    expect(ok.status).toBe(202);
    expect(ok.body.message_uuid).toHaveLength(1000);
    const tooMany = await send(s, { src: '14155550100', dst: numbers.join('<'), text: 'x' });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toMatch(/1001 unique numbers; at most 1000/);
  });

  test('the uuids come back in an order unrelated to dst, repeatably for a seed', async () => {
    const numbers = Array.from({ length: 50 }, (_, i) => String(14155500000 + i));
    const positions: number[][] = [];
    for (let run = 0; run < 2; run++) {
      const s = await sim({ seed: 42 });
      const a = await send(s, { src: '14155550100', dst: numbers.join('<'), text: 'x' });
      const byUuid = new Map(s.messages().map((m) => [m.uuid, numbers.indexOf(m.to)]));
      positions.push(a.body.message_uuid.map((u: string) => byUuid.get(u)));
    }
    const identity = numbers.map((_, i) => i);
    expect(positions[0]).not.toEqual(identity);
    expect([...(positions[0] ?? [])].sort((x, y) => x - y)).toEqual(identity);
    expect(positions[1]).toEqual(positions[0]);
  });

  test('text limits: 1600 GSM characters is 11 units, 1601 is refused, 738 UCS-2 is refused', async () => {
    const s = await sim();
    const gsm = await send(s, { src: '14155550100', dst: '14155550101', text: 'a'.repeat(1600) });
    expect(gsm.status).toBe(202);
    expect(s.messages()[0]?.units).toBe(11);
    const longGsm = await send(s, { src: '14155550100', dst: '14155550101', text: 'a'.repeat(1601) });
    expect(longGsm.status).toBe(400);
    expect(longGsm.body.error).toBe('text parameter length exceeds 1600 characters');
    const ucs2 = await send(s, { src: '14155550100', dst: '14155550101', text: 'ж'.repeat(738) });
    expect(ucs2.body.error).toBe('text parameter length exceeds 737 unicode characters');
    const none = await send(s, { src: '14155550100', dst: '14155550101' });
    expect(none.status).toBe(400);
  });

  test('exactly one of src and powerpack_uuid', async () => {
    const s = await sim();
    expect((await send(s, { dst: '14155550101', text: 'x' })).status).toBe(400);
    expect((await send(s, { src: '14155550100', powerpack_uuid: 'pp-1', dst: '14155550101', text: 'x' })).status).toBe(400);
    const pp = await send(s, { powerpack_uuid: 'd35f2e82-d387-427f-8594-6fa07613c43a', dst: '14155550101', text: 'x' });
    expect(pp.status).toBe(202);
    const mdr = await call(s, 'GET', `${messagesPath(s)}${pp.body.message_uuid[0]}/`);
    expect(mdr.body.powerpack_id).toBe('d35f2e82-d387-427f-8594-6fa07613c43a');
    expect(mdr.body.from_number).toMatch(/^1415\d{7}$/);
    expect(s.acceptLog()[0]?.src).toBe('d35f2e82-d387-427f-8594-6fa07613c43a');
  });

  test('mms needs 1 to 10 media urls and is billed as one unit at the mms rate', async () => {
    const s = await sim();
    expect((await send(s, { src: '14155550100', dst: '14155550101', type: 'mms', text: 'x' })).status).toBe(400);
    const media = Array.from({ length: 11 }, (_, i) => `https://example.com/${i}.jpg`);
    expect((await send(s, { src: '14155550100', dst: '14155550101', type: 'mms', media_urls: media })).status).toBe(400);
    const ok = await send(s, { src: '14155550100', dst: '14155550101', type: 'mms', media_urls: media.slice(0, 2), text: 'a'.repeat(500) });
    expect(ok.status).toBe(202);
    const mdr = await call(s, 'GET', `${messagesPath(s)}${ok.body.message_uuid[0]}/`);
    expect(mdr.body).toMatchObject({ message_type: 'mms', units: 1, total_rate: '0.02000' });
  });

  test('message_expiry must be 5 to 10799 seconds; url and method are checked', async () => {
    const s = await sim();
    const base = { src: '14155550100', dst: '14155550101', text: 'x' };
    expect((await send(s, { ...base, message_expiry: 4 })).status).toBe(400);
    expect((await send(s, { ...base, message_expiry: 10800 })).status).toBe(400);
    expect((await send(s, { ...base, message_expiry: 5 })).status).toBe(202);
    expect((await send(s, { ...base, url: 'ftp://example.com' })).status).toBe(400);
    expect((await send(s, { ...base, url: 'http://example.com', method: 'PUT' })).status).toBe(400);
  });

  test('a body that is not JSON is a 400, not a crash', async () => {
    const s = await sim();
    const res = await fetch(s.url + messagesPath(s), {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: 'Basic ' + Buffer.from(`${s.authId}:${s.authToken}`).toString('base64'),
      },
      body: '{"src":',
    });
    expect(res.status).toBe(400);
    expect(s.stats().internalErrors).toBe(0);
  });
});

describe('reading', () => {
  test('GET one message returns its MDR with api_id and Plivo-formatted times', async () => {
    const s = await sim({ timezoneOffset: '+05:30' });
    const a = await send(s, { src: '14155550100', dst: '+44 7700 900123', text: 'hello' });
    const uuid = a.body.message_uuid[0];
    const g = await call(s, 'GET', `${messagesPath(s)}${uuid}/`);
    expect(g.status).toBe(200);
    expect(g.body).toMatchObject({
      api_id: expect.any(String),
      message_uuid: uuid,
      message_direction: 'outbound',
      message_type: 'sms',
      from_number: '14155550100',
      to_number: '447700900123',
      units: 1,
      total_rate: '0.00500',
      resource_uri: `/v1/Account/${s.authId}/Message/${uuid}/`,
      destination_country_iso2: 'GB',
      requester_ip: '127.0.0.1',
      powerpack_id: null,
    });
    expect(g.body.message_time).toMatch(TIME);
    expect(g.body.message_updated_time).toMatch(TIME);
  });

  test('log=false masks the number in the MDR', async () => {
    const s = await sim();
    const a = await send(s, { src: '14155550100', dst: '14155550123', text: 'secret', log: false });
    const g = await call(s, 'GET', `${messagesPath(s)}${a.body.message_uuid[0]}/`);
    expect(g.body.to_number).toBe('141XXXXX123');
  });

  test('List compares from_number exactly per sender kind: E.164 for a long code, a short code or sender ID as it is', async () => {
    const s = await sim();
    await send(s, { src: '12345', dst: '14155550401', text: 'short' });
    await send(s, { src: 'ACME', dst: '14155550402', text: 'alpha' });
    await send(s, { src: '14155550100', dst: '14155550403', text: 'long' });
    const to = async (from: string) =>
      ((await call(s, 'GET', `${messagesPath(s)}?from_number=${encodeURIComponent(from)}`)).body.objects as { to_number: string }[]).map((o) => o.to_number);
    expect(await to('12345')).toEqual(['14155550401']);
    expect(await to('+12345')).toEqual([]);
    expect(await to('ACME')).toEqual(['14155550402']);
    expect(await to('+14155550100')).toEqual(['14155550403']);
    expect(await to('14155550100')).toEqual([]);
    expect(await to('+1 (415) 555-0100')).toEqual([]);
  });

  test('List filters, newest first, and pages with next/previous carrying the filters', async () => {
    const s = await sim();
    const numbers = Array.from({ length: 25 }, (_, i) => String(14155500000 + i));
    await send(s, { src: '14155550100', dst: numbers.join('<'), text: 'x' });
    await send(s, { src: '14155550200', dst: '14155550301', text: 'y' });

    const first = await call(s, 'GET', `${messagesPath(s)}?from_number=%2B14155550100&limit=10`);
    expect(first.status).toBe(200);
    expect(first.body.meta).toEqual({
      limit: 10,
      offset: 0,
      total_count: 25,
      previous: null,
      next: `/v1/Account/${s.authId}/Message/?limit=10&offset=10&from_number=%2B14155550100`,
    });
    expect(first.body.objects.map((o: { to_number: string }) => o.to_number)).toEqual(numbers.slice(15).reverse());
    expect(first.body.objects[0].api_id).toBeUndefined();

    const last = await call(s, 'GET', `${messagesPath(s)}?from_number=%2B14155550100&limit=10&offset=20`);
    expect(last.body.objects).toHaveLength(5);
    expect(last.body.meta.next).toBeNull();
    expect(last.body.meta.previous).toBe(`/v1/Account/${s.authId}/Message/?limit=10&offset=10&from_number=%2B14155550100`);

    const to = await call(s, 'GET', `${messagesPath(s)}?to_number=%2B14155550301`);
    expect(to.body.objects.map((o: { from_number: string }) => o.from_number)).toEqual(['14155550200']);
    // Exact, as Plivo's docs ask: a long code only in E.164 with '+', no separators.
    for (const form of ['14155550301', '%2B1%20415%20555%200301', '%2B1-415-555-0301']) {
      expect((await call(s, 'GET', `${messagesPath(s)}?to_number=${form}`)).body.objects, form).toEqual([]);
    }
    const all = await call(s, 'GET', messagesPath(s));
    expect(all.body.meta).toMatchObject({ limit: 20, total_count: 26 });
    expect(all.body.objects[0].to_number).toBe('14155550301');
  });

  test('List filters by state, type and error code, and refuses bad values', async () => {
    const s = await sim();
    await send(s, { src: '14155550100', dst: '14155550101<14155550198', text: 'x' });
    await waitFor('both messages final', () => s.messages().every((m) => m.state === 'delivered' || m.state === 'failed'));
    const failed = await call(s, 'GET', `${messagesPath(s)}?message_state=failed&error_code=90&message_type=sms`);
    expect(failed.body.objects.map((o: { to_number: string }) => o.to_number)).toEqual(['14155550198']);
    expect((await call(s, 'GET', `${messagesPath(s)}?message_direction=inbound`)).body.objects).toEqual([]);
    expect((await call(s, 'GET', `${messagesPath(s)}?message_state=lost`)).status).toBe(400);
    expect((await call(s, 'GET', `${messagesPath(s)}?limit=21`)).status).toBe(400);
    expect((await call(s, 'GET', `${messagesPath(s)}?limit=0`)).status).toBe(400);
    expect((await call(s, 'GET', `${messagesPath(s)}?offset=-1`)).status).toBe(400);
  });

  test('message_time filters are UTC, to the microsecond or coarser; a bad format is a 400', async () => {
    const s = await sim();
    await send(s, { src: '14155550100', dst: '14155550101', text: 'x' });
    const m = s.messages()[0];
    if (!m) throw new Error('no message');
    // YYYY-MM-DD HH:MM:SS.uuuuuu in UTC
    const utc = (us: number) =>
      new Date(Math.floor(us / 1000)).toISOString().slice(0, 19).replace('T', ' ') + '.' + String(us % 1_000_000).padStart(6, '0');
    const exact = utc(m.acceptedAtUs);
    const count = async (query: string) =>
      (await call(s, 'GET', `${messagesPath(s)}?${query}`)).body.meta.total_count as number;
    expect(await count(`message_time__lte=${encodeURIComponent(exact)}`)).toBe(1);
    expect(await count(`message_time__lt=${encodeURIComponent(exact)}`)).toBe(0);
    expect(await count(`message_time__gte=${encodeURIComponent(exact)}`)).toBe(1);
    expect(await count(`message_time__gt=${encodeURIComponent(exact)}`)).toBe(0);
    expect(await count(`message_time=${encodeURIComponent(exact.slice(0, 19))}`)).toBe(1);
    expect(await count(`message_time=${encodeURIComponent(exact.slice(0, 16))}`)).toBe(1);
    expect(await count(`message_time__gt=${encodeURIComponent(utc(m.acceptedAtUs + 60_000_000).slice(0, 16))}`)).toBe(0);
    const bad = await call(s, 'GET', `${messagesPath(s)}?message_time__gt=2024-01-01T10:00:00Z`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/YYYY-MM-DD HH:MM/);
  });

  test('without a message_time filter only the last 24 hours are listed', async () => {
    const s = await sim();
    await send(s, { src: '14155550100', dst: '14155550101<14155550102', text: 'x' });
    const old = s.messages()[0];
    if (!old) throw new Error('no message');
    s.backdate(old.uuid, 25 * 3600 * 1000);
    const recent = await call(s, 'GET', messagesPath(s));
    expect(recent.body.objects.map((o: { to_number: string }) => o.to_number)).toEqual(['14155550102']);
    const since = await call(s, 'GET', `${messagesPath(s)}?message_time__gt=2000-01-01 00:00`);
    expect(since.body.meta.total_count).toBe(2);
  });
});

describe('account limits', () => {
  test('more than requestsPer5s in a sliding 5 s get 429 too many requests, counted as throttled', async () => {
    const s = await sim({ limits: { requestsPer5s: 5, concurrent: 100, listPerMinute: 100 } });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await call(s, 'GET', `${messagesPath(s)}nope/`)).status);
    expect(statuses).toEqual([404, 404, 404, 404, 404, 429, 429]);
    const a = await call(s, 'GET', messagesPath(s));
    expect(a.body).toEqual({ api_id: expect.any(String), error: 'too many requests' });
    expect(s.stats()).toMatchObject({ throttled: 3, throttledBy: { rate: 3, concurrent: 0, list: 0 } });
  });

  test('more requests in flight than `concurrent` get 429', async () => {
    const s = await sim({ limits: { requestsPer5s: 300, concurrent: 2, listPerMinute: 100 }, faults: { latencyMs: [300, 300] } });
    const answers = await Promise.all([1, 2, 3].map(() => call(s, 'GET', messagesPath(s))));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 429]);
    expect(s.stats()).toMatchObject({ throttledBy: { concurrent: 1 }, peakConcurrent: 2, inFlight: 0 });
  });

  test('List requests beyond listPerMinute get 429 while sends still pass', async () => {
    const s = await sim({ limits: { requestsPer5s: 300, concurrent: 100, listPerMinute: 3 } });
    const lists: number[] = [];
    for (let i = 0; i < 4; i++) lists.push((await call(s, 'GET', messagesPath(s))).status);
    expect(lists).toEqual([200, 200, 200, 429]);
    expect((await send(s, { src: '14155550100', dst: '14155550101', text: 'x' })).status).toBe(202);
    expect(s.stats().throttledBy.list).toBe(1);
  });

  test('limits can be disabled and changed at run time', async () => {
    const s = await sim({ limits: false });
    for (let i = 0; i < 30; i++) expect((await call(s, 'GET', messagesPath(s))).status).toBe(200);
    s.setLimits({ requestsPer5s: 300, concurrent: 100, listPerMinute: 20 });
    expect((await call(s, 'GET', messagesPath(s))).status).toBe(429);
  });
});

describe('faults', () => {
  test('rate5xx answers an HTML page and records nothing', async () => {
    const s = await sim({ faults: { rate5xx: 1 } });
    const a = await send(s, { src: '14155550100', dst: '14155550101', text: 'x' });
    expect([500, 502, 503]).toContain(a.status);
    expect(a.contentType).toContain('text/html');
    expect(a.body).toBeUndefined();
    expect(s.messages()).toHaveLength(0);
    expect(s.stats().injected.rate5xx).toBe(1);
  });

  test('rate429 refuses without recording, and is not counted as throttling', async () => {
    const s = await sim({ faults: { rate429: 1 } });
    const a = await send(s, { src: '14155550100', dst: '14155550101', text: 'x' });
    expect(a.status).toBe(429);
    expect(s.messages()).toHaveLength(0);
    expect(s.stats()).toMatchObject({ throttled: 0, injected: { rate429: 1 } });
  });

  test('dropBeforeAccept kills the connection and nothing is recorded', async () => {
    const s = await sim({ faults: { dropBeforeAccept: 1 } });
    await expect(send(s, { src: '14155550100', dst: '14155550101', text: 'x' })).rejects.toThrow();
    expect(s.messages()).toHaveLength(0);
    expect(s.acceptLog()).toHaveLength(0);
  });

  test('dropAfterAccept kills the connection but the messages were queued', async () => {
    const s = await sim({ faults: { dropAfterAccept: 1 } });
    await expect(send(s, { src: '14155550100', dst: '14155550101<14155550102', text: 'x' })).rejects.toThrow();
    expect(s.messages()).toHaveLength(2);
    expect(s.acceptLog()).toEqual([expect.objectContaining({ count: 2 })]);
    expect(s.stats().injected.dropAfterAccept).toBe(1);
  });

  test("rate5xxAfterAccept queues the messages, then answers 500 or 503 with Plivo's JSON error body", async () => {
    const s = await sim({ faults: { rate5xxAfterAccept: 1 } });
    const a = await send(s, { src: '14155550100', dst: '14155550101<14155550102', text: 'x' });
    expect([500, 503]).toContain(a.status);
    expect(a.body).toEqual({ api_id: expect.any(String), error: expect.any(String) });
    expect(s.messages()).toHaveLength(2);
    expect(s.stats().injected.rate5xxAfterAccept).toBe(1);
  });

  test('slowList delays List answers only, by at least slowListMs', async () => {
    const s = await sim({ faults: { slowList: 1, slowListMs: [300, 300] } });
    const t0 = Date.now();
    expect((await call(s, 'GET', messagesPath(s))).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290); // a lower bound: load can only make it later
    expect((await send(s, { src: '14155550100', dst: '14155550101', text: 'x' })).status).toBe(202);
    expect(s.stats().injected.slowList).toBe(1);
  });

  test('a dropped connection frees its in-flight slot', async () => {
    const s = await sim({ faults: { dropAfterAccept: 1 }, limits: { requestsPer5s: 300, concurrent: 1, listPerMinute: 20 } });
    await expect(send(s, { src: '14155550100', dst: '14155550101', text: 'x' })).rejects.toThrow();
    await waitFor('the dropped request to leave', () => s.stats().inFlight === 0);
    s.setFaults({ dropAfterAccept: 0 });
    expect((await send(s, { src: '14155550100', dst: '14155550102', text: 'x' })).status).toBe(202);
  });

  test('a client that hangs up mid-body is neither an internal error nor a leaked slot', async () => {
    const s = await sim();
    const { port } = new URL(s.url);
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: messagesPath(s),
      headers: {
        Authorization: 'Basic ' + Buffer.from(`${s.authId}:${s.authToken}`).toString('base64'),
        'Content-Type': 'application/json',
        'Content-Length': 1000,
      },
    });
    req.on('error', () => undefined);
    req.write('{"src": "14155550100", ');
    await waitFor('the request to arrive', () => s.stats().inFlight === 1);
    req.destroy();
    await waitFor('the hung-up request to leave', () => s.stats().inFlight === 0);
    expect(s.stats().internalErrors).toBe(0);
    expect(s.messages()).toHaveLength(0);
  });

  test('drops apply to sends only: reads still answer', async () => {
    const s = await sim({ faults: { dropBeforeAccept: 1, dropAfterAccept: 1 } });
    expect((await call(s, 'GET', messagesPath(s))).status).toBe(200);
  });

  test('latency delays the answer after the messages were recorded', async () => {
    const s = await sim({ faults: { latencyMs: [300, 300] } });
    const started = Date.now();
    let answered = false;
    const pending = send(s, { src: '14155550100', dst: '14155550101', text: 'x' }).finally(() => { answered = true; });
    await waitFor('the message to be recorded', () => s.messages().length === 1);
    expect(answered).toBe(false); // recorded first, answered after
    const a = await pending;
    expect(a.status).toBe(202);
    // A lower bound only: the simulator holds the answer at least this long; load can only add to it.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  test('setFaults changes faults at run time and validates them', async () => {
    const s = await sim();
    expect((await send(s, { src: '14155550100', dst: '14155550101', text: 'x' })).status).toBe(202);
    s.setFaults({ rate429: 1 });
    expect((await send(s, { src: '14155550100', dst: '14155550101', text: 'x' })).status).toBe(429);
    s.setFaults({ rate429: 0 });
    expect((await send(s, { src: '14155550100', dst: '14155550101', text: 'x' })).status).toBe(202);
    expect(() => s.setFaults({ rate5xx: 2 })).toThrow(/probability/);
  });

  test('fault draws repeat for a seed', async () => {
    const outcomes: number[][] = [];
    for (let run = 0; run < 2; run++) {
      const s = await sim({ seed: 99, faults: { rate5xx: 0.5 } });
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await send(s, { src: '14155550100', dst: '14155550101', text: 'x' })).status);
      outcomes.push(statuses);
    }
    expect(outcomes[0]).toEqual(outcomes[1]);
    expect(new Set(outcomes[0]).size).toBeGreaterThan(1);
  });
});

