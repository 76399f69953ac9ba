/**
 * Opt-out pieces without a ledger: STOP / START keywords, suppression files, and the receiver taking a
 * signed inbound message from the simulator (and refusing a forged one).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keywordIntent } from '../src/optout/keywords.js';
import { readSuppressionFile } from '../src/optout/files.js';
import type { InboundMessage } from '../src/optout/inbound.js';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { startReceiver, type Receiver } from '../src/track/receiver.js';
import { UsageError } from '../src/errors.js';
import { tempDir } from './helpers/tmp.js';
import { freePort } from './helpers/cli.js';

describe('keywords', () => {
  it.each([
    ['STOP', 'opt_out'], [' stop ', 'opt_out'], ['Stop.', 'opt_out'], ['STOPALL', 'opt_out'], ['unsubscribe', 'opt_out'],
    ['Cancel!', 'opt_out'], ['end', 'opt_out'], ['QUIT', 'opt_out'], ['START', 'opt_in'], ['unstop', 'opt_in'],
    ['please stop texting me', null], ['STOP IT', null], ['stopp', null], ['', null], ['Is the store open?', null],
  ])('%j is %s', (text, intent) => {
    expect(keywordIntent(text)).toBe(intent);
  });
});

describe('suppression files', () => {
  let dir: string;
  beforeAll(async () => { dir = await tempDir(); });
  const read = (file: string) => readSuppressionFile(file, { source: 'import:x', defaultReason: 'imported', defaultCountry: 'US' });

  it('reads a header with a number column and reasons, national numbers by the default country', async () => {
    const file = path.join(dir, 'optouts.csv');
    await writeFile(file, 'Name;Mobile;Reason\nAna;(415) 555-0142;asked by phone\nBo;+44 7911 123456;\n');
    expect(await read(file)).toEqual([
      { number: '14155550142', reason: 'asked by phone', source: 'import:x' },
      { number: '447911123456', reason: 'imported', source: 'import:x' },
    ]);
  });

  it('reads a plain list without a header, and an export (number, reason, source, created_at) back', async () => {
    const plain = path.join(dir, 'plain.txt');
    await writeFile(plain, '+14155550143\n14155550144\n');
    expect((await read(plain)).map((r) => r.number)).toEqual(['14155550143', '14155550144']);
    const exported = path.join(dir, 'export.csv');
    await writeFile(exported, 'number,reason,source,created_at\n+14155550145,"texted \'STOP\', twice",inbound,2026-12-02T04:00:00.000Z\n');
    expect(await read(exported)).toEqual([{ number: '14155550145', reason: "texted 'STOP', twice", source: 'import:x' }]);
  });

  it('refuses the whole file when a number cannot be read, naming its lines', async () => {
    const file = path.join(dir, 'bad.csv');
    await writeFile(file, 'phone\n+14155550146\nnot a number\n12\n');
    const err = await read(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/bad\.csv: 2 numbers cannot be read, so nothing was imported/);
    expect((err as Error).message).toMatch(/bad\.csv:3: 'not a number'/);
    expect((err as Error).message).toMatch(/bad\.csv:4: '12'/);
  });
});

describe('inbound messages at the callback receiver', () => {
  let sim: Simulator;
  const receivers: Receiver[] = [];
  const got: InboundMessage[] = [];

  /** A receiver whose public url is the local one, as the simulator calls (and signs) it. */
  async function receiver(withInbound: boolean): Promise<string> {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/plivo`;
    receivers.push(await startReceiver({
      publicUrl: url, listen: { host: '127.0.0.1', port }, authToken: sim.authToken, apply: async () => undefined,
      ...(withInbound ? { inbound: async (m: InboundMessage) => { got.push(m); } } : {}),
    }));
    return url;
  }

  beforeAll(async () => { sim = await startSimulator({ seed: 5 }); });
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await sim?.close();
  });

  it('records a signed inbound message (200); the simulator opts the number out on STOP and back in on START', async () => {
    const url = await receiver(true);
    expect(await sim.reply('+14155550150', 'STOP', { url, to: '14155550100' })).toMatchObject({ ok: true, httpStatus: 200 });
    expect(got).toEqual([expect.objectContaining({ from: '14155550150', to: '14155550100', text: 'STOP' })]);
    expect(sim.optedOut()).toContain('14155550150');
    await sim.reply('14155550150', 'start', { url });
    expect(sim.optedOut()).not.toContain('14155550150');
    expect(got).toHaveLength(2);
  });

  it('refuses an unsigned inbound message (403) and records nothing', async () => {
    const url = await receiver(true);
    const before = got.length;
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'From=14155550151&To=14155550100&Text=STOP&Type=sms' });
    expect(res.status).toBe(403);
    expect(got).toHaveLength(before);
  });

  it('answers 400 when the receiver records no inbound messages (webhook without PLIVO_AUTH_ID)', async () => {
    const url = await receiver(false);
    const r = await sim.reply('+14155550152', 'STOP', { url });
    expect(r.httpStatus).toBe(400);
  });
});
