/**
 * The Plivo auth token never leaves the HTTP client: not on stdout or stderr, not in `status`, not in the
 * exported reports, whether Plivo refuses it (401) or misbehaves (5xx pages, retries, reconciliation).
 * (The ledger itself cannot be read from outside the CLI; what it holds shows through status and export.)
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.js';
import {
  assertBuilt, countByDst, killLeftovers, parseJsonl, parseReportCsv, quickSim, readText, runCli, STACK_LINE, tempDir,
  writeJson, writeText, type CliResult,
} from './support-validation.js';

// Letters and digits only, long and unlike anything else a run prints.
const WRONG_TOKEN = 'WrongTokenQz7Xk2Vb9Lm4Np8Rt6Ys3Uw5Hj1Gd0';
const SECRET_TOKEN = 'SecretTokenPq3Zx8Cv1Bn6Mk4Lj9Hg2Fd7Sa5We0';

let dir: string;
let home: string;
let cleanup: () => Promise<void>;
const sims: Simulator[] = [];

beforeAll(async () => {
  assertBuilt();
  ({ dir, cleanup } = await tempDir('secrets'));
  home = path.join(dir, 'home');
});

afterAll(async () => {
  killLeftovers();
  await Promise.all(sims.map((s) => s.close()));
  await cleanup?.();
});

function envFor(sim: Simulator, token: string): Record<string, string> {
  return { SMSRUN_HOME: home, PLIVO_AUTH_ID: sim.authId, PLIVO_AUTH_TOKEN: token, PLIVO_API_URL: sim.url };
}

/** The token, and the Basic credential it is sent in, in every form that could leak. */
function secretsOf(authId: string, token: string): string[] {
  return [token, Buffer.from(`${authId}:${token}`).toString('base64')];
}

function expectClean(text: string, secrets: string[], where: string): void {
  for (const s of secrets) expect(text.includes(s), `${where} contains a secret`).toBe(false);
}

async function everythingPrinted(name: string, env: Record<string, string>): Promise<{ status: CliResult; statusText: CliResult; csv: CliResult; jsonl: CliResult }> {
  const cli = (...args: string[]) => runCli(args, { cwd: dir, env });
  const status = await cli('status', name, '--json');
  const statusText = await cli('status');
  const csv = await cli('export', name);
  const jsonl = await cli('export', name, '--format', 'jsonl');
  for (const r of [status, statusText, csv, jsonl]) expect(r.code).toBe(0);
  return { status, statusText, csv, jsonl };
}

async function campaign(name: string, src: string, dsts: string[], extra: Record<string, unknown> = {}): Promise<string> {
  await writeText(path.join(dir, `${name}.csv`), ['phone,name', ...dsts.map((d, i) => `${d},P${i}`), ''].join('\n'));
  return writeJson(path.join(dir, `${name}.json`), { name, recipients: `${name}.csv`, src, text: 'Your code is ready', rate: 500, batch_size: 2, ...extra });
}

describe('the auth token is never printed or stored', () => {
  it('a refused token (401): exit 1, says to check PLIVO_AUTH_ID/PLIVO_AUTH_TOKEN, and the token shows nowhere', async () => {
    const sim = await quickSim({ seed: 11 });
    sims.push(sim);
    const env = envFor(sim, WRONG_TOKEN);
    const secrets = secretsOf(sim.authId, WRONG_TOKEN);
    const dsts = ['14155552001', '14155552002', '14155552003', '14155552004'];
    const job = await campaign('sec-401', '14155552000', dsts);

    const r = await runCli(['run', job, '--track-for', '10', '--settle', '0'], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('smsrun: Plivo refused the credentials (HTTP 401');
    expect(r.stderr).toContain('Check PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN');
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stderr).not.toContain('unexpected error');
    expect(sim.messages()).toHaveLength(0);
    expect(sim.stats().unauthorized).toBeGreaterThan(0);
    expect(sim.stats().accepted.requests).toBe(0);
    expectClean(r.stdout + r.stderr, secrets, 'the run output');

    const out = await everythingPrinted('sec-401', env);
    const summary = JSON.parse(out.status.stdout);
    expect(summary.state).toBe('sending');
    expect(summary.counts).toEqual({ pending: 4 });
    expect(parseReportCsv(out.csv.stdout).map((x) => [x.dst, x.status])).toEqual(dsts.map((d) => [d, 'pending']));
    expect(parseJsonl(out.jsonl.stdout)).toHaveLength(4);
    for (const [k, v] of Object.entries(out)) expectClean(v.stdout + v.stderr, secrets, k);
  });

  it('5xx pages, ambiguous batches and their reconciliation: everyone texted once, the token shows nowhere', async () => {
    const sim = await quickSim({ seed: 5, authToken: SECRET_TOKEN, faults: { rate5xx: 0.3 } });
    sims.push(sim);
    const env = envFor(sim, SECRET_TOKEN);
    const secrets = secretsOf(sim.authId, SECRET_TOKEN);
    const src = '14155553000';
    const dsts = Array.from({ length: 8 }, (_, i) => `141555530${String(i + 10)}`);
    const job = await campaign('sec-5xx', src, dsts);

    const r = await runCli(['run', job, '--track-for', '15', '--settle', '0', '--request-timeout', '2'], { cwd: dir, env });
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.code).toBe(0);
    expect(sim.stats().injected.rate5xx).toBeGreaterThan(0);
    console.log(JSON.stringify(sim.stats()), r.stderr);
    expect(Object.fromEntries(countByDst(sim, src))).toEqual(Object.fromEntries(dsts.map((d) => [d, 1])));
    expectClean(r.stdout + r.stderr, secrets, 'the run output');

    const reportFile = path.join(home, 'reports', 'sec-5xx.csv');
    expect(existsSync(reportFile)).toBe(true);
    expectClean(await readText(reportFile), secrets, 'the report file');

    const out = await everythingPrinted('sec-5xx', env);
    expect(JSON.parse(out.status.stdout).rows).toBe(8);
    const rows = parseReportCsv(out.csv.stdout);
    expect(rows.map((x) => x.dst)).toEqual(dsts);
    expect(new Set(rows.map((x) => x.message_uuid)).size).toBe(8);
    for (const [k, v] of Object.entries(out)) expectClean(v.stdout + v.stderr, secrets, k);
  });
});
