/**
 * `smsrun plan` on a list with every kind of problem: counts per reason with the first rows, every refused
 * row in --json and --out, the texts that need UCS-2 and why, gsm_replace's saving in units, the cost from
 * a rate card, the send window per zone; nothing sent, nothing written.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.js';
import { assertBuilt, killLeftovers, parseReportCsv, quickSim, readText, runCli, simEnv, STACK_LINE, writeJson, writeText } from './support-validation.js';
import { tempDir } from './helpers/tmp.js';

let sim: Simulator;
let dir: string;
let home: string;
let cleanup: () => Promise<void>;
let env: Record<string, string>;

// 105 characters: one GSM unit, two in UCS-2 (a curly apostrophe is enough to make it UCS-2).
const TEXT = 'Hi {{name}}, it’s your reminder: the community garden opens Saturday at 9 and we’d love to see you there.';

beforeAll(async () => {
  assertBuilt();
  dir = await tempDir('smsrun-plan-');
  cleanup = async () => undefined; // helpers/tmp removes it after the file's last test
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
  await cleanup?.();
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
