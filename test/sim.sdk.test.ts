import plivo from 'plivo';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { waitFor } from './helpers/wait.js';

// The official plivo SDK, pointed at the simulator, must see what Plivo's
// documentation says it would: that is what "faithful" means here.

let sim: Simulator;
let client: plivo.Client;

beforeAll(async () => {
  sim = await startSimulator({ mps: 1000, deliveryDelayMs: [5, 10], seed: 11, limits: false });
  client = new plivo.Client(sim.authId, sim.authToken, { url: `${sim.url}/v1/Account/${sim.authId}` });
});
afterAll(async () => {
  await sim.close();
});


/** What list() returns at run time: an array of camel-cased MDRs with a camel-cased meta (its types say otherwise). */
type ListPage = Array<{ fromNumber: string; toNumber: string }> & { meta: { next: string | null } & Record<string, unknown> };

describe('the official plivo SDK against the simulator', () => {
  test('create returns the camel-cased response with a messageUuid array', async () => {
    const r = await client.messages.create('14155550100', '14155551001', 'hello from the sdk');
    expect(r.message).toBe('message(s) queued');
    expect(r.apiId).toEqual(expect.any(String));
    expect(r.messageUuid).toEqual([expect.stringMatching(/^[0-9a-f-]{36}$/)]);
    expect('invalid_number' in r).toBe(false);
  });

  test('a bulk create (dst joined with <, or an array) keeps invalid_number snake-cased', async () => {
    const joined = await client.messages.create('14155550100', '14155551002<14155551003<9995550000', 'bulk');
    expect(joined.messageUuid).toHaveLength(2);
    // The SDK's types say invalidNumber; what it returns (and Plivo sends) is snake-cased.
    expect((joined as unknown as { invalid_number: string[] }).invalid_number).toEqual(['9995550000']);
    const fromArray = await client.messages.create('14155550100', ['14155551004', '14155551005'], 'array');
    expect(fromArray.messageUuid).toHaveLength(2);
  });

  test('create with options: callback url, method, expiry, and a powerpack instead of src', async () => {
    const r = await client.messages.create('14155550100', '14155551006', 'opts', {
      url: 'http://127.0.0.1:9/never',
      method: 'GET',
      message_expiry: 600,
    });
    const m = sim.message(r.messageUuid[0] ?? '');
    expect(m).toMatchObject({ url: 'http://127.0.0.1:9/never', method: 'GET', expirySec: 600 });

    // One options object instead of src, dst, text: the SDK accepts it, though its types do not say so.
    const createWith = client.messages.create.bind(client.messages) as unknown as (o: Record<string, string>) => ReturnType<typeof client.messages.create>;
    const pp = await createWith({
      powerpackUUID: 'a4b5c6d7-0000-4000-8000-000000000001',
      dst: '14155551007',
      text: 'via powerpack',
    });
    expect(sim.message(pp.messageUuid[0] ?? '')?.powerpackUuid).toBe('a4b5c6d7-0000-4000-8000-000000000001');
  });

  test('get returns the MDR camel-cased, state moving to delivered', async () => {
    const r = await client.messages.create('14155550100', '14155551010', 'get me');
    const uuid = r.messageUuid[0] ?? '';
    await waitFor('the message to be delivered', () => sim.message(uuid)?.state === 'delivered');
    const m = await client.messages.get(uuid);
    expect(m).toMatchObject({
      messageUuid: uuid,
      messageState: 'delivered',
      messageDirection: 'outbound',
      messageType: 'sms',
      fromNumber: '14155550100',
      toNumber: '14155551010',
      errorCode: '000',
      units: 1,
      totalRate: '0.00500',
      totalAmount: '0.00500',
      destinationCountryIso2: 'US',
      resourceUri: `/v1/Account/${sim.authId}/Message/${uuid}/`,
    });
    expect(m.messageTime).toMatch(/\+05:30$/);
    expect((m as unknown as { messageSentTime: string }).messageSentTime).toMatch(/\+05:30$/);
  });

  test('list filters and pages, with meta', async () => {
    const dst = Array.from({ length: 7 }, (_, i) => String(14155552000 + i)).join('<');
    await client.messages.create('14155559999', dst, 'list me');
    const page = (await client.messages.list({ from_number: '+14155559999', limit: 5 })) as unknown as ListPage;
    expect(page).toHaveLength(5);
    expect(page.meta).toMatchObject({ limit: 5, offset: 0, totalCount: 7, previous: null });
    expect(page.meta.next).toContain('offset=5');
    expect(page.every((m: { fromNumber: string }) => m.fromNumber === '14155559999')).toBe(true);
    const rest = (await client.messages.list({ from_number: '+14155559999', limit: 5, offset: 5 })) as unknown as ListPage;
    expect(rest).toHaveLength(2);
    const seen = new Set([...page, ...rest].map((m: { toNumber: string }) => m.toNumber));
    expect(seen.size).toBe(7);
  });

  // The SDK's babel-compiled exception classes come out as plain Errors: what a
  // caller can rely on is `status`, `message` (Plivo's sentence) and `apiID`.
  test('errors surface through the SDK with status, Plivo sentence and api id', async () => {
    const bad = await rejection(client.messages.create('14155550100', '123', 'bad'));
    expect(bad).toMatchObject({ status: 400, message: "'123' is not a valid phone number.", apiID: expect.any(String) });
    const missing = await rejection(client.messages.get('00000000-0000-4000-8000-000000000000'));
    expect(missing).toMatchObject({ status: 404, message: 'not found' });
    const wrong = new plivo.Client(sim.authId, 'wrong-token', { url: `${sim.url}/v1/Account/${sim.authId}` });
    const denied = await rejection(wrong.messages.get('00000000-0000-4000-8000-000000000000'));
    expect(denied).toMatchObject({ status: 401, message: 'authentication failed' });
    const tooMany = await rejection(client.messages.list({ limit: 50 }));
    expect(tooMany).toMatchObject({ status: 400, message: expect.stringMatching(/limit/) });
  });
});

async function rejection(p: Promise<unknown>): Promise<Error & { status?: number; apiID?: string }> {
  try {
    await p;
  } catch (error) {
    return error as Error & { status?: number; apiID?: string };
  }
  throw new Error('expected the SDK call to fail');
}
