/**
 * The recipients CSV as the real CLI loads it: a header that cannot work exits 2 before anything is loaded;
 * a file that cannot be parsed loads nothing; BOM, CRLF, quoting and blank lines are handled; bad rows are
 * kept in the report as `invalid` with a reason naming their line; duplicates are sent once; a finished
 * campaign run again sends nothing; a changed CSV under the same name is refused.
 *
 * One SMSRUN_HOME (one PGlite) for the whole file: each test has its own campaign name and its own sender
 * number, so the simulator's messages can be told apart.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.js';
import { chunkRows } from '../src/campaign/load.js';
import {
  assertBuilt, countByDst, FAST, SEND_ONLY, fromSender, killLeftovers, parseJsonl, parseReportCsv, quickSim, REPORT_HEADER, runCli, simEnv, STACK_LINE, writeJson, writeText, type CliResult,
} from './support-validation.js';
import { tempDir } from './helpers/tmp.js';

let sim: Simulator;
let dir: string;
let home: string;
let env: Record<string, string>;

beforeAll(async () => {
  assertBuilt();
  dir = await tempDir('smsrun-csvval-');
  home = path.join(dir, 'home');
  sim = await quickSim();
  env = simEnv(sim, home);
});

afterAll(async () => {
  killLeftovers();
  await sim?.close();
});

const cli = (...args: string[]) => runCli(args, { cwd: dir, env });

async function setup(name: string, csv: string | Buffer, job: Record<string, unknown>): Promise<{ jobFile: string; csvFile: string }> {
  const csvFile = await writeText(path.join(dir, `${name}.csv`), csv);
  const jobFile = await writeJson(path.join(dir, `${name}.json`), { name, recipients: `${name}.csv`, rate: 500, ...job });
  return { jobFile, csvFile };
}

function expectUsageFailure(r: CliResult): void {
  expect(r.code).toBe(2);
  expect(r.stderr).not.toMatch(STACK_LINE);
  expect(r.stderr).not.toContain('unexpected error');
}

async function expectNotInLedger(name: string): Promise<void> {
  const s = await cli('status', name, '--json');
  expect(s.code).toBe(2);
  expect(s.stdout).toBe('');
  expect(s.stderr).toContain(`smsrun: no campaign named '${name}' in this ledger.`);
}

describe('a CSV header that cannot work: exit 2, nothing loaded', () => {
  it('no dst column: names the file, line 1, the columns found and dst_column', async () => {
    const src = '14155551001';
    const { jobFile, csvFile } = await setup('csv-nodst', 'number,name\n14155550001,Ann\n14155550002,Bob\n', { src, text: 'Hi' });
    const r = await cli('run', jobFile, ...FAST);
    expectUsageFailure(r);
    expect(r.stderr).toContain(`smsrun: ${csvFile}:1: no 'phone' column in the header (columns, split at commas: number, name). ` +
      'Rename the phone-number column, or set "dst_column" in the job file to its name.');
    expect(r.stderr).not.toContain('loaded');
    expect(fromSender(sim, src)).toHaveLength(0);
    await expectNotInLedger('csv-nodst');

    // ...and "dst_column" naming the column is the fix.
    await writeJson(jobFile, { name: 'csv-nodst', recipients: 'csv-nodst.csv', src, text: 'Hi', dst_column: 'number' });
    const plan = await cli('plan', jobFile, '--json');
    expect(plan.code).toBe(0);
    expect(JSON.parse(plan.stdout)).toMatchObject({ rows: 2, valid: 2, invalid: 0, duplicate: 0 });
  });

  it('a template naming a column the CSV lacks: names the template field, the CSV and its columns', async () => {
    const src = '14155551002';
    const { jobFile, csvFile } = await setup('csv-tpl', 'phone,name\n14155550001,Ann\n', { src, text: 'Hi {{first_name}}, welcome' });
    const r = await cli('run', jobFile, ...FAST);
    expectUsageFailure(r);
    expect(r.stderr).toContain(`smsrun: ${jobFile}: the text uses {{first_name}}, but ${csvFile} has no such column (columns: phone, name). ` +
      'Fix the template or add the column.');
    expect(fromSender(sim, src)).toHaveLength(0);
    await expectNotInLedger('csv-tpl');
  });

  it('an unclosed quote in the second chunk: file:line, exit 2; the whole chunk before it stays loaded, and the fixed file finishes the load', async () => {
    // The load streams: chunks of 1000, 2000, 4000 rows… are committed (and sent) as they come
    // (campaign/load.ts chunkRows), so the rows of the chunk before the bad line (1 to 1000) are in; the fixed
    // file resumes after them. Half a second chunk is enough: more rows only cost messages to send.
    const src = '14155551003';
    const first = chunkRows(0);
    const good = first + chunkRows(1) / 2;
    const rows = Array.from({ length: good }, (_, i) => `1415600${String(i).padStart(4, '0')},r${i}`);
    // The quote opens on the last line (header + good rows + 1) and is never closed.
    const csv = ['phone,name', ...rows, '14155559999,"never closed'].join('\n');
    const { jobFile, csvFile } = await setup('csv-quote', csv, { src, text: 'Hi there' });
    const r = await cli('run', jobFile, ...SEND_ONLY);
    expectUsageFailure(r);
    expect(r.stderr).toContain(`smsrun: ${csvFile}:${good + 2}: the CSV cannot be read: `);
    expect(r.stderr).toContain(`Rows 1 to ${first} are in the ledger`);
    expect(r.stderr).not.toContain(`loaded ${good}`);
    await writeFile(csvFile, ['phone,name', ...rows, '14155559999,"closed"'].join('\n'));
    const fixed = await cli('run', jobFile, ...SEND_ONLY);
    expect(fixed.code).toBe(0);
    const counts = countByDst(sim, src);
    expect(counts.size).toBe(good + 1);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });
});

describe('what a CSV may look like', () => {
  // Line 1 header (after a BOM); row 1 spans lines 2-3 (a quoted CRLF); line 4 blank; row 2 on line 5;
  // lines 6-7 blank; row 3 on line 8. Every line ends in CRLF.
  const CRLF_CSV = Buffer.concat([
    Buffer.from([0xef, 0xbb, 0xbf]),
    Buffer.from([
      'phone,name,note',
      '+1 (415) 555-0401,"Smith, Ann","line one',
      'line two"',
      '',
      '14155550402,Bob,plain',
      '',
      '',
      '"+1 415 555 0403","O""Neil, Pat","a, b"',
      '',
    ].join('\r\n'), 'utf8'),
  ]);

  it('BOM, CRLF, quoted commas and newlines, blank lines: three rows, the right numbers and texts', async () => {
    const src = '14155551004';
    const { jobFile } = await setup('csv-crlf', CRLF_CSV, { src, text: 'Hi {{name}}: {{note}}' });
    const r = await cli('run', jobFile, ...FAST);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`loaded 3 rows from ${path.join(dir, 'csv-crlf.csv')}`);

    const sent = new Map(fromSender(sim, src).map((m) => [m.to, m.text]));
    expect(sent).toEqual(new Map([
      ['14155550401', 'Hi Smith, Ann: line one\r\nline two'],
      ['14155550402', 'Hi Bob: plain'],
      ['14155550403', 'Hi O"Neil, Pat: a, b'],
    ]));

    const report = await cli('export', 'csv-crlf', '--format', 'jsonl');
    expect(report.code).toBe(0);
    const rows = parseJsonl(report.stdout);
    expect(rows.map((x) => [x['row'], x['dst'], x['src'], x['status'], x['reason']])).toEqual([
      [1, '14155550401', src, 'delivered', null],
      [2, '14155550402', src, 'delivered', null],
      [3, '14155550403', src, 'delivered', null],
    ]);
  });

  // Regression test: csv-parse's info.lines counts a CRLF inside a quoted field as two lines, and is the line
  // a record ENDS on; smsrun used it as the row's line, which gave 4, 6, 9 here instead of 2, 5, 8.
  it('BOM + CRLF file: the reason of each row names the line it starts on (2, 5, 8)', async () => {
    // The same layout as CRLF_CSV, with numbers that are all invalid so that `plan` lists every row.
    const csv = CRLF_CSV.toString('utf8').replace('+1 (415) 555-0401', 'x1').replace('14155550402', 'x2').replace('"+1 415 555 0403"', 'x3');
    expect(csv.split('\r\n')).toHaveLength(9);
    const { jobFile } = await setup('csv-crlf-lines', csv, { src: '14155551007', text: 'Hi {{name}}: {{note}}' });
    const plan = await cli('plan', jobFile, '--json');
    expect(plan.code).toBe(0);
    const problems = JSON.parse(plan.stdout).problems as string[];
    expect(problems.map((p) => /^row (\d+): line (\d+):/.exec(p)?.slice(1).join('@'))).toEqual(['1@2', '2@5', '3@8']);
  });

  // Regression test: with LF endings a row spanning lines was reported at its LAST line ("line 3" here).
  it('LF file: an invalid row spanning lines 2-3 has a reason naming line 2', async () => {
    const { jobFile } = await setup('csv-multiline', 'phone,note\n"abc","two\nlines"\n14155550501,ok\n', { src: '14155551005', text: '{{note}}' });
    const plan = await cli('plan', jobFile, '--json');
    expect(plan.code).toBe(0);
    expect(JSON.parse(plan.stdout).problems).toEqual([
      "row 1: line 2: column 'phone': 'abc' contains letters: write the number in digits, e.g. +1 415 555 0100",
    ]);
  });

  // Regression test: skipping every record equal to [''] (to drop blank lines while counting them) also
  // dropped a line holding a quoted empty value ("") in a one-column CSV, and renumbered the rows after it.
  it('a one-column CSV: a line holding "" is kept as an invalid row, blank lines are not rows', async () => {
    const { jobFile } = await setup('csv-quoted-empty', 'phone\n14155550601\n""\n   \n\n14155550602\n', { src: '14155551008', text: 'Hi' });
    const plan = await cli('plan', jobFile, '--json');
    expect(plan.code).toBe(0);
    const p = JSON.parse(plan.stdout);
    expect([p.rows, p.valid, p.invalid]).toEqual([3, 2, 1]);
    expect(p.problems).toEqual(["row 2: line 3: column 'phone' is empty"]);
  });
});

describe('bad rows, duplicates, and running a campaign again', () => {
  const NAME = 'csv-rows';
  const SRC = '14155551006';
  const GSM_1601 = 'a'.repeat(1601);
  const GSM_1600 = 'b'.repeat(1600);
  const UCS2_738 = 'ж'.repeat(738);
  const UCS2_737 = 'д'.repeat(737);
  // row: line
  const CSV = [
    'phone,msg', //                              line 1
    '14155550301,hello', //                      row 1, line 2: valid
    'abc5550302,hello', //                       row 2, line 3: letters
    ',hello', //                                 row 3, line 4: empty number
    '04155550304,hello', //                      row 4, line 5: national (a trunk 0), no default_country
    `14155550305,${GSM_1601}`, //                row 5, line 6: 1601 GSM characters
    `14155550306,${UCS2_738}`, //                row 6, line 7: 738 UCS-2 characters
    '14155550307,hello,extra', //                row 7, line 8: three fields
    '141555503081234,hello', //                  row 8, line 9: 15 digits, too long for +1
    `14155550309,${GSM_1600}`, //                row 9, line 10: valid, 1600 GSM = 11 units
    `14155550310,${UCS2_737}`, //                row 10, line 11: valid, 737 UCS-2 = 11 units
    '+1 (415) 555-0301,hello again', //          row 11, line 12: duplicate of row 1
    '14155550309,another text', //               row 12, line 13: duplicate of row 9 (other text)
    '1415555,hi', //                             row 13, line 14: 7 digits
    '14155550311,"quoted, with a comma"', //     row 14, line 15: valid
    '14155550312', //                            row 15, line 16: one field
    '',
  ].join('\n');
  const VALID = ['14155550301', '14155550309', '14155550310', '14155550311'];
  let jobFile: string;
  let csvFile: string;
  let first: CliResult;

  beforeAll(async () => {
    ({ jobFile, csvFile } = await setup(NAME, CSV, { src: SRC, text: '{{msg}}', batch_size: 2 }));
    // Tracking may wait for the account's List slots, which live in this file's one ledger since issue 11 and
    // which earlier runs here have used (20 a minute): a generous bound, ended early once every message is final.
    first = await cli('run', jobFile, '--track-for', '180', '--settle', '0');
  });

  it('the run sends each unique valid number exactly once', () => {
    expect(first.stderr).not.toMatch(STACK_LINE);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(`loaded 15 rows from ${csvFile}`);
    expect(Object.fromEntries(countByDst(sim, SRC))).toEqual(Object.fromEntries(VALID.map((d) => [d, 1])));
    const byDst = new Map(fromSender(sim, SRC).map((m) => [m.to, m]));
    expect(byDst.get('14155550301')!.text).toBe('hello');
    expect(byDst.get('14155550309')!.text).toBe(GSM_1600);
    expect(byDst.get('14155550309')!.units).toBe(11);
    expect(byDst.get('14155550310')!.text).toBe(UCS2_737);
    expect(byDst.get('14155550310')!.units).toBe(11);
    expect(byDst.get('14155550311')!.text).toBe('quoted, with a comma');
    expect(first.stdout).toContain(`campaign ${NAME}: done, 15 rows`);
  });

  it('the exported report keeps every row: invalid ones with a reason naming their line, duplicates marked', async () => {
    const r = await cli('export', NAME);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(`${REPORT_HEADER},phone,msg`);
    const rows = parseReportCsv(r.stdout);
    expect(rows.map((x) => [x.row, x.line, x.dst, x.status])).toEqual([
      ['1', '2', '14155550301', 'delivered'],
      ['2', '3', 'abc5550302', 'invalid'],
      ['3', '4', '', 'invalid'],
      ['4', '5', '04155550304', 'invalid'],
      ['5', '6', '14155550305', 'invalid'],
      ['6', '7', '14155550306', 'invalid'],
      ['7', '8', '14155550307', 'invalid'],
      ['8', '9', '141555503081234', 'invalid'],
      ['9', '10', '14155550309', 'delivered'],
      ['10', '11', '14155550310', 'delivered'],
      ['11', '12', '14155550301', 'duplicate'],
      ['12', '13', '14155550309', 'duplicate'],
      ['13', '14', '1415555', 'invalid'],
      ['14', '15', '14155550311', 'delivered'],
      ['15', '16', '14155550312', 'invalid'],
    ]);
    const reason = (row: number) => rows[row - 1]!.reason;
    expect(reason(2)).toBe("line 3: column 'phone': 'abc5550302' contains letters: write the number in digits, e.g. +1 415 555 0100");
    expect(reason(3)).toBe("line 4: column 'phone' is empty");
    expect(reason(4)).toMatch(/^line 5: column 'phone': '04155550304' reads as a national number \(04155550304: it starts with 0, .*set "default_country"/);
    expect(reason(5)).toBe('line 6: text is 1601 GSM characters; Plivo allows at most 1600 (shorten it)');
    expect(reason(6)).toMatch(/^line 7: text is 738 UCS-2 characters; Plivo allows at most 737 /);
    expect(reason(7)).toBe('line 8: the row has 3 fields but the header has 2; quote values that contain commas');
    expect(reason(8)).toMatch(/^line 9: column 'phone': '141555503081234' is not a valid number: read with its country code first it is \+1 41555503081234, too long for \+1/);
    expect(reason(11)).toBe('same number as row 1: sent once');
    expect(reason(12)).toBe('same number as row 9: sent once');
    expect(reason(13)).toMatch(/^line 14: column 'phone': '1415555' reads as a national number \(1415555: only 7 digits and no \+/);
    expect(reason(15)).toBe('line 16: the row has 1 fields but the header has 2; quote values that contain commas');
    for (const row of [1, 9, 10, 14]) {
      expect(rows[row - 1]!.reason).toBe('');
      expect(rows[row - 1]!.src).toBe(SRC);
      expect(rows[row - 1]!.message_uuid).toBe(fromSender(sim, SRC).find((m) => m.to === rows[row - 1]!.dst)!.uuid);
    }
    expect(rows.filter((x) => x.status === 'invalid' || x.status === 'duplicate').every((x) => x.message_uuid === '' && x.src === '')).toBe(true);
    expect([rows[8]!.units, rows[9]!.units]).toEqual(['11', '11']);

    // The report the run wrote is the same document.
    expect(await readFile(path.join(home, 'reports', `${NAME}.csv`), 'utf8')).toBe(r.stdout);

    // JSON Lines carries the same rows.
    const jsonl = await cli('export', NAME, '--format', 'jsonl');
    expect(jsonl.code).toBe(0);
    const lines = parseJsonl(jsonl.stdout);
    expect(lines).toHaveLength(15);
    expect(lines.map((x) => [String(x['row']), String(x['line']), x['status'], x['reason'] ?? ''])).toEqual(rows.map((x) => [x.row, x.line, x.status, x.reason]));
  });

  it('running the same job again loads nothing and sends nothing', async () => {
    const before = sim.messages().length;
    const r = await cli('run', jobFile, ...FAST);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^campaign '${NAME}' is already finished: nothing to send or track\\.\n`));
    expect(r.stderr).toContain(`resuming: the campaign is already in the ledger (15 rows)`);
    expect(r.stderr).not.toContain('loaded 15 rows');
    expect(sim.messages().length).toBe(before);
  });

  it('a changed CSV under the same name: exit 2, says the CSV changed and to use a new name; nothing sent', async () => {
    const before = sim.messages().length;
    await writeFile(csvFile, CSV + '14155550313,one more\n');
    try {
      const r = await cli('run', jobFile, ...FAST);
      expectUsageFailure(r);
      expect(r.stderr).toContain(`smsrun: campaign '${NAME}' is already in the ledger, but its recipients CSV (${csvFile}) has changed since it was loaded.`);
      expect(r.stderr).toContain('give the job a new "name" to start a new campaign');
      expect(sim.messages().length).toBe(before);
    } finally {
      await writeFile(csvFile, CSV);
    }
  });

  it('a changed text under the same name: exit 2 naming the key', async () => {
    const before = sim.messages().length;
    await writeJson(jobFile, { name: NAME, recipients: `${NAME}.csv`, rate: 500, src: SRC, text: 'Changed: {{msg}}', batch_size: 2 });
    const r = await cli('run', jobFile, ...FAST);
    expectUsageFailure(r);
    expect(r.stderr).toContain(`smsrun: campaign '${NAME}' is already in the ledger, but the job's content keys (text) have changed since it was loaded.`);
    expect(sim.messages().length).toBe(before);
  });

  it('changing only the rate is allowed', async () => {
    const before = sim.messages().length;
    await writeJson(jobFile, { name: NAME, recipients: `${NAME}.csv`, rate: 7, src: SRC, text: '{{msg}}', batch_size: 2 });
    const r = await cli('run', jobFile, ...FAST);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^campaign '${NAME}' is already finished`));
    expect(sim.messages().length).toBe(before);
  });
});
