/**
 * The job file as the real CLI sees it: every mistake exits 2 with a message naming the file, the key and
 * the fix, never a stack trace, and before anything is sent or written; `plan` validates and estimates
 * without sending; yargs usage errors exit 2.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.js';
import {
  assertBuilt, killLeftovers, quickSim, runCli, simEnv, STACK_LINE, writeJson, writeText, type CliResult,
} from './support-validation.js';
import { tempDir } from './helpers/tmp.js';

let sim: Simulator;
let dir: string;
let home: string;
let env: Record<string, string>;

const SRC = '14155550100';

beforeAll(async () => {
  assertBuilt();
  dir = await tempDir('smsrun-jobval-');
  home = path.join(dir, 'home');
  sim = await quickSim();
  env = simEnv(sim, home);
  await writeText(path.join(dir, 'people.csv'), [
    'phone,first_name',
    '+1 (415) 555-0201,Ada',
    '14155550202,Grace',
    '14155550203,Linus',
    '14155550204,Zoe',
    '14155550205,',
    '+1 415 555 0201,Ada again', // the same E.164 number as row 1
    'not-a-number,Bob',
    '0412345678,Carol', // a national number, and no default_country
    '',
  ].join('\n'));
});

afterAll(async () => {
  killLeftovers();
  await sim?.close();
});

const base = { name: 'jv', recipients: 'people.csv', src: SRC, text: 'Hi {{first_name|there}}', rate: 500 };

async function job(file: string, value: unknown): Promise<string> {
  return writeJson(path.join(dir, file), value);
}

const cli = (...args: string[]) => runCli(args, { cwd: dir, env });

/** Exit 2, a message on stderr, no stack trace, nothing sent, no ledger created. */
function expectUsageFailure(r: CliResult): void {
  expect(r.code).toBe(2);
  expect(r.stderr).not.toMatch(STACK_LINE);
  expect(r.stderr).not.toContain('unexpected error');
  expect(r.stdout).toBe('');
  expect(sim.messages()).toHaveLength(0);
  expect(existsSync(path.join(home, 'ledger'))).toBe(false);
}

/** The "  - key: problem" lines of a JobFileError. */
function problemLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('  - '));
}

describe('job file validation (exit 2, nothing sent)', () => {
  it('a typo key (batchsize) names the file and the key, suggests batch_size, and prints no stack trace', async () => {
    const file = await job('typo.json', { ...base, batchsize: 5 });
    const r = await cli('run', file, '--track-for', '10', '--settle', '0');
    expectUsageFailure(r);
    expect(r.stderr).toContain(`smsrun: ${file}: the job file has 1 problem:`);
    expect(problemLines(r.stderr)).toHaveLength(1);
    expect(problemLines(r.stderr)[0]).toMatch(/^ {2}- batchsize: unknown key \(did you mean 'batch_size'\?\)/);
  });

  it('neither src nor powerpack_uuid: exit 2 naming both keys', async () => {
    const { src: _src, ...noSender } = base;
    const file = await job('nosender.json', noSender);
    const r = await cli('run', file);
    expectUsageFailure(r);
    expect(r.stderr).toContain(`${file}: the job file has 1 problem:`);
    expect(problemLines(r.stderr)).toEqual([
      '  - src / powerpack_uuid: give exactly one of them (a sender number or a list of them, or a Powerpack UUID)',
    ]);
  });

  it('both src and powerpack_uuid: exit 2', async () => {
    const file = await job('both.json', { ...base, powerpack_uuid: 'd35f2e82-d387-427f-8594-6fa07703a6fb' });
    const r = await cli('plan', file);
    expectUsageFailure(r);
    expect(problemLines(r.stderr)).toEqual([
      '  - src / powerpack_uuid: give exactly one of them (a sender number or a list of them, or a Powerpack UUID)',
    ]);
  });

  it('batch_size 1001: exit 2 mentioning the 1000 limit', async () => {
    const file = await job('big-batch.json', { ...base, batch_size: 1001 });
    const r = await cli('run', file);
    expectUsageFailure(r);
    expect(problemLines(r.stderr)).toEqual(['  - batch_size: Plivo accepts at most 1000 destinations per request']);
  });

  it('batch_size 1000 is accepted (the boundary)', async () => {
    const file = await job('max-batch.json', { ...base, batch_size: 1000 });
    const r = await cli('plan', file);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('type mms without media_urls: exit 2', async () => {
    const { text: _text, ...noText } = base;
    const file = await job('mms.json', { ...noText, type: 'mms' });
    const r = await cli('plan', file);
    expectUsageFailure(r);
    expect(problemLines(r.stderr)).toEqual(['  - media_urls: an MMS needs 1 to 10 media URLs (or set "type": "sms")']);
  });

  it('invalid JSON: exit 2 naming the file', async () => {
    const file = await writeText(path.join(dir, 'broken.json'), '{"name": "jv", "recipients": "people.csv",\n');
    const r = await cli('run', file);
    expectUsageFailure(r);
    expect(r.stderr).toContain(`smsrun: ${file}: the job file has 1 problem:`);
    expect(problemLines(r.stderr)).toHaveLength(1);
    expect(problemLines(r.stderr)[0]).toMatch(/^ {2}- not valid JSON: /);
  });

  it('a job file that does not exist: exit 2 naming the path', async () => {
    const file = path.join(dir, 'no-such-job.json');
    const r = await cli('run', file);
    expectUsageFailure(r);
    expect(r.stderr).toBe(`smsrun: ${file}: the job file has 1 problem:\n  - file not found: check the path\n`);
  });

  it('every problem is reported at once: three bad keys, three lines', async () => {
    const file = await job('three.json', { ...base, name: 'bad name!', rate: -1, batch_size: 0 });
    const r = await cli('run', file);
    expectUsageFailure(r);
    expect(r.stderr).toContain(`${file}: the job file has 3 problems:`);
    const lines = problemLines(r.stderr);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ {2}- name: /);
    expect(lines[1]).toBe('  - rate: must be a positive number of messages per second per src');
    expect(lines[2]).toMatch(/^ {2}- batch_size: /);
  });

  it('every problem is reported at once: three cross-key problems (src, text, media_urls)', async () => {
    const file = await job('three-cross.json', { name: 'jv', recipients: 'people.csv', media_urls: ['https://example.com/a.png'] });
    const r = await cli('plan', file);
    expectUsageFailure(r);
    expect(r.stderr).toContain(`${file}: the job file has 3 problems:`);
    expect(problemLines(r.stderr).map((l) => l.split(':')[0])).toEqual(['  - src / powerpack_uuid', '  - text', '  - media_urls']);
  });

  // Regression test: validateJob used to return the schema problems alone when there were any, so the
  // cross-key problems (src/powerpack_uuid, text, media_urls) of the same file only showed up on the next try.
  it('every problem is reported at once: a schema problem and two cross-key problems, three lines', async () => {
    const file = await job('mixed.json', { name: 'jv', recipients: 'people.csv', batch_size: 0 });
    const r = await cli('plan', file);
    expectUsageFailure(r);
    expect(r.stderr).toContain(`${file}: the job file has 3 problems:`);
    expect(problemLines(r.stderr).map((l) => l.split(':')[0]).sort()).toEqual(['  - batch_size', '  - src / powerpack_uuid', '  - text']);
  });

  // Regression test: zod 4 leaves `input` out of its issues unless asked (reportInput), so describeIssue's
  // `issue.input === undefined` test was always true and every wrongly typed key was called "required".
  it('a key of the wrong type is reported as such, not as "required"', async () => {
    const file = await job('wrong-type.json', { ...base, batch_size: '100' });
    const r = await cli('plan', file);
    expectUsageFailure(r);
    expect(problemLines(r.stderr)).toHaveLength(1);
    expect(problemLines(r.stderr)[0]).toMatch(/^ {2}- batch_size: /);
    expect(problemLines(r.stderr)[0]).not.toContain('required');
  });

  // Regression test: the cross-key checks once treated keys that failed the schema as absent, so a src of the
  // wrong type also got "give exactly one of them".
  it('a src of the wrong type is one problem, not also "no sender given"', async () => {
    const file = await job('src-type.json', { ...base, src: 14155550100 });
    const r = await cli('plan', file);
    expectUsageFailure(r);
    expect(problemLines(r.stderr)).toHaveLength(1);
    expect(problemLines(r.stderr)[0]).toMatch(/^ {2}- src: /);
  });

  // Regression test: with `type` dropped, the rest was checked as an SMS, so a misspelt "mms" also got
  // "an SMS needs a text" and "only an MMS carries media".
  it('a misspelt type is one problem, not also problems that assume an SMS', async () => {
    const { text: _text, ...noText } = base;
    const file = await job('type-typo.json', { ...noText, type: 'mmx', media_urls: ['https://example.com/a.png'] });
    const r = await cli('plan', file);
    expectUsageFailure(r);
    expect(problemLines(r.stderr)).toHaveLength(1);
    expect(problemLines(r.stderr)[0]).toMatch(/^ {2}- type: /);
  });
});

describe('plan', () => {
  it('prints the counts (valid / invalid / duplicate) and sends and writes nothing', async () => {
    const file = await job('plan.json', { ...base, name: 'jv-plan' });
    const r = await cli('plan', file);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe("plan for campaign 'jv-plan' (nothing sent, nothing written):");
    expect(lines[1]).toBe('  rows 8: 5 to send, 2 invalid, 1 duplicate');
    // No ledger yet: the plan says the account's suppression list could not be consulted, and why.
    expect(lines[2]).toBe(`  suppression: no suppress file in the job; the ledger's list was not consulted: there is no ledger at ${path.join(home, 'ledger')} yet`);
    expect(lines[3]).toBe('  by country: US 5');
    expect(lines[4]).toBe('  by number type: fixed_line_or_mobile 5');
    expect(lines[5]).toBe('  5 units from 1 sender(s) at 500/s each (units), in about 5 request(s)');
    expect(r.stdout).toContain('  invalid rows:\n');
    expect(r.stdout).toContain("    row 7: line 8: column 'phone': 'not-a-number' contains letters");
    expect(r.stdout).toContain("    row 8: line 9: column 'phone': '0412345678' reads as a national number (0412345678: it starts with 0");
    expect(sim.messages()).toHaveLength(0);
    expect(existsSync(path.join(home, 'ledger'))).toBe(false);
  });

  it('plan --json prints one JSON document with the same counts', async () => {
    const file = await job('plan-json.json', { ...base, name: 'jv-plan-json', text: 'Same text for all' });
    const r = await cli('plan', file, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as Record<string, unknown>;
    // The whole plan (refused rows, encoding, cost, windows) is covered by cli.plan.test.ts.
    expect(plan).toMatchObject({
      campaign: 'jv-plan-json',
      rows: 8,
      valid: 5,
      invalid: 2,
      duplicate: 1,
      skipped: 0,
      units: 5,
      senders: 1,
      batches: 1, // one text, five numbers, batch_size 100
      estimatedSeconds: 1,
      countries: { US: 5 },
      types: { fixed_line_or_mobile: 5 },
      landlines: 0,
      problems: [
        "row 7: line 8: column 'phone': 'not-a-number' contains letters: write the number in digits, e.g. +1 415 555 0100",
        "row 8: line 9: column 'phone': '0412345678' reads as a national number (0412345678: it starts with 0, a trunk or an international prefix), " +
          'and the job has no "default_country" to say which country it belongs to: set "default_country" (e.g. "US" or "GB"), ' +
          'or write the number with + and its country code',
      ],
    });
    expect(sim.messages()).toHaveLength(0);
  });
});

describe('command-line usage (exit 2)', () => {
  it('an unknown command', async () => {
    const r = await cli('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("smsrun: Unknown argument: frobnicate\nRun 'smsrun --help' for the commands and options.\n");
  });

  it('a missing argument (run without a job file)', async () => {
    const r = await cli('run');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('smsrun: Not enough non-option arguments: got 0, need at least 1');
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('no command at all', async () => {
    const r = await cli();
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('smsrun: name a command');
  });

  it('an unknown option', async () => {
    const file = await job('opt.json', base);
    const r = await cli('plan', file, '--bogus');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Unknown argument: bogus');
    expect(r.stdout).toBe('');
  });
});
