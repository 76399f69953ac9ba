/**
 * The one write the holder of the embedded ledger serves to other processes (ledger/share-ops.ts): a change of
 * a suppression list, checked field by field, applied in one transaction; anything malformed changes nothing,
 * reads stay read-only, and an older holder that does not know the op is told apart from a refusal.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/ledger/db.js';
import { HolderCannotWriteError } from '../src/ledger/errors.js';
import { connectHolder, openLedger } from '../src/ledger/open.js';
import { readerSocketPath, connectReader } from '../src/ledger/share.js';
import { BadShareRequestError, parseSuppressionChange } from '../src/ledger/share-ops.js';
import { suppressionPage } from '../src/ledger/suppressions.js';
import { tempDir } from './helpers/tmp.js';

const ok = { op: 'suppressions', account: 'MA123', add: [{ number: '14155550101', reason: 'asked', source: 'manual' }], remove: ['14155550102'] };

describe('parseSuppressionChange', () => {
  it('accepts a well-formed change, with add or remove left out', () => {
    expect(parseSuppressionChange({ id: 1, ...ok })).toEqual({ account: 'MA123', add: ok.add, remove: ok.remove });
    expect(parseSuppressionChange({ op: 'suppressions', account: 'sandbox', remove: ['447700900123'] }))
      .toEqual({ account: 'sandbox', add: [], remove: ['447700900123'] });
  });

  it.each<[string, unknown, RegExp]>([
    ['not an object', [ok], /not an object/],
    ['another op', { ...ok, op: 'sql' }, /op must be 'suppressions'/],
    ['SQL smuggled beside the op', { ...ok, sql: 'DELETE FROM recipients' }, /unexpected field\(s\) sql/],
    ['no account', { ...ok, account: undefined }, /account must be a non-empty string/],
    ['a blank account', { ...ok, account: '  ' }, /account must be a non-empty string/],
    ['add not an array', { ...ok, add: { number: '14155550101' } }, /add must be an array/],
    ['a number with +', { ...ok, add: [{ ...ok.add[0], number: '+14155550101' }] }, /add\[0\]\.number must be an E\.164 number/],
    ['a number of 16 digits', { ...ok, remove: ['1415555010199999'] }, /remove\[0\] must be an E\.164 number/],
    ['a number that is not a string', { ...ok, remove: [14155550102] }, /remove\[0\] must be/],
    ['an injection in a number', { ...ok, remove: ["1'; DROP TABLE suppressions; --"] }, /remove\[0\] must be/],
    ['no reason', { ...ok, add: [{ number: '14155550101', source: 'manual' }] }, /add\[0\]\.reason must be a non-empty string/],
    ['an extra field in an item', { ...ok, add: [{ ...ok.add[0], created_at: '2020-01-01' }] }, /add\[0\] has unexpected field\(s\) created_at/],
    ['a reason too long', { ...ok, add: [{ ...ok.add[0], reason: 'x'.repeat(2001) }] }, /add\[0\]\.reason is longer than 2000/],
  ])('refuses %s', (_what, request, message) => {
    expect(() => parseSuppressionChange(request)).toThrow(BadShareRequestError);
    expect(() => parseSuppressionChange(request)).toThrow(message);
  });
});

describe('the suppressions op through the holder of the embedded ledger', () => {
  let home: string;
  let holder: Db;

  beforeAll(async () => {
    home = await tempDir();
    holder = await openLedger({ home }); // this process holds the ledger and serves it (ledger/share.ts)
  }, 120_000);
  afterAll(async () => {
    await holder?.close();
  });

  const listed = async (account: string) => (await suppressionPage(holder, account, '', 100)).map((s) => s.number);

  /** A request line written as it is, and the answer line, parsed. */
  async function raw(request: unknown): Promise<Record<string, unknown>> {
    const socket = net.connect(readerSocketPath(home));
    try {
      socket.setEncoding('utf8');
      socket.write(JSON.stringify(request) + '\n');
      let got = '';
      for await (const chunk of socket) {
        got += chunk as string;
        if (got.includes('\n')) break;
      }
      return JSON.parse(got.slice(0, got.indexOf('\n'))) as Record<string, unknown>;
    } finally {
      socket.destroy();
    }
  }

  it('adds and removes in the holder and answers with counts', async () => {
    const through = (await connectHolder(home))!;
    try {
      expect(through.pid).toBe(process.pid);
      const add = [
        { number: '14155550111', reason: 'asked', source: 'manual' },
        { number: '14155550112', reason: 'asked', source: 'manual' },
      ];
      expect(await through.ledger.changeSuppressions({ account: 'acct-a', add, remove: [] })).toEqual({ added: 2, removed: 0 });
      expect(await through.ledger.changeSuppressions({ account: 'acct-a', add: add.slice(0, 1), remove: ['14155550112', '14155550119'] }))
        .toEqual({ added: 0, removed: 1 });
      expect(await listed('acct-a')).toEqual(['14155550111']);
      // Reads through the holder see it too.
      expect((await suppressionPage(through.ledger, 'acct-a', '', 10)).map((s) => s.number)).toEqual(['14155550111']);
    } finally {
      await through.ledger.close();
    }
  });

  it('answers a malformed change with an error naming the field, and changes nothing', async () => {
    const reply = await raw({ id: 7, op: 'suppressions', account: 'acct-b', add: [{ number: '14155550121', reason: 'r', source: 'manual' }], remove: ['+1'] });
    expect(reply).toMatchObject({ id: 7, op: 'suppressions', code: 'SMSRUN_BAD_REQUEST' });
    expect(reply['error']).toMatch(/remove\[0\] must be an E\.164 number/);
    expect(await listed('acct-b')).toEqual([]);
    expect(await raw({ id: 8, op: 'drop', account: 'acct-b' })).toMatchObject({ id: 8, op: 'drop', error: "unknown operation 'drop'" });
    expect(await raw({ id: 9, op: 'suppressions', account: 'acct-b', add: [], sql: "INSERT INTO suppressions VALUES ('acct-b', '1', 'r', 's')" }))
      .toMatchObject({ id: 9, op: 'suppressions', error: expect.stringMatching(/unexpected field\(s\) sql/) as unknown });
    expect(await listed('acct-b')).toEqual([]);
  });

  it('keeps SQL requests read-only', async () => {
    const reply = await raw({ id: 1, sql: "INSERT INTO suppressions (account, number, reason, source) VALUES ('acct-c', '14155550131', 'r', 's')", params: [] });
    expect(reply).toMatchObject({ id: 1, code: '25006' }); // read_only_sql_transaction
    expect(await listed('acct-c')).toEqual([]);
  });
});

describe('an older holder, which serves reads but does not know the op', () => {
  it('is told apart from a refusal: stop the run, or use DATABASE_URL', async () => {
    const home = await tempDir();
    // What an older smsrun answers to a line without `sql` (checked against PGlite: an empty query in a read-only
    // transaction): no rows, and no `op`.
    const server = net.createServer((socket) => {
      socket.setEncoding('utf8');
      socket.on('data', (line: string) => {
        const { id } = JSON.parse(line) as { id: number };
        socket.write(JSON.stringify({ id, rows: [] }) + '\n');
      });
    });
    await new Promise<void>((resolve) => server.listen(readerSocketPath(home), resolve));
    try {
      const reader = await connectReader(home, 4242);
      try {
        const change = reader.changeSuppressions({ account: 'a', add: [], remove: ['14155550141'] });
        await expect(change).rejects.toThrow(HolderCannotWriteError);
        await expect(change).rejects.toThrow(/older smsrun process \(pid 4242\).*Stop that run.*DATABASE_URL/);
      } finally {
        await reader.close();
      }
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
