/**
 * The status-callback receiver (src/track/receiver.ts) over real HTTP, on every available ledger:
 * signatures (the published vectors, the simulator's signing as the official SDK validates it, and
 * every way a request can fail the check), callbacks replayed, duplicated, out of order and early, the
 * 200-only-once-recorded rule, the simulator end to end, and the `smsrun webhook` command.
 */
import { randomUUID } from 'node:crypto';
import plivo from 'plivo';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/ledger/db.js';
import { finalizeLoad, insertCampaign, insertRecipients } from '../src/ledger/load.js';
import { openLedger } from '../src/ledger/open.js';
import { recordAccepted, type ClaimedBatch } from '../src/ledger/sending.js';
import { applyProviderUpdates, applyWaitingCallbacks, type ProviderUpdate } from '../src/ledger/tracking.js';
import { PlivoClient } from '../src/plivo/client.js';
import { startSimulator } from '../src/sim/index.js';
import { createRng } from '../src/sim/rng.js';
import { signatureHeaders } from '../src/sim/signing.js';
import { callbackUrlFor, checkSignature, parseListen, startReceiver, type Receiver, type ReceiverOptions } from '../src/track/receiver.js';
import { freePort, killLeftovers, runCli, startCli } from './helpers/cli.js';
import { createTestLedger, LEDGER_KINDS, type TestLedger } from './helpers/ledgers.js';
import { waitFor } from './helpers/wait.js';
import { claimNext } from './helpers/campaigns.js';

const TOKEN = 'TestAuthTokenVq8Lm3Zx6Rt1Np4Kd9Hs2Wc7Yb5';
const PUBLIC_URL = 'https://hooks.example.com/plivo/status';
const SENDER = '14155550100';
const OWNER = 'receiver-test';
const rng = createRng(2024);

// The published vectors (../shared/plivo-api.md, "Status callbacks").
const V3_VECTOR = {
  uri: 'https://example.com/plivo/status/',
  nonce: '12345678901234567890',
  token: 'my_auth_token',
  params: {
    MessageUUID: 'db3ce55a-7f1d-11e1-8ea7-1231380bc196', From: '14155550000', To: '14155550001', Status: 'delivered',
    Units: '1', TotalRate: '0.00500', TotalAmount: '0.00500', ErrorCode: '000',
  },
  signature: 'IYyVChiK6zRfnIquAFflYA4SXI245hJGYonB1klGiDc=',
};
const V2_VECTOR = { uri: 'https://answer.url', nonce: '12345', token: 'my_auth_token', signature: 'ehV3IKhLysWBxC1sy8INm0qGoQYdYsHwuoKjsX7FsXc=' };

afterAll(() => killLeftovers());

// ---------------------------------------------------------------------------------------------------
// HTTP helpers: a request as it goes on the wire, signed the way the simulator (Plivo) signs it.

interface WireRequest {
  method: string;
  /** The raw query string sent (and, for GET, the callback's fields). */
  query: string;
  body: string;
  contentType: string;
  headers: Record<string, string>;
}

/** A callback's fields as Plivo sends them (see src/sim/callbacks.ts). */
function callbackFields(uuid: string, to: string, status: string, sequence: number, extra: Record<string, string> = {}): Record<string, string> {
  const at = (s: number) => `2025-03-01 10:00:0${s}.000000`; // UTC without an offset, as Plivo sends callback times
  return {
    MessageUUID: uuid, ParentMessageUUID: uuid, PartInfo: '1 of 1', To: to, From: SENDER, Type: 'sms', Status: status,
    Units: '1', TotalRate: '0.00500', TotalAmount: '0.00500', ErrorCode: status === 'delivered' ? '000' : '', MCC: '', MNC: '',
    Sequence: String(sequence), MessageTime: at(0), QueuedTime: at(0), SentTime: status === 'queued' ? '' : at(1),
    DeliveryReportTime: ['delivered', 'undelivered'].includes(status) ? at(sequence) : '', PowerpackUUID: '', ...extra,
  };
}

/** Signed over `publicUrl` + query, as Plivo calls the url smsrun gave it. */
function signed(fields: Record<string, string>, o: { method?: 'GET' | 'POST'; query?: string; token?: string; publicUrl?: string; json?: boolean } = {}): WireRequest {
  const method = o.method ?? 'POST';
  const fieldQuery = new URLSearchParams(fields).toString();
  const query = method === 'GET' ? [o.query, fieldQuery].filter(Boolean).join('&') : o.query ?? '';
  const url = (o.publicUrl ?? PUBLIC_URL) + (query ? `?${query}` : '');
  const headers = signatureHeaders(method, url, method === 'POST' ? fields : {}, o.token ?? TOKEN, rng);
  const body = method === 'GET' ? '' : o.json ? JSON.stringify(fields) : fieldQuery;
  return { method, query, body, contentType: o.json ? 'application/json' : 'application/x-www-form-urlencoded', headers };
}

function withoutHeaders(req: WireRequest, ...names: string[]): WireRequest {
  const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !names.includes(k)));
  return { ...req, headers };
}

/** Sends to the receiver's LOCAL address, on a path unlike the public one: only the public url is signed. */
async function send(rx: Pick<Receiver, 'localUrl'>, req: WireRequest): Promise<{ status: number; text: string }> {
  const res = await fetch(`${rx.localUrl}/behind-the-proxy${req.query ? `?${req.query}` : ''}`, {
    method: req.method,
    headers: { ...req.headers, ...(req.method === 'GET' ? {} : { 'Content-Type': req.contentType }) },
    ...(req.method === 'GET' ? {} : { body: req.body }),
  });
  return { status: res.status, text: await res.text() };
}

const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

/** A receiver on a free local port; `applied` collects what reached `apply`. */
async function receiver(o: Partial<ReceiverOptions> & Pick<ReceiverOptions, 'apply'>): Promise<{ rx: Receiver; applied: ProviderUpdate[]; calls: () => number }> {
  const applied: ProviderUpdate[] = [];
  let calls = 0;
  const rx = await startReceiver({
    publicUrl: PUBLIC_URL, listen: { host: '127.0.0.1', port: 0 }, authToken: TOKEN, ...o,
    apply: async (updates) => {
      calls++;
      applied.push(...updates);
      return o.apply(updates);
    },
  });
  receivers.push(rx);
  return { rx, applied, calls: () => calls };
}



// ---------------------------------------------------------------------------------------------------
// Ledger fixtures, through the ledger's own load and write-ahead functions.

interface Campaign {
  id: number;
  batches: ClaimedBatch[];
}

/** A loaded campaign whose batches are claimed (in flight): recipients `sending`, no message yet. */
async function claimedCampaign(db: Db, dsts: string[], batchSize = dsts.length): Promise<Campaign> {
  const name = `cb-${randomUUID().slice(0, 8)}`;
  const id = await db.transaction(async (tx) => {
    const campaignId = await insertCampaign(tx, { name, job: { name }, jobFile: 'job.json', csvFile: 'r.csv', csvSha256: '-', contentHash: '-', senders: [SENDER] });
    await insertRecipients(tx, campaignId, dsts.map((dst, i) => ({
      rowNo: i + 1, lineNo: i + 2, rawDst: dst, dst, text: 'hi', units: 1, status: 'pending' as const, reason: null, country: null, numberType: null,
    })));
    await finalizeLoad(tx, campaignId, [SENDER], batchSize);
    return campaignId;
  });
  const batches: ClaimedBatch[] = [];
  for (let b = await claimNext(db, id, { owner: OWNER }); b; b = await claimNext(db, id, { owner: OWNER })) batches.push(b);
  return { id, batches };
}

async function accept(db: Db, batch: ClaimedBatch, uuids: string[]): Promise<void> {
  await recordAccepted(db, batch, { httpStatus: 202, apiId: randomUUID(), messageUuids: uuids, invalidNumbers: [] });
}

/** A campaign of one recipient whose message Plivo accepted (a lone pair: its number is known). */
async function acceptedMessage(db: Db, dst: string): Promise<{ campaign: Campaign; uuid: string; query: string }> {
  const campaign = await claimedCampaign(db, [dst]);
  const batch = campaign.batches[0]!;
  const uuid = randomUUID();
  await accept(db, batch, [uuid]);
  return { campaign, uuid, query: `campaign=${campaign.id}&batch=${batch.id}` };
}

interface MessageRow {
  state: string;
  final_at: Date | null;
  final_via: string | null;
  callback_seq: number;
  to_number: string | null;
  error_code: string | null;
  units: number | null;
  total_amount: string | null;
}

async function message(db: Db, uuid: string): Promise<MessageRow | undefined> {
  const [row] = await db.query<MessageRow>(
    'SELECT state, final_at, final_via, callback_seq, to_number, error_code, units, total_amount::text FROM messages WHERE message_uuid = $1', [uuid]);
  return row;
}

async function recipient(db: Db, campaignId: number, dst: string): Promise<{ status: string; message_uuid: string | null }> {
  const [row] = await db.query<{ status: string; message_uuid: string | null }>(
    'SELECT status, message_uuid FROM recipients WHERE campaign_id = $1 AND dst = $2', [campaignId, dst]);
  return row!;
}

// ---------------------------------------------------------------------------------------------------

describe('parseListen and callbackUrlFor', () => {
  it('reads :port, port, host:port and [v6]:port, defaulting to every interface', () => {
    expect(parseListen(':8080')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(parseListen('8080')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(parseListen('127.0.0.1:9000')).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(parseListen('[::1]:8080')).toEqual({ host: '::1', port: 8080 });
    expect(parseListen('localhost:0')).toEqual({ host: 'localhost', port: 0 });
  });

  it('refuses anything else with a usage error naming the flag', () => {
    for (const bad of ['', ':', 'host', '::1:8080', '1.2.3.4:70000', ':80a', 'h:-1']) {
      expect(() => parseListen(bad), bad).toThrow(/--listen takes \[host\]:port/);
    }
    expect(() => parseListen('x', '--hook-listen')).toThrow(/--hook-listen/);
  });

  it("appends smsrun's campaign and batch to the public url with ? or &", () => {
    expect(callbackUrlFor(PUBLIC_URL, 3, 41)).toBe(`${PUBLIC_URL}?campaign=3&batch=41`);
    expect(callbackUrlFor(`${PUBLIC_URL}?key=a%20b`, 3, 41)).toBe(`${PUBLIC_URL}?key=a%20b&campaign=3&batch=41`);
    expect(callbackUrlFor(`${PUBLIC_URL}?`, 1, 2)).toBe(`${PUBLIC_URL}?campaign=1&batch=2`);
    expect(callbackUrlFor('https://h.example', 1, 2)).toBe('https://h.example?campaign=1&batch=2');
  });

  it('refuses a public url that is not http(s), has a fragment, credentials, or its own campaign/batch', () => {
    for (const bad of ['hooks.example.com/x', 'ftp://h.example/x', 'https://h.example/x#y', 'https://u:p@h.example/x', 'https://h.example/x?batch=1']) {
      expect(() => callbackUrlFor(bad, 1, 1), bad).toThrow(/--callback-url/);
    }
  });
});

describe('signatures, through the receiver', () => {
  const noLedger = async () => undefined;

  it("the published V3 vector passes the receiver's check, and a real request carrying it is applied", async () => {
    const headers = { 'x-plivo-signature-v3': V3_VECTOR.signature, 'x-plivo-signature-v3-nonce': V3_VECTOR.nonce };
    expect(checkSignature('POST', headers, V3_VECTOR.uri, V3_VECTOR.params, V3_VECTOR.token)).toEqual({ ok: true });
    expect(checkSignature('POST', headers, V3_VECTOR.uri, { ...V3_VECTOR.params, To: '14155550002' }, V3_VECTOR.token).ok).toBe(false);

    const { rx, applied } = await receiver({ apply: noLedger, publicUrl: V3_VECTOR.uri, authToken: V3_VECTOR.token });
    const req: WireRequest = {
      method: 'POST', query: '', body: new URLSearchParams(V3_VECTOR.params).toString(), contentType: 'application/x-www-form-urlencoded',
      headers: { 'X-Plivo-Signature-V3': V3_VECTOR.signature, 'X-Plivo-Signature-V3-Nonce': V3_VECTOR.nonce },
    };
    expect(await send(rx, req)).toEqual({ status: 200, text: 'OK\n' });
    expect(applied).toEqual([expect.objectContaining({
      uuid: V3_VECTOR.params.MessageUUID, toNumber: '14155550001', state: 'delivered', final: true, errorCode: '000',
      units: 1, totalRate: '0.00500', totalAmount: '0.00500', sequence: null, via: 'callback', campaignId: null, batchId: null, nextPollAt: null,
    })]);
    expect((await send(rx, { ...req, body: req.body.replace('delivered', 'failed') })).status).toBe(403);
    expect(applied).toHaveLength(1);
  });

  it('the published V2 vector is accepted when no V3 header is present, and ignored when one is', async () => {
    const headers = { 'x-plivo-signature-v2': V2_VECTOR.signature, 'x-plivo-signature-v2-nonce': V2_VECTOR.nonce };
    expect(checkSignature('POST', headers, V2_VECTOR.uri, {}, V2_VECTOR.token)).toEqual({ ok: true });

    const { rx, applied } = await receiver({ apply: noLedger, publicUrl: V2_VECTOR.uri, authToken: V2_VECTOR.token });
    const fields = callbackFields(randomUUID(), '14155550001', 'sent', 2);
    const req: WireRequest = {
      method: 'POST', query: '', body: new URLSearchParams(fields).toString(), contentType: 'application/x-www-form-urlencoded',
      headers: { 'X-Plivo-Signature-V2': V2_VECTOR.signature, 'X-Plivo-Signature-V2-Nonce': V2_VECTOR.nonce },
    };
    expect((await send(rx, req)).status).toBe(200);
    expect(applied.map((u) => [u.state, u.sequence])).toEqual([['sent', 2]]);

    // A V3 header that does not match is not rescued by a good V2: V3 is preferred whenever present.
    const withBadV3 = { ...req, headers: { ...req.headers, 'X-Plivo-Signature-V3': V3_VECTOR.signature, 'X-Plivo-Signature-V3-Nonce': '1' } };
    expect((await send(rx, withBadV3)).status).toBe(403);
    expect(applied).toHaveLength(1);
  });

  it("the simulator's signing is what the official SDK accepts, and the receiver accepts the same request", async () => {
    const { rx, applied } = await receiver({ apply: noLedger });
    const fields = callbackFields(randomUUID(), '14155550001', 'delivered', 3);
    for (const method of ['POST', 'GET'] as const) {
      const req = signed(fields, { method, query: 'campaign=7&batch=9' });
      const url = `${PUBLIC_URL}?${req.query}`;
      const params = method === 'POST' ? fields : {};
      expect(plivo.validateV3Signature(method, url, req.headers['X-Plivo-Signature-V3-Nonce']!, TOKEN, req.headers['X-Plivo-Signature-V3']!, params)).toBe(true);
      expect(plivo.validateSignature(url, req.headers['X-Plivo-Signature-V2-Nonce']!, req.headers['X-Plivo-Signature-V2']!, TOKEN)).toBe(true);
      expect(await send(rx, req), method).toEqual({ status: 200, text: 'OK\n' });
    }
    expect(applied.map((u) => [u.state, u.sequence, u.campaignId, u.batchId])).toEqual([['delivered', 3, 7, 9], ['delivered', 3, 7, 9]]);
  });

  it('accepts the -Ma- header alone, several comma-separated signatures, a JSON body, and V2 alone', async () => {
    const { rx, applied } = await receiver({ apply: noLedger });
    const fields = callbackFields(randomUUID(), '14155550001', 'sent', 2);
    const maOnly = withoutHeaders(signed(fields), 'X-Plivo-Signature-V3');
    expect((await send(rx, maOnly)).status).toBe(200);
    const rotating = signed(fields);
    rotating.headers['X-Plivo-Signature-V3'] = `c29tZSBvbGQgc2lnbmF0dXJlIG9mIDQ0IGNoYXJzIQ==, ${rotating.headers['X-Plivo-Signature-V3']}`;
    expect((await send(rx, withoutHeaders(rotating, 'X-Plivo-Signature-Ma-V3'))).status).toBe(200);
    expect((await send(rx, signed(fields, { json: true }))).status).toBe(200);
    expect((await send(rx, withoutHeaders(signed(fields), 'X-Plivo-Signature-V3', 'X-Plivo-Signature-Ma-V3'))).status).toBe(200);
    expect(applied).toHaveLength(4);
    expect(rx.stats).toEqual({ received: 4, applied: 4, rejected: 0, failed: 0 });
  });
});

describe('requests the receiver refuses without applying anything', () => {
  it('400 without MessageUUID or Status, 405 for other methods, 413 for a huge body', async () => {
    const { rx, calls } = await receiver({ apply: async () => undefined });
    const { Status: _status, ...noStatus } = callbackFields(randomUUID(), '14155550001', 'sent', 2);
    expect(await send(rx, signed(noStatus))).toEqual({ status: 400, text: 'a status callback needs MessageUUID and Status\n' });
    expect((await send(rx, { ...signed(noStatus), method: 'PUT' })).status).toBe(405);
    const huge = signed(callbackFields(randomUUID(), '14155550001', 'sent', 2, { Filler: 'x'.repeat(70_000) }));
    expect((await send(rx, huge)).status).toBe(413);
    expect(calls()).toBe(0);
    expect(rx.stats).toMatchObject({ received: 3, applied: 0, rejected: 3 });
  });
});

describe('answers', () => {
  it('wait for apply: 200 only once the micro-batch holding them is recorded, one apply per burst', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const { rx, applied, calls } = await receiver({ apply: () => gate });
    const answered: number[] = [];
    const sends = Array.from({ length: 20 }, (_, i) =>
      send(rx, signed(callbackFields(randomUUID(), `1415555${String(i).padStart(4, '0')}`, 'queued', 1))).then((r) => { answered.push(r.status); }));
    try {
      // All 20 have arrived and the first micro-batch is in apply; the rest wait behind it: none recorded yet.
      await waitFor('all 20 callbacks to arrive, the first ones in apply', () => applied.length > 0 && rx.stats.received === 20);
      expect(answered).toEqual([]);
    } finally {
      release();
    }
    await Promise.all(sends);
    expect(answered).toEqual(Array(20).fill(200));
    expect(calls()).toBeLessThanOrEqual(3); // 20 callbacks in one or two transactions, not 20
  });

  it('503 when apply fails, so Plivo retries; the answer names no secret', async () => {
    const { rx } = await receiver({ apply: async () => { throw new Error('connection terminated'); } });
    const res = await send(rx, signed(callbackFields(randomUUID(), '14155550001', 'sent', 2)));
    expect(res.status).toBe(503);
    expect(res.text).toMatch(/connection terminated/);
    expect(res.text).not.toContain(TOKEN);
    expect(rx.stats).toMatchObject({ received: 1, applied: 0, failed: 1 });
  });

  it('503 within Plivo\'s 8 s when apply takes longer than 6 s', async () => {
    // apply never finishes on its own, so an answer at all proves the receiver stopped waiting for it. Only a
    // lower bound on the time: the receiver waits at least 6 s; a busy machine can only make that longer.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const { rx } = await receiver({ apply: () => gate });
    const started = Date.now();
    try {
      const res = await send(rx, signed(callbackFields(randomUUID(), '14155550001', 'sent', 2)));
      expect(res.status).toBe(503);
      expect(Date.now() - started).toBeGreaterThanOrEqual(5900);
    } finally {
      release();
    }
  });
});

describe.each(LEDGER_KINDS)('callbacks into the %s ledger', (kind) => {
  let ledger: TestLedger;
  let db: Db;
  const toLedger = (updates: ProviderUpdate[]) => applyProviderUpdates(db, updates);

  beforeAll(async () => {
    ledger = await createTestLedger(kind);
    db = await openLedger({ databaseUrl: ledger.databaseUrl, home: ledger.home });
  });
  afterAll(async () => {
    await db?.close();
    await ledger?.dispose();
  });

  it('403 and nothing applied: no signature, wrong token, batch id changed, body changed, nonce changed', async () => {
    const { rx, calls } = await receiver({ apply: toLedger });
    const { uuid, query, campaign } = await acceptedMessage(db, '14155551001');
    const good = signed(callbackFields(uuid, '14155551001', 'delivered', 3), { query });
    const forged: [string, WireRequest][] = [
      ['no signature headers', withoutHeaders(good, ...Object.keys(good.headers))],
      ['signed with another token', signed(callbackFields(uuid, '14155551001', 'delivered', 3), { query, token: 'AnotherTokenXq1Wv5Rb8Tn2Ml6Kj3Hg9Fd4Sa7' })],
      ['another batch in the query', { ...good, query: `campaign=${campaign.id}&batch=${campaign.batches[0]!.id + 1}` }],
      ['a changed body', { ...good, body: good.body.replace('Status=delivered', 'Status=failed') }],
      ['another nonce', { ...good, headers: { ...good.headers, 'X-Plivo-Signature-V3-Nonce': '00000000000000000000' } }],
      ['V3 without its nonce', withoutHeaders(good, 'X-Plivo-Signature-V3-Nonce')],
    ];
    for (const [what, req] of forged) expect(await send(rx, req), what).toEqual({ status: 403, text: 'invalid signature\n' });
    expect(calls()).toBe(0);
    expect(rx.stats).toEqual({ received: forged.length, applied: 0, rejected: forged.length, failed: 0 });
    expect(await message(db, uuid)).toMatchObject({ state: 'queued', final_at: null, callback_seq: 0 });
    expect(await recipient(db, campaign.id, '14155551001')).toEqual({ status: 'submitted', message_uuid: uuid });
  });

  it('out of order, replayed and duplicated callbacks end in the latest state, and a late queued never regresses it', async () => {
    const { rx } = await receiver({ apply: toLedger });
    const dst = '14155551002';
    const { uuid, query, campaign } = await acceptedMessage(db, dst);
    const cb = (status: string, seq: number) => signed(callbackFields(uuid, dst, status, seq), { query });

    expect((await send(rx, cb('delivered', 3))).status).toBe(200);
    const first = await message(db, uuid);
    expect(first).toMatchObject({ state: 'delivered', final_via: 'callback', callback_seq: 3, error_code: '000', units: 1, total_amount: '0.00500' });
    expect(first?.final_at).toBeInstanceOf(Date);

    expect((await send(rx, cb('sent', 2))).status).toBe(200); // older news
    expect((await send(rx, cb('queued', 1))).status).toBe(200); // much older news
    const replay = cb('delivered', 3);
    const answers = await Promise.all([send(rx, replay), send(rx, replay), send(rx, cb('delivered', 3)), send(rx, cb('sent', 2))]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);

    expect(await message(db, uuid)).toEqual(first); // nothing moved, not even final_at
    expect(await recipient(db, campaign.id, dst)).toEqual({ status: 'delivered', message_uuid: uuid });
    expect(rx.stats).toEqual({ received: 7, applied: 7, rejected: 0, failed: 0 });
  });

  it('in order, each callback moves the message on: queued, sent, then undelivered with its error code', async () => {
    const { rx } = await receiver({ apply: toLedger });
    const dst = '14155551097';
    const { uuid, query, campaign } = await acceptedMessage(db, dst);
    const cb = (status: string, seq: number, extra: Record<string, string> = {}) => signed(callbackFields(uuid, dst, status, seq, extra), { query, method: 'GET' });
    await send(rx, cb('queued', 1));
    expect(await message(db, uuid)).toMatchObject({ state: 'queued', callback_seq: 1, final_at: null });
    await send(rx, cb('sent', 2));
    expect(await message(db, uuid)).toMatchObject({ state: 'sent', callback_seq: 2, final_at: null });
    expect(await recipient(db, campaign.id, dst)).toEqual({ status: 'submitted', message_uuid: uuid });
    await send(rx, cb('undelivered', 3, { ErrorCode: '80' }));
    expect(await message(db, uuid)).toMatchObject({ state: 'undelivered', error_code: '80', final_via: 'callback' });
    expect(await recipient(db, campaign.id, dst)).toEqual({ status: 'undelivered', message_uuid: uuid });
  });

  it('a callback that arrives before its 202 is recorded waits in the inbox, then reaches its recipient by To', async () => {
    const { rx } = await receiver({ apply: toLedger });
    // Two recipients in one request: Plivo's uuids come back unordered, so only To tells them apart.
    const campaign = await claimedCampaign(db, ['14155551003', '14155551004']);
    const batch = campaign.batches[0]!;
    const [early, other] = [randomUUID(), randomUUID()];
    const query = new URL(callbackUrlFor(PUBLIC_URL, campaign.id, batch.id)).search.slice(1);
    for (const [status, seq] of [['sent', 2], ['delivered', 3]] as const) {
      expect((await send(rx, signed(callbackFields(early, '+14155551004', status, seq), { query }))).status).toBe(200);
    }
    const inbox = await db.query<{ sequence: number; state: string; campaign_id: number; batch_id: number; to_number: string }>(
      'SELECT sequence, state, campaign_id, batch_id, to_number FROM callback_inbox WHERE message_uuid = $1 ORDER BY sequence', [early]);
    expect(inbox).toEqual([
      { sequence: 2, state: 'sent', campaign_id: campaign.id, batch_id: batch.id, to_number: '14155551004' },
      { sequence: 3, state: 'delivered', campaign_id: campaign.id, batch_id: batch.id, to_number: '14155551004' },
    ]);
    expect(await recipient(db, campaign.id, '14155551004')).toEqual({ status: 'sending', message_uuid: null });

    await accept(db, batch, [other, early]);
    await applyWaitingCallbacks(db);
    expect(await message(db, early)).toMatchObject({ state: 'delivered', final_via: 'callback', to_number: '14155551004', callback_seq: 3 });
    expect(await recipient(db, campaign.id, '14155551004')).toEqual({ status: 'delivered', message_uuid: early });
    expect(await recipient(db, campaign.id, '14155551003')).toEqual({ status: 'submitted', message_uuid: null });
    expect(await db.query('SELECT 1 FROM callback_inbox WHERE message_uuid = $1', [early])).toEqual([]);
  });

  it('end to end: the simulator sends signed callbacks to the url smsrun gave it, and every message ends final by callback', async () => {
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}/plivo/status`;
    const sim = await startSimulator({ authToken: TOKEN, mps: 1000, deliveryDelayMs: [5, 30], limits: false, seed: 11 });
    try {
      const { rx } = await receiver({ apply: toLedger, publicUrl, listen: { host: '127.0.0.1', port } });
      const dsts = ['14155552001', '14155552097', '14155552098'];
      const campaign = await claimedCampaign(db, dsts);
      const batch = campaign.batches[0]!;
      const client = new PlivoClient({ authId: sim.authId, authToken: sim.authToken, baseUrl: sim.url });
      const outcome = await client.send({ src: SENDER, dst: batch.dsts, text: 'hi', url: callbackUrlFor(publicUrl, campaign.id, batch.id), method: 'POST' });
      if (outcome.kind !== 'accepted') throw new Error(`send: ${outcome.kind} ${outcome.reason}`);
      await accept(db, batch, outcome.messageUuids);

      // What `run` and `webhook` do: the inbox catches callbacks that beat the 202's record.
      const finals = async () => {
        await applyWaitingCallbacks(db);
        const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM messages WHERE campaign_id = $1 AND final_at IS NOT NULL', [campaign.id]);
        return row!.n === 3;
      };
      await waitFor('the three messages to be final in the ledger', finals);

      for (const m of sim.messages().filter((x) => outcome.messageUuids.includes(x.uuid))) {
        expect(await message(db, m.uuid)).toMatchObject({ state: m.state, final_via: 'callback', to_number: m.to });
        expect(await recipient(db, campaign.id, m.to)).toEqual({ status: m.state, message_uuid: m.uuid });
      }
      expect(dsts.map((d) => sim.messages().find((m) => m.to === d)?.state)).toEqual(['delivered', 'undelivered', 'failed']);
      await sim.callbacksIdle();
      expect(sim.callbackLog().every((c) => c.httpStatus === 200)).toBe(true);
      expect(rx.stats.rejected).toBe(0);
    } finally {
      await sim.close();
    }
  });
});

describe.each(LEDGER_KINDS)('smsrun webhook on the %s ledger', (kind) => {
  let ledger: TestLedger;
  beforeAll(async () => {
    ledger = await createTestLedger(kind);
  });
  afterAll(async () => {
    await ledger?.dispose();
  });

  it('refuses to start without PLIVO_AUTH_TOKEN or with a bad --listen', async () => {
    const noToken = await runCli(['webhook', '--callback-url', PUBLIC_URL], ledger.env);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/PLIVO_AUTH_TOKEN must be set/);
    const badListen = await runCli(['webhook', '--callback-url', PUBLIC_URL, '--listen', 'nowhere'], { ...ledger.env, PLIVO_AUTH_TOKEN: TOKEN });
    expect(badListen.code).toBe(2);
    expect(badListen.stderr).toMatch(/--listen takes/);
  });

  it('records signed callbacks until SIGINT, refuses forged ones, and never prints the token', async () => {
    const dst = '14155553001';
    const db = await openLedger({ databaseUrl: ledger.databaseUrl, home: ledger.home });
    let seeded: Awaited<ReturnType<typeof acceptedMessage>>;
    try {
      seeded = await acceptedMessage(db, dst);
    } finally {
      await db.close(); // the embedded ledger is one process's at a time
    }

    const cli = startCli(['webhook', '--callback-url', PUBLIC_URL, '--listen', '127.0.0.1:0'], { ...ledger.env, PLIVO_AUTH_TOKEN: TOKEN });
    await waitFor('the webhook to listen', () => /listening on http:\/\/127\.0\.0\.1:\d+/.test(cli.out.stdout) || cli.child.exitCode !== null);
    const port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(cli.out.stdout)?.[1]);
    expect(port, cli.out.stderr).toBeGreaterThan(0);
    const rx = { localUrl: `http://127.0.0.1:${port}` };
    const good = signed(callbackFields(seeded.uuid, dst, 'delivered', 3), { query: seeded.query });
    expect((await send(rx, good)).status).toBe(200);
    expect((await send(rx, { ...good, body: good.body.replace('delivered', 'failed') })).status).toBe(403);

    cli.child.kill('SIGINT');
    const done = await cli.done;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/checked: PLIVO_AUTH_TOKEN is set/);
    expect(done.stdout).toMatch(/stopped: 2 received, 1 recorded, 1 rejected, 0 failed/);
    expect(done.stdout + done.stderr).not.toContain(TOKEN);

    const after = await openLedger({ databaseUrl: ledger.databaseUrl, home: ledger.home });
    try {
      expect(await message(after, seeded.uuid)).toMatchObject({ state: 'delivered', final_via: 'callback' });
      expect(await recipient(after, seeded.campaign.id, dst)).toEqual({ status: 'delivered', message_uuid: seeded.uuid });
    } finally {
      await after.close();
    }
  });
});
