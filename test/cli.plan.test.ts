/**
 * `smsrun plan` on a list with every kind of problem: counts per reason with the first rows, every refused
 * row in --json and --out, the texts that need UCS-2 and why, gsm_replace's saving in units, the cost from
 * a rate card, the send window per zone; nothing sent, nothing written. Suppressed rows are counted against
 * the job's suppress files and, when a ledger exists, the account's list in it, read without creating or
 * migrating the ledger (on every available ledger).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.js';
import { tempDir } from './helpers/tmp.js';
import { createTestLedger, LEDGER_KINDS, ledgerRows, type TestLedger } from './helpers/ledgers.js';
import { openLedger } from '../src/ledger/open.js';
import { assertBuilt, killLeftovers, parseReportCsv, quickSim, readText, runCli, simEnv, STACK_LINE, writeJson, writeText } from './support-validation.js';

let sim: Simulator;
let dir: string;
let home: string;
let env: Record<string, string>;

// 105 characters: one GSM unit, two in UCS-2 (a curly apostrophe is enough to make it UCS-2).
const TEXT = 'Hi {{name}}, it’s your reminder: the community garden opens Saturday at 9 and we’d love to see you there.';

beforeAll(async () => {
  assertBuilt();
  dir = await tempDir('smsrun-plan-');
  home = path.join(dir, 'home');
  sim = await quickSim();
  env = simEnv(sim, home);
  await writeText(path.join(dir, 'garden.csv'), [
    'phone,name',
    '+1 212 555 0101,Ann', // New York
    '(415) 555-0102,Bob', // Los Angeles (default_country US)
    '+351 912 345 678,Carla', // Portugal: Lisbon or the Azores, which share no half hour of 09:00-09:30
    '212-555-0101,Ann again', // the same number as line 2
    '555-CALL,Dan',
    '+44 20 7946 0018,Eve', // a London landline
    '+1 312 555 0103,Fay 🌻', // Chicago; the emoji keeps the text UCS-2
  ].join('\n'));
  await writeText(path.join(dir, 'rates.csv'), 'country,price_per_unit,name\nUS,0.005,United States\nPT,0.04,Portugal\n');
});

afterAll(async () => {
  killLeftovers();
  await sim?.close();
});

const JOB = {
  name: 'garden', recipients: 'garden.csv', src: '14155550100', text: TEXT, rate: 2, default_country: 'US', landlines: 'skip',
  gsm_replace: true, send_window: { start: '09:00', end: '09:30', timezone: 'recipient' },
};
const cli = (...args: string[]) => runCli(args, { cwd: dir, env });

describe('plan', () => {
  it('--json: counts per reason, every refused row with its line, UCS-2 characters, units saved, cost, windows', async () => {
    const job = await writeJson(path.join(dir, 'garden.json'), JOB);
    const r = await cli('plan', job, '--json', '--rate-card', 'rates.csv');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan).toMatchObject({ rows: 7, valid: 3, invalid: 1, duplicate: 1, skipped: 2, units: 4, batches: 3 });
    expect(Object.fromEntries(Object.entries(plan.reasons as Record<string, { count: number }>).map(([k, v]) => [k, v.count]))).toEqual({
      invalid: 1, duplicate: 1, suppressed: 0, outside_window: 1, landline: 1,
    });
    expect(plan.refused.map((x: { line: number; reason: string; dst: string }) => [x.line, x.reason, x.dst])).toEqual([
      [4, 'outside_window', '+351 912 345 678'],
      [5, 'duplicate', '212-555-0101'],
      [6, 'invalid', '555-CALL'],
      [7, 'landline', '+44 20 7946 0018'],
    ]);
    expect(plan.refused[0].detail).toContain('outside any window');
    expect(plan.refused[0].detail).toContain('Atlantic/Azores, Europe/Lisbon');
    expect(plan.ucs2).toEqual({ recipients: 1, characters: [{ char: '🌻', code: 'U+1F33B', recipients: 1 }] });
    expect(plan.gsmReplace).toEqual({ enabled: true, recipientsChanged: 3, unitsBefore: 6, unitsAfter: 4 });
    expect(plan.cost).toEqual({ total: 0.02, source: 'rate card', unpriced: {} });
    expect(plan.window.zones.map((z: { zone: string; recipients: number }) => [z.zone, z.recipients])).toEqual([
      ['America/Chicago', 1], ['America/Los_Angeles', 1], ['America/New_York', 1],
    ]);
    expect(plan.earliestFinish).not.toBeNull();
    expect(plan.firstRecipients[0]).toEqual({
      line: 2, dst: '12125550101', units: 1, encoding: 'GSM',
      text: "Hi Ann, it's your reminder: the community garden opens Saturday at 9 and we'd love to see you there.",
    });
    expect(plan.suppression).toEqual({
      jobFiles: { files: 0, numbers: 0 },
      ledger: { consulted: false, why: `there is no ledger at ${path.join(home, 'ledger')} yet` },
    });
    expect(sim.messages()).toHaveLength(0);
    expect(existsSync(path.join(home, 'ledger'))).toBe(false);
  });

  it('text: the reasons with their first rows, the characters behind UCS-2, gsm_replace, cost and window; --out writes the refused rows', async () => {
    const job = await writeJson(path.join(dir, 'garden-text.json'), { ...JOB, name: 'garden-text', price_per_unit: 0.01 });
    const out = path.join(dir, 'refused.csv');
    const r = await cli('plan', job, '--out', out);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stdout).toContain('  rows 7: 3 to send, 1 invalid, 1 duplicate, 1 skipped (landlines), 1 outside window\n');
    expect(r.stdout).toContain("  1 recipient(s) get a UCS-2 text (70 characters a unit instead of 160) because of: '🌻' U+1F33B (1)\n");
    expect(r.stdout).toContain('  gsm_replace: 3 text(s) changed, 6 units without it, 4 with it (2 saved)\n');
    expect(r.stdout).toContain('  cost: about 0.04 (from the price_per_unit)\n');
    expect(r.stdout).toContain('  send window: every day 09:00-09:30 in each recipient\'s time zone\n');
    expect(r.stdout).toContain('  outside any window:\n    row 3: line 4: outside any window');
    expect(r.stdout).toContain('  landlines skipped:\n    row 6: line 7: a landline');
    expect(r.stdout).toContain(`  refused rows written to ${out}\n`);
    const rows = parseReportCsv(await readText(out)) as unknown as Record<string, string>[];
    expect(rows.map((x) => [x['line'], x['reason']])).toEqual([['4', 'outside_window'], ['5', 'duplicate'], ['6', 'invalid'], ['7', 'landline']]);
  });

  it('a rate card without the needed columns exits 2 naming the file and the columns', async () => {
    await writeText(path.join(dir, 'bad-rates.csv'), 'iso,price\nUS,0.005\n');
    const job = await writeJson(path.join(dir, 'garden-bad.json'), { ...JOB, name: 'garden-bad' });
    const r = await cli('plan', job, '--rate-card', 'bad-rates.csv');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("bad-rates.csv:1: a rate card needs the columns 'country' (ISO code, e.g. US) and 'price_per_unit'");
  });
});

// Real-looking opt-outs: one asked in store (the account's list), one in the job's file, one on the sandbox's
// list, one on another account's list; a later row repeats a suppressed number (a duplicate, as in a run).
const OPT_CSV = [
  'phone,name',
  '+1 212 555 0111,Ann', // on the account's list
  '+1 415 555 0112,Bob', // in the job's suppress file
  '+1 312 555 0113,Cy',
  '(212) 555-0111,Ann at home', // the same number as line 2: a duplicate
  '+1 646 555 0114,Dee', // on another account's list only
  '+1 718 555 0115,Eli', // on the sandbox's list only
].join('\n');
const OPT_JOB = { recipients: 'optin.csv', src: '14155550100', text: 'Hi {{name}}, your library books are due Friday', default_country: 'US', suppress: ['optouts.csv'] };

describe.each(LEDGER_KINDS)('plan and the suppression list on the %s ledger', { timeout: 600_000 }, (kind) => {
  let ledger: TestLedger;
  let lenv: Record<string, string>;
  const plan = (job: string, extra: string[] = [], e = lenv) => runCli(['plan', job, ...extra], { cwd: dir, env: e });
  const reasonsOf = (p: { refused: { line: number; reason: string; detail: string }[] }) => p.refused.map((x) => [x.line, x.reason]);

  beforeAll(async () => {
    ledger = await createTestLedger(kind);
    lenv = { ...ledger.env, PLIVO_AUTH_ID: sim.authId };
    await writeText(path.join(dir, 'optin.csv'), OPT_CSV);
    await writeText(path.join(dir, 'optouts.csv'), 'phone,reason\n+14155550112,replied STOP to the spring newsletter\n');
    for (const [args, e] of [
      [['+12125550111', '--reason', 'asked in store'], lenv],
      [['+17185550115', '--sandbox', '--reason', 'tried the sandbox'], lenv],
      [['+16465550114', '--reason', 'another account'], { ...ledger.env, PLIVO_AUTH_ID: 'MAOTHERACCOUNT0000001' }],
    ] as const) {
      const r = await runCli(['suppress', 'add', ...args], { cwd: dir, env: { ...e } });
      expect(r.code, r.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    await ledger?.dispose();
  });

  it("--json and --out: rows on the account's list and in the job's suppress file are suppressed, with the reason; nothing is added to the list", async () => {
    const job = await writeJson(path.join(dir, `optin-${kind}.json`), { ...OPT_JOB, name: `optin-${kind}` });
    const out = path.join(dir, `optin-${kind}-refused.csv`);
    const r = await plan(job, ['--json', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('ledger: '); // the ledger it opened, named on stderr as every command does
    const p = JSON.parse(r.stdout);
    expect(p).toMatchObject({ rows: 6, valid: 3, duplicate: 1 });
    expect(p.reasons.suppressed.count).toBe(2);
    expect(reasonsOf(p)).toEqual([[2, 'suppressed'], [3, 'suppressed'], [5, 'duplicate']]);
    expect(p.refused[0].detail).toMatch(/^on the suppression list \(manual, .* UTC\): asked in store$/);
    expect(p.refused[1].detail).toMatch(/^in the job's suppress file .*optouts\.csv: replied STOP to the spring newsletter$/);
    expect(p.suppression).toMatchObject({ jobFiles: { files: 1, numbers: 1 }, ledger: { consulted: true, account: sim.authId, numbers: 1 } });
    const rows = parseReportCsv(await readText(out)) as unknown as Record<string, string>[];
    expect(rows.map((x) => [x['line'], x['reason'], x['dst']])).toEqual([['2', 'suppressed', '+1 212 555 0111'], ['3', 'suppressed', '+1 415 555 0112'], ['5', 'duplicate', '(212) 555-0111']]);
    // The plan read the list; it did not add the job's file to it (a run does).
    const listed = await ledgerRows<{ number: string }>(ledger, 'SELECT number FROM suppressions WHERE account = $1', [sim.authId]);
    expect(listed.map((x) => x.number)).toEqual(['12125550111']);
    expect(sim.messages()).toHaveLength(0);
  });

  it("text: the suppressed count, the rows and where the lists came from; --sandbox counts against the sandbox's list", async () => {
    const job = await writeJson(path.join(dir, `optin-text-${kind}.json`), { ...OPT_JOB, name: `optin-text-${kind}` });
    const r = await plan(job);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('  rows 6: 3 to send, 0 invalid, 1 duplicate, 2 suppressed\n');
    expect(r.stdout).toMatch(new RegExp(`  suppression: 1 number\\(s\\) in the job's 1 suppress file\\(s\\); 1 number\\(s\\) on the list of ${sim.authId} in \\S+\n`));
    expect(r.stdout).toContain('  suppressed (opted out):\n    row 1: on the suppression list (manual, ');
    const sandbox = await plan(job, ['--sandbox', '--json']);
    expect(sandbox.code, sandbox.stderr).toBe(0);
    const p = JSON.parse(sandbox.stdout);
    expect(reasonsOf(p)).toEqual([[3, 'suppressed'], [5, 'duplicate'], [7, 'suppressed']]);
    expect(p.refused[2].detail).toMatch(/tried the sandbox$/);
  });

  it("without PLIVO_AUTH_ID the ledger's list is not consulted, and the plan says why; the job's file still counts", async () => {
    const job = await writeJson(path.join(dir, `optin-noauth-${kind}.json`), { ...OPT_JOB, name: `optin-noauth-${kind}` });
    const r = await plan(job, ['--json'], ledger.env);
    expect(r.code, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(reasonsOf(p)).toEqual([[3, 'suppressed'], [5, 'duplicate']]);
    expect(p.suppression.ledger).toEqual({ consulted: false, why: expect.stringContaining('PLIVO_AUTH_ID is not set') });
    const text = await plan(job, [], ledger.env);
    expect(text.stdout).toContain("  suppression: 1 number(s) in the job's 1 suppress file(s); the ledger's list was not consulted: PLIVO_AUTH_ID is not set");
  });
});

describe('plan and a ledger older than suppression lists', { timeout: 600_000 }, () => {
  it('reads it as it is: not migrated, and the plan says its list was not consulted', async () => {
    const ledger = await createTestLedger('pglite');
    try {
      // A ledger with no smsrun tables at all: what any version before sql/012 lacks, and more.
      await (await openLedger({ home: ledger.home, migrate: false })).close();
      const job = await writeJson(path.join(dir, 'optin-old.json'), { ...OPT_JOB, name: 'optin-old' });
      const r = await runCli(['plan', job, '--json'], { cwd: dir, env: { ...ledger.env, PLIVO_AUTH_ID: sim.authId } });
      expect(r.code, r.stderr).toBe(0);
      const p = JSON.parse(r.stdout);
      expect(p.suppression.ledger).toEqual({ consulted: false, why: expect.stringContaining('has no suppression lists') });
      expect(p.reasons.suppressed.count).toBe(1); // the job's file
      const db = await openLedger({ home: ledger.home, migrate: false });
      try {
        expect(await db.query(`SELECT to_regclass('smsrun_migrations') AS t`)).toEqual([{ t: null }]);
      } finally {
        await db.close();
      }
    } finally {
      await ledger.dispose();
    }
  });
});
