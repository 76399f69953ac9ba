/**
 * Real-looking recipient lists through the real CLI, judged by what reaches the simulator: every valid person
 * exactly once, at the right E.164 number, and no message to a number in another country. US, UK, German,
 * French and Indian numbers in national and international formats; duplicates across formats; landlines
 * skipped; Windows-1252, UTF-16, semicolon and tab CSVs; and the content hash of campaigns loaded before.
 *
 * One simulator and one SMSRUN_HOME for the file: each campaign has its own sender, so its messages can be
 * told apart.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countryIso2, type Simulator } from '../src/sim/index.js';
import { openLedger } from '../src/ledger/open.js';
import {
  assertBuilt, FAST, fromSender, SEND_ONLY, killLeftovers, parseJsonl, quickSim, runCli, simEnv, STACK_LINE, writeJson, writeText, type CliResult,
} from './support-validation.js';
import { tempDir } from './helpers/tmp.js';

let sim: Simulator;
let dir: string;
let home: string;
let env: Record<string, string>;

beforeAll(async () => {
  assertBuilt();
  dir = await tempDir('smsrun-numbers-');
  home = path.join(dir, 'home');
  sim = await quickSim();
  env = simEnv(sim, home);
});

afterAll(async () => {
  killLeftovers();
  await sim?.close();
});

const cli = (...args: string[]) => runCli(args, { cwd: dir, env });

async function setup(name: string, csv: string | Buffer, job: Record<string, unknown>): Promise<string> {
  await writeText(path.join(dir, `${name}.csv`), csv);
  return writeJson(path.join(dir, `${name}.json`), { name, recipients: `${name}.csv`, rate: 500, ...job });
}

function expectOk(r: CliResult): void {
  expect(r.stderr).not.toMatch(STACK_LINE);
  expect(r.code, r.stderr).toBe(0);
}

/** What the simulator received from `src`, as number → texts; each number must appear once. */
function received(src: string): Map<string, string> {
  const got = new Map<string, string>();
  for (const m of fromSender(sim, src)) {
    expect(got.has(m.to), `${m.to} texted twice`).toBe(false);
    got.set(m.to, m.text);
  }
  return got;
}

/** Every message went to the country meant for its number, and to no other. */
function expectCountries(src: string, countries: Record<string, string>): void {
  const got = Object.fromEntries(fromSender(sim, src).map((m) => [m.to, countryIso2(m.to)]));
  expect(got).toEqual(countries);
}

async function report(name: string): Promise<Record<string, unknown>[]> {
  const r = await cli('export', name, '--format', 'jsonl');
  expect(r.code).toBe(0);
  return parseJsonl(r.stdout);
}

// A US company's list: national US numbers written every way, a few contacts abroad in international
// formats, people written twice, and what Excel and copy-paste leave in a cell.
const US_LIST = [
  'name,phone',
  'Ann,(415) 555-0135', //           row 1: went to +41 (Switzerland) before
  'Bob,212-555-0142', //             row 2: went to +212 (Morocco)
  'Cat,(650) 555 0141', //           row 3: went to +65 (Singapore)
  'Dan,415.692.0136', //             row 4
  'Eve,4155550100', //               row 5
  'Eve again,+1 415 555 0100', //    row 6: duplicate of row 5
  'Eve thrice,1 (415) 555-0100', //  row 7: duplicate of row 5
  'Fay,tel:+1-415-692-0137', //      row 8
  'Fay again,14156920137', //        row 9: Plivo's format, duplicate of row 8
  'Gus,011 44 7400 123456', //       row 10: dialled from the US
  'Hal,+44 (0)20 7946 0958', //      row 11: the trunk 0 dropped
  'Ida,+49 151 23456789', //         row 12
  'Jo,+33 6 12 34 56 78', //         row 13
  'Kim,+91 98765 43214', //          row 14
  "Lee,'+1 415 555 0143", //         row 15: Excel's text marker
  'Max,"+1\u00a0415\u00a0555\u00a00144"', // row 16: no-break spaces
  'Ned,+1 415\u200b555\u200b0145', // row 17: zero-width spaces
  'Oz,＋１ ４１５ ５５５ ０１４６', //   row 18: full-width digits
  'Pat,9876543214', //               row 19: an Indian mobile: not a US number, refused (never +98)
  'Quin,1-800-FLOWERS', //           row 20: letters
  '',
].join('\n');

describe('a US list with "default_country": "US"', () => {
  const SRC = '14155551101';
  let run: CliResult;

  beforeAll(async () => {
    const job = await setup('nums-us', US_LIST, { src: SRC, text: 'Hi {{name}}', default_country: 'us' });
    run = await cli('run', job, ...FAST);
  });

  it('texts every valid person once, at the right E.164 number, and nobody in another country', () => {
    expectOk(run);
    expect(Object.fromEntries(received(SRC))).toEqual({
      '14155550135': 'Hi Ann', '12125550142': 'Hi Bob', '16505550141': 'Hi Cat', '14156920136': 'Hi Dan',
      '14155550100': 'Hi Eve', '14156920137': 'Hi Fay', '447400123456': 'Hi Gus', '442079460958': 'Hi Hal',
      '4915123456789': 'Hi Ida', '33612345678': 'Hi Jo', '919876543214': 'Hi Kim', '14155550143': 'Hi Lee',
      '14155550144': 'Hi Max', '14155550145': 'Hi Ned', '14155550146': 'Hi Oz',
    });
    expectCountries(SRC, {
      '14155550135': 'US', '12125550142': 'US', '16505550141': 'US', '14156920136': 'US', '14155550100': 'US',
      '14156920137': 'US', '447400123456': 'GB', '442079460958': 'GB', '4915123456789': 'DE', '33612345678': 'FR',
      '919876543214': 'IN', '14155550143': 'US', '14155550144': 'US', '14155550145': 'US', '14155550146': 'US',
    });
  });

  it("the report's dst is the number as sent; duplicates across formats and refused numbers are kept with a reason", async () => {
    const rows = await report('nums-us');
    expect(rows).toHaveLength(20);
    const row = (n: number) => rows[n - 1]!;
    expect([row(1)['dst'], row(1)['status']]).toEqual(['14155550135', 'delivered']);
    for (const n of [6, 7]) expect(row(n)).toMatchObject({ dst: '14155550100', status: 'duplicate', reason: 'same number as row 5: sent once' });
    expect(row(9)).toMatchObject({ dst: '14156920137', status: 'duplicate', reason: 'same number as row 8: sent once' });
    expect(row(19)).toMatchObject({ status: 'invalid' });
    expect(row(19)['reason']).toBe("line 20: column 'phone': '9876543214' is not a valid US number (read as +1 9876543214, not a number in use in US)");
    expect(row(20)['reason']).toMatch(/^line 21: column 'phone': '1-800-FLOWERS' contains letters/);
  });

  it('plan counts the recipients per country and per number type', async () => {
    const plan = await cli('plan', path.join(dir, 'nums-us.json'), '--json');
    expect(plan.code).toBe(0);
    expect(JSON.parse(plan.stdout)).toMatchObject({
      rows: 20, valid: 15, invalid: 2, duplicate: 3, skipped: 0,
      countries: { US: 10, GB: 2, DE: 1, FR: 1, IN: 1 },
      types: { fixed_line_or_mobile: 10, mobile: 4, fixed_line: 1 },
      landlines: 1,
    });
  });
});

describe('the same list without default_country', () => {
  const SRC = '14155551102';
  let run: CliResult;

  beforeAll(async () => {
    const job = await setup('nums-none', US_LIST, { src: SRC, text: 'Hi {{name}}' });
    run = await cli('run', job, ...SEND_ONLY);
  });

  it('texts only the numbers that name their country, never a national one to another country', () => {
    expectOk(run);
    expectCountries(SRC, {
      '14155550100': 'US', '14156920137': 'US', '442079460958': 'GB', '4915123456789': 'DE', '33612345678': 'FR',
      '919876543214': 'IN', '14155550143': 'US', '14155550144': 'US', '14155550145': 'US', '14155550146': 'US',
    });
  });

  it('refuses each national-looking number with a reason that shows what was read and names default_country', async () => {
    const rows = await report('nums-none');
    const reason = (n: number) => String(rows[n - 1]!['reason']);
    const national = /reads as a national number \(.*\), and the job has no "default_country" to say which country it belongs to: set "default_country"/;
    for (const n of [1, 2, 3, 4, 5, 10, 19]) {
      expect(rows[n - 1]!['status']).toBe('invalid');
      expect(reason(n)).toMatch(national);
    }
    expect(reason(1)).toContain("'(415) 555-0135' reads as a national number (4155550135: it starts with an area code in parentheses)");
    expect(reason(2)).toContain("'212-555-0142' reads as a national number (2125550142: only 10 digits and no +");
    expect(reason(10)).toContain("'011 44 7400 123456' reads as a national number (011447400123456: it starts with 0");
    expect(reason(19)).toContain("'9876543214' reads as a national number (9876543214: only 10 digits and no +");
    // "1 (415) 555-0100" starts with its country code: it is Eve, once more.
    expect(rows[6]).toMatchObject({ dst: '14155550100', status: 'duplicate' });
  });
});

describe('a UK list with "default_country": "GB" and "landlines": "skip"', () => {
  const SRC = '14155551103';
  const CSV = [
    'name,phone',
    'Ann,07400 123456', //              row 1
    'Ann again,+44 7400 123456', //     row 2: duplicate
    'Bob,00 44 7400 123457', //         row 3: the UK's international prefix
    "Cat,'07400 123458", //             row 4: Excel's text marker
    'Dan,０７４００ １２３４５９', //       row 5: full-width digits
    'Eve,020 7946 0958', //             row 6: a London landline: skipped
    'Fay,+44 (0)161 496 0000', //       row 7: a Manchester landline: skipped
    'Gus,14156920137', //               row 8: not a GB number, read as Plivo's format: +1
    'Hal,07400 12345', //               row 9: too short: refused
    '',
  ].join('\n');
  let run: CliResult;

  beforeAll(async () => {
    const job = await setup('nums-gb', CSV, { src: SRC, text: 'Hi {{name}}', default_country: 'GB', landlines: 'skip' });
    run = await cli('run', job, ...FAST);
  });

  it('texts the mobiles once each and skips the landlines', () => {
    expectOk(run);
    expectCountries(SRC, { '447400123456': 'GB', '447400123457': 'GB', '447400123458': 'GB', '447400123459': 'GB', '14156920137': 'US' });
  });

  it('keeps the skipped landlines in the ledger, the status and the report, with a reason', async () => {
    const rows = await report('nums-gb');
    expect(rows.map((r) => [r['dst'], r['status']])).toEqual([
      ['447400123456', 'delivered'], ['447400123456', 'duplicate'], ['447400123457', 'delivered'], ['447400123458', 'delivered'],
      ['447400123459', 'delivered'], ['442079460958', 'skipped'], ['441614960000', 'skipped'], ['14156920137', 'delivered'],
      ['07400 12345', 'invalid'],
    ]);
    expect(rows[5]!['reason']).toBe('line 7: a landline (fixed-line number in GB): skipped, as the job\'s "landlines": "skip" says');
    const status = await cli('status', 'nums-gb', '--json');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).counts).toMatchObject({ delivered: 5, duplicate: 1, skipped: 2, invalid: 1 });
    const text = await cli('status', 'nums-gb');
    expect(text.stdout).toMatch(/skipped\s+2\s+not sent: a landline, skipped by the job's "landlines": "skip"/);
  });

  it('plan flags the landlines it will skip', async () => {
    const plan = await cli('plan', path.join(dir, 'nums-gb.json'));
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('rows 9: 5 to send, 1 invalid, 1 duplicate, 2 skipped (landlines)');
    expect(plan.stdout).toContain('by country: GB 6, US 1');
    expect(plan.stdout).toContain('by number type: mobile 4, fixed_line 2, fixed_line_or_mobile 1');
    expect(plan.stdout).toContain('2 landline(s) (fixed-line numbers) will be skipped');
  });
});

describe('CSV encodings and delimiters', () => {
  // A French list as Excel on Windows saves "CSV": Windows-1252, semicolons.
  const FRENCH = iconv.encode([
    'prénom;téléphone;solde',
    'René;06 12 34 56 78;12 €',
    'Zoé;+33 (0)6 12 34 56 77;3 €',
    'Hélène;0033 6 12 34 56 76;0 €',
    'René encore;+33 6 12 34 56 78;12 €',
    '',
  ].join('\r\n'), 'windows-1252');

  it('a Windows-1252 CSV without "encoding": exit 2 naming the first bad line and the key; nothing loaded or sent', async () => {
    const src = '14155551104';
    const job = await setup('enc-1252-refused', FRENCH, { src, text: 'Bonjour {{prénom}}', dst_column: 'téléphone', default_country: 'FR' });
    const r = await cli('run', job, ...FAST);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stderr).toContain(`smsrun: ${path.join(dir, 'enc-1252-refused.csv')}:1: the CSV is not UTF-8 text (byte 0xE9; read as Windows-1252, line 1 is "prénom;téléphone;solde"). ` +
      'Excel on Windows saves "CSV" in Windows-1252: add "encoding": "windows-1252" to the job');
    expect(r.stderr).toContain('Nothing was loaded.');
    expect(fromSender(sim, src)).toHaveLength(0);
    const status = await cli('status', 'enc-1252-refused');
    expect(status.code).toBe(2);
  });

  it('names the first bad line when the header is plain ASCII', async () => {
    const csv = Buffer.concat([Buffer.from('name;phone\r\nAnn;+33 6 12 34 56 78\r\n'), iconv.encode('René;+33 6 12 34 56 77\r\n', 'windows-1252')]);
    const job = await setup('enc-1252-line', csv, { src: '14155551105', text: 'Bonjour {{name}}' });
    const plan = await cli('plan', job);
    expect(plan.code).toBe(2);
    expect(plan.stderr).toContain(`${path.join(dir, 'enc-1252-line.csv')}:3: the CSV is not UTF-8 text (byte 0xE9; read as Windows-1252, line 3 is "René;+33 6 12 34 56 77")`);
  });

  it('with "encoding": "windows-1252" the accents and € arrive as written, the semicolons are detected', async () => {
    const src = '14155551106';
    const job = await setup('enc-1252', FRENCH, {
      src, text: 'Bonjour {{prénom}}, solde : {{solde}}', dst_column: 'téléphone', default_country: 'FR', encoding: 'windows-1252',
    });
    expectOk(await cli('run', job, ...SEND_ONLY));
    expect(Object.fromEntries(received(src))).toEqual({
      '33612345678': 'Bonjour René, solde : 12 €',
      '33612345677': 'Bonjour Zoé, solde : 3 €',
      '33612345676': 'Bonjour Hélène, solde : 0 €',
    });
    expectCountries(src, { '33612345678': 'FR', '33612345677': 'FR', '33612345676': 'FR' });
  });

  it('a UTF-16 tab-separated file (Excel\'s "Unicode text") of German numbers is read as such', async () => {
    const src = '14155551107';
    const text = ['Name\tTelefon', 'Jürgen\t0151 23456789', 'Käthe\t+49 (0)160 1234567', 'Jürgen\t+49 151 23456789', 'Ömer\t0049 171 2345678', ''].join('\r\n');
    const csv = Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode(text, 'utf-16le')]);
    const job = await setup('enc-utf16', csv, { src, text: 'Hallo {{Name}}', dst_column: 'Telefon', default_country: 'DE' });
    expectOk(await cli('run', job, ...SEND_ONLY));
    expect(Object.fromEntries(received(src))).toEqual({ '4915123456789': 'Hallo Jürgen', '491601234567': 'Hallo Käthe', '491712345678': 'Hallo Ömer' });
    expectCountries(src, { '4915123456789': 'DE', '491601234567': 'DE', '491712345678': 'DE' });
  });

  it('a tab-separated UTF-8 list of Indian numbers: the tabs are detected', async () => {
    const src = '14155551108';
    const csv = ['name\tmobile\tcity', 'Asha\t98765 43214\tPune', 'Ravi\t09876 543215\tDelhi', 'Asha\t+91-98765-43214\tPune', 'Meena\t919876543217\tMumbai', 'Office\t022 2345 6789\tMumbai', ''].join('\n');
    const job = await setup('tab-in', csv, { src, text: 'Namaste {{name}} ({{city}})', dst_column: 'mobile', default_country: 'IN' });
    expectOk(await cli('run', job, ...SEND_ONLY));
    expect(Object.fromEntries(received(src))).toEqual({
      '919876543214': 'Namaste Asha (Pune)', '919876543215': 'Namaste Ravi (Delhi)', '919876543217': 'Namaste Meena (Mumbai)',
      '912223456789': 'Namaste Office (Mumbai)',
    });
    expectCountries(src, { '919876543214': 'IN', '919876543215': 'IN', '919876543217': 'IN', '912223456789': 'IN' });
  });

  it('a "delimiter" that does not match the file: the header error names the delimiter that would work', async () => {
    const job = await setup('delim-wrong', 'name;phone\nAnn;+33 6 12 34 56 78\n', { src: '14155551109', text: 'Hi', delimiter: ',' });
    const plan = await cli('plan', job);
    expect(plan.code).toBe(2);
    expect(plan.stderr).toContain(`${path.join(dir, 'delim-wrong.csv')}:1: no 'phone' column in the header (columns, split at commas: name;phone). ` +
      'Split at semicolons it has one: the job\'s "delimiter" is ","; set it to ";", or remove it to have the delimiter detected.');
  });
});

describe('campaign identity: the new keys enter the content hash only when set', () => {
  const SRC = '14155551110';
  const CSV = 'phone\n+1 415 555 0170\n+1 415 555 0171\n';
  let job: string;

  beforeAll(async () => {
    job = await setup('hash-old', CSV, { src: SRC, text: 'Hi' });
    expectOk(await cli('run', job, ...FAST));
  });

  it('a job without them hashes as the previous version did, so a campaign it loaded resumes', async () => {
    const db = await openLedger({ home });
    let stored: { content_hash: string; csv_sha256: string; job: Record<string, unknown> };
    try {
      [stored] = await db.query<typeof stored>(`SELECT content_hash, csv_sha256, job FROM campaigns WHERE name = 'hash-old'`) as [typeof stored];
    } finally {
      await db.close();
    }
    expect(stored.content_hash).toBe(previousVersionHash(stored.job, createHash('sha256').update(await readFile(path.join(dir, 'hash-old.csv'))).digest('hex')));
    const again = await cli('run', job, ...FAST);
    expectOk(again);
    expect(again.stdout).toMatch(/^campaign 'hash-old' is already finished/m);
    expect(fromSender(sim, SRC)).toHaveLength(2);
  });

  it('setting default_country on a loaded campaign is a change of content, named in the refusal', async () => {
    await writeJson(job, { name: 'hash-old', recipients: 'hash-old.csv', rate: 500, src: SRC, text: 'Hi', default_country: 'US' });
    const r = await cli('run', job, ...FAST);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("campaign 'hash-old' is already in the ledger, but the job's content keys (default_country) have changed since it was loaded.");
    expect(fromSender(sim, SRC)).toHaveLength(2);
  });
});

/** The content hash exactly as smsrun computed it before default_country, encoding, delimiter and landlines. */
function previousVersionHash(job: Record<string, unknown>, csvSha256: string): string {
  const keys = ['text', 'src', 'powerpack_uuid', 'dst_column', 'batch_size', 'type', 'media_urls', 'url', 'method', 'log', 'trackable', 'message_expiry'];
  const content = Object.fromEntries(keys.map((k) => [k, job[k] ?? null]));
  return createHash('sha256').update(csvSha256).update(JSON.stringify(content)).digest('hex');
}
