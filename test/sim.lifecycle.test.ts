import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import plivo from 'plivo';
import { afterEach, describe, expect, test } from 'vitest';
import { computeV3Signature } from '../src/plivo/signature.js';
import { startSimulator, type Simulator, type SimOptions } from '../src/sim/index.js';
import { waitFor } from './helpers/wait.js';

// What happens to a message after the 202: its sender's queue drains at MPS,
// it is sent, it gets its outcome (by the number's last two digits), and every
// change is called back, signed, with retries.

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((f) => f()));
});

async function sim(opts: SimOptions = {}): Promise<Simulator> {
  const s = await startSimulator({ mps: 1000, deliveryDelayMs: [5, 10], seed: 3, limits: false, ...opts });
  cleanup.push(() => s.close());
  return s;
}

async function send(s: Simulator, json: Record<string, unknown>): Promise<string[]> {
  const res = await fetch(`${s.url}/v1/Account/${s.authId}/Message/`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Authorization: 'Basic ' + Buffer.from(`${s.authId}:${s.authToken}`).toString('base64'),
    },
    body: JSON.stringify(json),
  });
  const body = (await res.json()) as { message_uuid?: string[]; error?: string };
  if (res.status !== 202 || !body.message_uuid) throw new Error(`send failed: ${res.status} ${body.error}`);
  return body.message_uuid;
}

async function getMdr(s: Simulator, uuid: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${s.url}/v1/Account/${s.authId}/Message/${uuid}/`, {
    headers: { Authorization: 'Basic ' + Buffer.from(`${s.authId}:${s.authToken}`).toString('base64') },
  });
  return (await res.json()) as Record<string, unknown>;
}

const byTo = (s: Simulator, to: string) => s.messages().find((m) => m.to === to);
const states = (s: Simulator, to: string) => byTo(s, to)?.history.map((h) => h.state);
const sentTimesMs = (s: Simulator) => s.messages().map((m) => (m.sentAtUs ?? NaN) / 1000);
const gaps = (times: number[]) => times.slice(1).map((t, i) => t - (times[i] as number));

describe('outcomes by the last two digits', () => {
  test('…01 delivered 000, …97 undelivered 80, …98 failed 90 without being sent, …99 stays sent', async () => {
    const s = await sim();
    await send(s, { src: '14155550100', dst: '14155550101<14155550197<14155550198<14155550199', text: 'x' });
    // Every event is due within the longest delivery delay of acceptance; once the delivered and undelivered
    // ones have their receipt, nothing is left in the simulator's schedule for these four.
    await waitFor('every number to reach its outcome', () =>
      ['14155550101', '14155550197'].every((n) => byTo(s, n)?.history.length === 3) &&
      ['14155550198', '14155550199'].every((n) => byTo(s, n)?.history.length === 2));

    expect(states(s, '14155550101')).toEqual(['queued', 'sent', 'delivered']);
    expect(byTo(s, '14155550101')?.errorCode).toBe('000');
    expect(states(s, '14155550197')).toEqual(['queued', 'sent', 'undelivered']);
    expect(byTo(s, '14155550197')?.errorCode).toBe('80');
    expect(states(s, '14155550198')).toEqual(['queued', 'failed']);
    expect(byTo(s, '14155550198')?.errorCode).toBe('90');
    expect(states(s, '14155550199')).toEqual(['queued', 'sent']);
    expect(byTo(s, '14155550199')?.errorCode).toBeNull();

    const failed = await getMdr(s, byTo(s, '14155550198')?.uuid ?? '');
    expect(failed).toMatchObject({ message_state: 'failed', error_code: '90', total_amount: '0.00000', message_sent_time: null });
    const delivered = await getMdr(s, byTo(s, '14155550101')?.uuid ?? '');
    expect(delivered).toMatchObject({ message_state: 'delivered', error_code: '000', total_amount: '0.00500', error_message: '' });
    const noReceipt = await getMdr(s, byTo(s, '14155550199')?.uuid ?? '');
    expect(noReceipt).toMatchObject({ message_state: 'sent', error_code: null });
  });

  test('GET shows the state as of now: queued, then sent, then delivered', async () => {
    // 1 MPS: the second message waits a whole second in the queue, room enough for one local GET even on a
    // busy machine (at 10 MPS, 100 ms was not).
    const s = await sim({ mps: 1, deliveryDelayMs: [150, 150] });
    const [uuid] = await send(s, { src: '14155550100', dst: '14155550101<14155550102', text: 'x' });
    const second = s.messages()[1]?.uuid ?? '';
    expect((await getMdr(s, second)).message_state).toBe('queued');
    await waitFor('the second message to be sent', () => s.message(second)?.state === 'sent');
    expect((await getMdr(s, second)).message_state).toBe('sent');
    expect((await getMdr(s, second)).message_sent_time).toEqual(expect.any(String));
    await waitFor('the second message to be delivered', () => s.message(second)?.state === 'delivered');
    expect((await getMdr(s, second)).message_state).toBe('delivered');
    expect(uuid).toEqual(expect.any(String));
  });
});

describe('queue drain', () => {
  test('one sender drains at its MPS, one message per 1/mps seconds', async () => {
    const s = await sim({ mps: 20 });
    const dst = Array.from({ length: 6 }, (_, i) => String(14155550110 + i)).join('<');
    await send(s, { src: '14155550100', dst, text: 'x' });
    await waitFor('every message to be sent', () => s.messages().every((m) => m.sentAtUs !== null));
    for (const gap of gaps(sentTimesMs(s))) expect(gap).toBeCloseTo(50, 3);
  });

  test('a multi-unit message takes one slot per unit, unless the drain counts messages', async () => {
    const twoUnits = 'a'.repeat(200);
    const dst = '14155550110<14155550111<14155550112';
    const byUnits = await sim({ mps: 20 });
    await send(byUnits, { src: '14155550100', dst, text: twoUnits });
    const byMessages = await sim({ mps: 20, mpsCounts: 'messages' });
    await send(byMessages, { src: '14155550100', dst, text: twoUnits });
    await waitFor('every message to be sent', () => [byUnits, byMessages].every((s) => s.messages().every((m) => m.sentAtUs !== null)));
    expect(byUnits.messages()[0]?.units).toBe(2);
    for (const gap of gaps(sentTimesMs(byUnits))) expect(gap).toBeCloseTo(100, 3);
    for (const gap of gaps(sentTimesMs(byMessages))) expect(gap).toBeCloseTo(50, 3);
  });

  test('senders drain independently, each at its own rate (mpsBySrc)', async () => {
    const s = await sim({ mps: 2, mpsBySrc: { FAST: 50 } });
    await send(s, { src: '14155550100', dst: '14155550110<14155550111<14155550112', text: 'x' });
    await send(s, { src: 'FAST', dst: '14155550120<14155550121<14155550122', text: 'x' });
    await waitFor('every message to be sent', () => s.messages().every((m) => m.sentAtUs !== null));
    const sent = (src: string) => s.messages().filter((m) => m.sender === src).map((m) => (m.sentAtUs ?? 0) / 1000);
    for (const gap of gaps(sent('14155550100'))) expect(gap).toBeCloseTo(500, 3);
    for (const gap of gaps(sent('FAST'))) expect(gap).toBeCloseTo(20, 3);
    // FAST did not wait behind the slow sender's queue: handed over on arrival (the simulator's own due
    // times, so exact), while the slow sender still had messages queued.
    const fast = s.messages().find((m) => m.sender === 'FAST')!;
    expect(fast.sentAtUs).toBe(fast.acceptedAtUs);
    expect(fast.acceptedAtUs / 1000).toBeLessThan(sent('14155550100')[2] ?? 0);
  });

  test('a send after the queue emptied is handed over at once, not on an old schedule', async () => {
    const s = await sim({ mps: 5 });
    await send(s, { src: '14155550100', dst: '14155550110', text: 'x' });
    // Until the queue's next slot (one 1/mps after the first was handed over) is in the past.
    await waitFor('the first message to be sent', () => s.messages()[0]?.sentAtUs != null);
    const nextSlotMs = (s.messages()[0]?.sentAtUs ?? 0) / 1000 + 200;
    await waitFor('the next slot to pass', () => performance.timeOrigin + performance.now() > nextSlotMs + 1);
    await send(s, { src: '14155550100', dst: '14155550111', text: 'x' });
    await waitFor('every message to be sent', () => s.messages().every((m) => m.sentAtUs !== null));
    // The simulator's own timestamps (the instants its events were due), not the test's clock: 0 when handed
    // over on arrival, a whole slot (200 ms) on the old schedule.
    const m = s.messages()[1];
    expect(((m?.sentAtUs ?? 0) - (m?.acceptedAtUs ?? 0)) / 1000).toBeLessThan(5);
  });

  test('a message still queued after message_expiry fails with 420 and is not charged', async () => {
    // 0.5 MPS: handed over at 0 s, 2 s, 4 s, 6 s; the fourth outlives its 5 s expiry.
    const s = await sim({ mps: 0.5 });
    await send(s, { src: '14155550100', dst: '14155550110<14155550111<14155550112<14155550113', text: 'x', message_expiry: 5 });
    const last = s.messages()[3]?.uuid ?? '';
    await waitFor('the last message to leave the queue', () => s.message(last)?.state !== 'queued');
    expect(s.message(last)).toMatchObject({ state: 'failed', errorCode: '420' });
    expect(s.messages().slice(0, 3).every((m) => m.sentAtUs !== null)).toBe(true);
    // Due times in the simulator's schedule, so exact whatever the load.
    const expiredAfterMs = ((s.message(last)?.updatedAtUs ?? 0) - (s.message(last)?.acceptedAtUs ?? 0)) / 1000;
    expect(expiredAfterMs).toBeGreaterThanOrEqual(4999);
    expect(expiredAfterMs).toBeLessThan(5100);
    expect((await getMdr(s, last)).total_amount).toBe('0.00000');
  });

  test('thousands of messages move through one timer and all reach their outcome', async () => {
    const s = await sim({ mps: 20_000, deliveryDelayMs: [1, 30] });
    for (let batch = 0; batch < 3; batch++) {
      const dst = Array.from({ length: 1000 }, (_, i) => String(14155000000 + batch * 1000 + i)).join('<');
      await send(s, { src: '14155550100', dst, text: 'x' });
    }
    await waitFor('every message to reach its outcome', () => s.messages().every((m) => m.state !== 'queued' && (m.state !== 'sent' || m.to.endsWith('99'))));
    const counts = new Map<string, number>();
    for (const m of s.messages()) counts.set(m.state, (counts.get(m.state) ?? 0) + 1);
    expect(counts.get('delivered')).toBe(3000 - 3 * 30);
    expect(counts.get('undelivered')).toBe(30);
    expect(counts.get('failed')).toBe(30);
    expect(counts.get('sent')).toBe(30);
  });
});

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

async function receiver(answer: (n: number, req: IncomingMessage) => number | 'hang' = () => 200) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, at: Date.now() });
      const status = answer(received.length, req);
      if (status === 'hang') return;
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanup.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { base, received };
}

const header = (r: Received, name: string) => String(r.headers[name.toLowerCase()] ?? '');

describe('status callbacks', () => {
  test('POST callbacks for queued, sent, delivered with Sequence 1, 2, 3 and the MDR figures', async () => {
    const rx = await receiver();
    const s = await sim();
    const [uuid] = await send(s, { src: '14155550100', dst: '14155550101', text: 'x', url: `${rx.base}/status/` });
    await waitFor('three callbacks', () => rx.received.length === 3);
    const forms = rx.received.map((r) => Object.fromEntries(new URLSearchParams(r.body)));
    const bySequence = [...forms].sort((a, b) => Number(a.Sequence) - Number(b.Sequence));
    expect(bySequence.map((f) => [f.Sequence, f.Status])).toEqual([
      ['1', 'queued'],
      ['2', 'sent'],
      ['3', 'delivered'],
    ]);
    expect(bySequence[2]).toMatchObject({
      MessageUUID: uuid,
      ParentMessageUUID: uuid,
      To: '14155550101',
      From: '14155550100',
      Type: 'sms',
      Units: '1',
      TotalRate: '0.00500',
      TotalAmount: '0.00500',
      ErrorCode: '000',
      PartInfo: '1 of 1',
    });
    // Plivo's callback times: UTC, microseconds, no offset; MessageTime is the message's (queued) time.
    const utc = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/;
    for (const key of ['MessageTime', 'QueuedTime', 'SentTime', 'DeliveryReportTime']) expect(bySequence[2]?.[key], key).toMatch(utc);
    const asUs = (t: string) => Date.parse(`${t.slice(0, 10)}T${t.slice(11, 19)}Z`) * 1000 + Number(t.slice(20));
    const m = s.message(uuid!)!;
    expect(asUs(bySequence[2]!.MessageTime!)).toBe(m.acceptedAtUs);
    expect(asUs(bySequence[2]!.SentTime!)).toBe(m.sentAtUs);
    expect(bySequence.map((f) => f.MessageTime)).toEqual([bySequence[0]!.MessageTime, bySequence[0]!.MessageTime, bySequence[0]!.MessageTime]);
    expect(rx.received.every((r) => r.method === 'POST' && header(r, 'content-type') === 'application/x-www-form-urlencoded')).toBe(true);
  });

  test('callbacks are signed (V3 and V2) with the auth token, as the official SDK validates them', async () => {
    const rx = await receiver();
    const s = await sim();
    await send(s, { src: '14155550100', dst: '14155550198', text: 'x', url: `${rx.base}/status/?campaign=7` });
    await waitFor('two callbacks', () => rx.received.length === 2);
    for (const r of rx.received) {
      const url = rx.base + r.url;
      const params = Object.fromEntries(new URLSearchParams(r.body));
      const nonce = header(r, 'X-Plivo-Signature-V3-Nonce');
      const v3 = header(r, 'X-Plivo-Signature-V3');
      expect(plivo.validateV3Signature('POST', url, nonce, s.authToken, v3, params)).toBe(true);
      expect(plivo.validateV3Signature('POST', url, nonce, 'another token', v3, params)).toBe(false);
      expect(computeV3Signature('POST', url, nonce, s.authToken, params)).toBe(v3);
      expect(header(r, 'X-Plivo-Signature-Ma-V3')).toBe(v3);
      expect(
        plivo.validateSignature(url, header(r, 'X-Plivo-Signature-V2-Nonce'), header(r, 'X-Plivo-Signature-V2'), s.authToken),
      ).toBe(true);
    }
  });

  test('method GET puts the fields in the query string, signed over the whole url', async () => {
    const rx = await receiver();
    const s = await sim();
    await send(s, { src: '14155550100', dst: '14155550199', text: 'x', url: `${rx.base}/cb`, method: 'GET' });
    await waitFor('two callbacks', () => rx.received.length === 2);
    for (const r of rx.received) {
      expect(r.method).toBe('GET');
      expect(r.body).toBe('');
      const q = new URL(rx.base + r.url).searchParams;
      expect(q.get('To')).toBe('14155550199');
      const v3 = header(r, 'X-Plivo-Signature-V3');
      expect(plivo.validateV3Signature('GET', rx.base + r.url, header(r, 'X-Plivo-Signature-V3-Nonce'), s.authToken, v3, {})).toBe(true);
    }
  });

  test('a failed callback is retried after each retry delay, keeping its Sequence', async () => {
    // The first two attempts of everything fail.
    const rx = await receiver((n) => (n <= 2 ? 500 : 200));
    const s = await sim({ callbackRetryDelaysMs: [100, 200] });
    await send(s, { src: '14155550100', dst: '14155550198', text: 'x', url: `${rx.base}/cb` });
    await waitFor('two callbacks answered 200', () => s.callbackLog().filter((c) => c.ok).length === 2);
    const log = s.callbackLog();
    const queued = log.filter((c) => c.status === 'queued');
    expect(queued.map((c) => [c.attempt, c.ok, c.httpStatus])).toEqual([
      [1, false, 500],
      [2, true, 200],
    ]);
    expect(queued.every((c) => c.sequence === 1)).toBe(true);
    expect((queued[1]?.atMs ?? 0) - (queued[0]?.atMs ?? 0)).toBeGreaterThanOrEqual(95);
    expect(s.stats().callbacks).toEqual({ attempts: 4, ok: 2, failed: 2 });
  });

  test('a receiver that does not answer in time counts as failed and is retried, then given up', async () => {
    const rx = await receiver(() => 'hang');
    const s = await sim({ callbackRetryDelaysMs: [50], callbackTimeoutMs: 100 });
    await send(s, { src: '14155550100', dst: '14155550198', text: 'x', url: `${rx.base}/cb` });
    // queued and failed callbacks, each tried twice.
    await waitFor('four callback attempts', () => s.callbackLog().length === 4);
    await s.callbacksIdle();
    const log = s.callbackLog();
    expect(log).toHaveLength(4);
    expect(log.every((c) => !c.ok && c.httpStatus === null && /Timeout|abort/i.test(c.error ?? ''))).toBe(true);
  });

  test('no url, no callbacks', async () => {
    const rx = await receiver();
    const s = await sim();
    await send(s, { src: '14155550100', dst: '14155550101', text: 'x' });
    await waitFor('the message to be delivered', () => s.messages()[0]?.state === 'delivered');
    expect(rx.received).toHaveLength(0);
    expect(s.callbackLog()).toHaveLength(0);
  });
});
