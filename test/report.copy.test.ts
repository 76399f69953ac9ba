/**
 * The CSV export computed in SQL (`COPY (SELECT …) TO STDOUT`, Postgres) writes the same bytes as the one
 * computed row by row in JavaScript, on a campaign with every kind of row: each recipient and batch status,
 * reasons made up from the batch (in flight, ambiguous with and without an error, retried), known, unknown and
 * empty error codes, formula-looking, quoted, multi-line, empty, missing and Unicode cells in every column the
 * user controls, user columns named like smsrun's, a send window's time zones, and row numbers with a gap.
 * PGlite has no streamed COPY TO, so its export stays row by row (the first test shows that it does). On
 * Postgres the ranges are taken in turn by two transactions on one snapshot (or by one, with a pool of one).
 */
import { PassThrough, Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Db } from '../src/ledger/db.js';
import { findCampaign } from '../src/ledger/campaigns.js';
import { copyReport } from '../src/ledger/reports.js';
import { exportColumns, writeReport, type ExportOptions } from '../src/report/export.js';
import { errorMeanings, UNLISTED } from '../src/plivo/error-codes.js';
import { ledgerPerDescribe, LEDGER_KINDS, type TestLedger } from './helpers/ledgers.js';

const COLUMNS = ['phone', 'name', 'status', 'note', 'text'];
const SENDER = '14155550100';

/** Seeds the campaign in SQL (a load cannot make every state); returns its id. */
async function seed(db: Db): Promise<number> {
  return db.transaction(async (tx) => {
    const [c] = await tx.query<{ id: number }>(
      `INSERT INTO campaigns (name, job, job_file, csv_file, csv_sha256, content_hash, senders, state, total_rows, csv_columns)
       VALUES ('copy', $1, 'job.json', 'r.csv', '-', '-', $2, 'sending', 24, $3) RETURNING id`,
      [JSON.stringify({ name: 'copy', rate: 5, dst_column: 'phone', send_window: { from: '09:00', to: '20:00' } }), [SENDER], COLUMNS]);
    const id = c!.id;
    const batch = async (status: string, attempts: number, lastError: string | null, accepted: boolean) => (await tx.query<{ id: number }>(
      `INSERT INTO batches (campaign_id, sender, units, size, status, attempts, last_error, accepted_at)
       VALUES ($1, $2, 1, 3, $3, $4, $5, CASE WHEN $6 THEN '2026-12-02T10:00:00.123456Z'::timestamptz END) RETURNING id`,
      [id, SENDER, status, attempts, lastError, accepted]))[0]!.id;
    const accepted = await batch('accepted', 1, null, true);
    const ambiguous = await batch('ambiguous', 1, 'timed out, "maybe" sent', false);
    const ambiguousQuiet = await batch('ambiguous', 1, '', false);
    const inFlight = await batch('in_flight', 1, null, false);
    const retried = await batch('pending', 2, 'HTTP 500: =busy', false);
    const fresh = await batch('pending', 0, null, false);
    const refused = await batch('failed', 1, 'HTTP 400', false);
    // row, batch, status, dst, raw_dst, reason, uuid, units, fields, text, time_zone
    type Row = [number, number | null, string, string | null, string | null, string | null, string | null, number | null, (string | null)[] | null, string | null, string | null];
    const rows: Row[] = [
      [1, accepted, 'delivered', '14155550101', '+1 415 555 0101', null, 'u-1', 1, ['+1 415 555 0101', 'Zoë 🎉', 'vip', '=HYPERLINK("http://x","y")', 'mine'], '=Hi Zoë', 'America/Los_Angeles'],
      [2, accepted, 'undelivered', '14155550102', '14155550102', null, 'u-2', 2, ['14155550102', '@mention', '+cmd', '-2+3', ''], 'Hi, "you"', 'America/New_York America/Chicago'],
      [3, accepted, 'failed', '14155550103', '14155550103', null, 'u-3', 1, ['14155550103', '\uFF1D1+1', 'a,b', 'line one\nline two', null], 'multi\nline', null],
      [4, accepted, 'submitted', '14155550104', '14155550104', null, 'u-4', 1, ['14155550104', '\tTab', '\rCR', 'say "hi"', '\\.'], '', null],
      [5, accepted, 'sent', '14155550105', '14155550105', '', 'u-5', null, ['14155550105', '\uFF0B', '\uFF0D', '\uFF20', 'x'], null, null],
      [6, accepted, 'delivered', '14155550106', '14155550106', null, 'u-6', 1, ['14155550106'], 'short fields', null],
      [7, accepted, 'rejected', '14155550107', '14155550107', 'Plivo reported the number as invalid, "really"', null, 1, null, 'no fields', null],
      [8, ambiguous, 'sending', '14155550108', '14155550108', null, null, 1, ['14155550108', 'a', 'b', 'c', 'd'], 'x', null],
      [9, ambiguousQuiet, 'sending', '14155550109', '14155550109', null, null, 1, ['14155550109', 'a', 'b', 'c', 'd'], 'x', null],
      [10, inFlight, 'sending', '14155550110', '14155550110', null, null, 1, ['14155550110', 'a', 'b', 'c', 'd'], 'x', null],
      [11, retried, 'pending', '14155550111', '14155550111', null, null, 1, ['14155550111', 'a', 'b', 'c', 'd'], 'x', null],
      [12, fresh, 'pending', '14155550112', '14155550112', null, null, 1, ['14155550112', 'a', 'b', 'c', 'd'], 'x', null],
      [13, fresh, 'suppressed', '14155550113', '14155550113', 'on the suppression list (STOP): -', null, 1, ['14155550113', 'a', 'b', 'c', 'd'], 'x', null],
      [14, refused, 'failed', '14155550114', '14155550114', 'Plivo refused the request (HTTP 400): bad src', null, 1, ['14155550114', 'a', 'b', 'c', 'd'], 'x', null],
      [15, null, 'invalid', null, '=cmd|calc', "line 16: column 'phone': '=cmd|calc', is not a number\n(letters)", null, null, ['=cmd|calc', 'Bad', 'x', 'y', 'z'], null, null],
      [16, null, 'duplicate', '14155550101', '14155550101', 'same number as row 1', null, null, ['14155550101', 'Again', '', '', ''], null, null],
      [17, null, 'skipped', '14155550199', '14155550199', 'a landline', null, null, ['14155550199', ' ', '"', ',', '-'], null, null],
      [19, accepted, 'delivered', '14155550119', '14155550119', null, 'u-19', 1, ['14155550119', 'after a gap', 'x', 'y', 'z'], 'x', null],
      [20, accepted, 'expired', '14155550120', '14155550120', null, 'u-20', 1, ['14155550120', 'a', 'b', 'c', 'd'], 'x', null],
    ];
    for (const r of rows) {
      await tx.query(
        `INSERT INTO recipients (campaign_id, row_no, line_no, batch_id, status, dst, raw_dst, reason, message_uuid, units, fields, text, time_zone, sender)
         VALUES ($1, $2, $2 + 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, [id, ...r, r[1] === null ? null : SENDER]);
    }
    // uuid, state, error_code, units, amount, final reason, final
    const messages: [string, string, string | null, number | null, string | null, string | null, boolean][] = [
      ['u-1', 'delivered', '000', 1, '0.00500', null, true],
      ['u-2', 'undelivered', '80', 2, '0.01000', null, true],
      ['u-3', 'failed', '9999', null, '-0.00500', 'carrier said "no", twice', true],
      ['u-4', 'queued', null, null, null, null, false],
      ['u-5', 'sent', '', 1, null, '', true],
      ['u-6', 'delivered', '000', 1, '0.00500', null, true],
      ['u-19', 'delivered', '000', 1, '0.00500', null, true],
      ['u-20', 'queued', '420', 1, null, '=expired past its expiry', true],
    ];
    for (const [uuid, state, code, units, amount, reason, final] of messages) {
      await tx.query(
        `INSERT INTO messages (message_uuid, campaign_id, batch_id, state, error_code, units, total_amount, final_reason, submitted_at, final_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '2026-12-02T10:00:00.987654Z', CASE WHEN $9 THEN '2026-12-02T10:00:05.5Z'::timestamptz END)`,
        [uuid, id, accepted, state, code, units, amount, reason, final]);
    }
    return id;
  });
}

async function collect(write: (out: PassThrough) => Promise<unknown>): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await write(out);
  out.end();
  return Buffer.concat(chunks).toString('utf8');
}

const OPTIONS: [string, ExportOptions][] = [
  ['every column', {}],
  ['with the text', { text: true }],
  ['only some statuses', { only: ['delivered', 'pending', 'sending', 'queued'] }],
  ['some columns, reordered', { columns: ['reason', 'row', 'phone', 'smsrun_status', 'error_meaning', 'smsrun_text'] }],
  ['one column', { columns: ['note'] }],
  ['masked', { mask: true, text: true }],
];

describe.each(LEDGER_KINDS)('the CSV export in SQL on the %s ledger', (kind) => {
  let db: Db;
  let ledger: TestLedger;
  let id: number;
  ledgerPerDescribe(kind, (opened, l) => { db = opened; ledger = l; });
  beforeAll(async () => { id = await seed(db); });

  it('is COPY on Postgres, row by row on PGlite', async () => {
    const campaign = (await findCampaign(db, 'copy'))!;
    const { columns } = exportColumns(campaign, { text: true });
    const o = { campaignId: id, cells: columns.map((c) => c.sql!), meanings: errorMeanings(), unlisted: UNLISTED, rowsPerCopy: 7 };
    const rows = await collect((out) => copyReport(db, o, out).then((n) => expect(n).toBe(kind === 'postgres' ? 19 : undefined)));
    if (kind === 'postgres') expect(rows.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(19);
  });

  it.each(OPTIONS)('writes the bytes of the row-by-row export: %s', async (_, options) => {
    const campaign = (await findCampaign(db, 'copy'))!;
    const byRows = await collect((out) => writeReport(db, campaign, 'csv', out, options, 'rows'));
    const auto = await collect((out) => writeReport(db, campaign, 'csv', out, options));
    expect(auto).toBe(byRows);
    expect(byRows.split('\n').length).toBeGreaterThan(2);
  });

  it('counts the rows it wrote, as the row-by-row export does', async () => {
    const campaign = (await findCampaign(db, 'copy'))!;
    const counts: number[] = [];
    for (const via of ['auto', 'rows'] as const) {
      await collect(async (out) => { counts.push(await writeReport(db, campaign, 'csv', out, { only: ['sending'] }, via)); });
    }
    expect(counts).toEqual([3, 3]);
  });

  it.skipIf(kind !== 'postgres')('writes the rows in order whether two transactions take the ranges in turn or one takes them all', async () => {
    const campaign = (await findCampaign(db, 'copy'))!;
    const { columns } = exportColumns(campaign, { text: true });
    const o = (rowsPerCopy: number) => ({ campaignId: id, cells: columns.map((c) => c.sql!), meanings: errorMeanings(), unlisted: UNLISTED, rowsPerCopy });
    const whole = await collect((out) => copyReport(db, o(1000), out));
    expect(await collect((out) => copyReport(db, o(3), out))).toBe(whole);
    const single = openPostgres(ledger.databaseUrl!, 1);
    try {
      expect(await collect((out) => copyReport(single, o(3), out))).toBe(whole);
    } finally {
      await single.close();
    }
  });

  it.skipIf(kind !== 'postgres')('reads one state of the campaign: a change committed while it writes is not in it', async () => {
    const campaign = (await findCampaign(db, 'copy'))!;
    const { columns } = exportColumns(campaign, {});
    const o = { campaignId: id, cells: columns.map((c) => c.sql!), meanings: errorMeanings(), unlisted: UNLISTED, rowsPerCopy: 2 };
    const before = await collect((out) => copyReport(db, o, out));
    const chunks: Buffer[] = [];
    let changed = false;
    // The first bytes written wait for a change to the last row, committed by another connection
    const out = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        if (changed) return done();
        changed = true;
        db.query(`UPDATE recipients SET reason = 'changed meanwhile' WHERE campaign_id = $1 AND row_no = 19`, [id]).then(() => done(), done);
      },
    });
    try {
      await copyReport(db, o, out);
      expect(changed).toBe(true);
      expect(Buffer.concat(chunks).toString('utf8')).toBe(before);
      expect(await collect((o2) => copyReport(db, o, o2))).toContain('changed meanwhile');
    } finally {
      await db.query(`UPDATE recipients SET reason = NULL WHERE campaign_id = $1 AND row_no = 19`, [id]);
    }
  });
});
