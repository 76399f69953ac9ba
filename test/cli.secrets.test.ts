/**
 * The Plivo auth token never leaves the HTTP client: not on stdout or stderr, not in `status`, not in the
 * exported reports, whether Plivo refuses it (401) or misbehaves (5xx pages, retries, reconciliation).
 * (The ledger itself cannot be read from outside the CLI; what it holds shows through status and export.)
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.js';
import {
  assertBuilt, countByDst, killLeftovers, parseJsonl, parseReportCsv, quickSim, readText, runCli, spawnCli, STACK_LINE, writeJson, writeText, type CliResult,
} from './support-validation.js';
import { tempDir } from './helpers/tmp.js';
import { waitFor } from './helpers/wait.js';

// Letters and digits only, long and unlike anything else a run prints.
const WRONG_TOKEN = 'WrongTokenQz7Xk2Vb9Lm4Np8Rt6Ys3Uw5Hj1Gd0';
const SECRET_TOKEN = 'SecretTokenPq3Zx8Cv1Bn6Mk4Lj9Hg2Fd7Sa5We0';

let dir: string;
let home: string;
const sims: Simulator[] = [];

beforeAll(async () => {
  assertBuilt();
  dir = await tempDir('smsrun-secrets-');
  home = path.join(dir, 'home');
});

afterAll(async () => {
  killLeftovers();
  await Promise.all(sims.map((s) => s.close()));
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

  it('5xx pages on every create, then reconciliation: everyone texted once, the token shows nowhere', async () => {
    // Every request fails with a 5xx HTML page until the four creates have arrived; then the account heals.
    const sim = await quickSim({ seed: 5, authToken: SECRET_TOKEN, faults: { rate5xx: 1 } });
    sims.push(sim);
    const env = envFor(sim, SECRET_TOKEN);
    const secrets = secretsOf(sim.authId, SECRET_TOKEN);
    const src = '14155553000';
    const dsts = Array.from({ length: 8 }, (_, i) => `141555530${String(i + 10)}`);
    const job = await campaign('sec-5xx', src, dsts);

    const run = spawnCli(['run', job, '--track-for', '15', '--settle', '0', '--request-timeout', '1'], { cwd: dir, env });
    // A first run on a new embedded ledger took over 120 s to reach its fourth create at load 10 (CI, 2026-12-02):
    // the safety net is wider, and a run that ended early fails on its exit code below instead of a timeout.
    await waitFor('four (refused) creates', () => (sim.stats().byEndpoint['create'] ?? 0) >= 4 || run.child.exitCode !== null, { timeoutMs: 240_000 });
    sim.setFaults({ rate5xx: 0 });
    const r = await run.done;
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(sim.stats().injected.rate5xx).toBeGreaterThanOrEqual(4); // 4 creates (+ a List, on a very slow machine)
    expect(sim.stats().byEndpoint['create']).toBe(8); // 4 refused, 4 sent again after reconciliation
    expect(r.stderr.match(/may or may not have been accepted \(HTTP 50\d without Plivo's JSON error body/g)).toHaveLength(4);
    expect(r.stderr.match(/reconciled batch \d+: 0 of 2 found at Plivo; 2 will be sent/g)).toHaveLength(4);
    expect(Object.fromEntries(countByDst(sim, src))).toEqual(Object.fromEntries(dsts.map((d) => [d, 1])));
    expectClean(r.stdout + r.stderr, secrets, 'the run output');

    const reportFile = path.join(home, 'reports', 'sec-5xx.csv');
    expect(existsSync(reportFile)).toBe(true);
    expectClean(await readText(reportFile), secrets, 'the report file');

    const out = await everythingPrinted('sec-5xx', env);
    expect(JSON.parse(out.status.stdout).rows).toBe(8);
    const rows = parseReportCsv(out.csv.stdout);
    expect(rows.map((x) => x.dst)).toEqual(dsts);
    expect(rows.map((x) => x.status)).toEqual(dsts.map(() => 'delivered'));
    expect(new Set(rows.map((x) => x.message_uuid)).size).toBe(8);
    for (const [k, v] of Object.entries(out)) expectClean(v.stdout + v.stderr, secrets, k);
  });

  it('a proxy whose 502 page echoes the credentials: the echo is redacted everywhere', async () => {
    const sim = await quickSim({ seed: 6, authToken: SECRET_TOKEN });
    sims.push(sim);
    const proxy = await echoingProxy(sim.url, 2, (auth, idAndToken) =>
      `<html><body><h1>502 Bad Gateway</h1><pre>Authorization: ${auth}\ncredentials: ${idAndToken}</pre></body></html>`);
    const env = { ...envFor(sim, SECRET_TOKEN), PLIVO_API_URL: proxy.url };
    const secrets = secretsOf(sim.authId, SECRET_TOKEN);
    const src = '14155554000';
    const dsts = ['14155554001', '14155554002', '14155554003', '14155554004'];
    const job = await campaign('sec-proxy', src, dsts);
    try {
      const r = await runCli(['run', job, '--track-for', '0', '--settle', '0', '--request-timeout', '1'], { cwd: dir, env });
      expect(r.stderr).not.toMatch(STACK_LINE);
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      expect(proxy.poisoned()).toBe(2);
      // The page did reach the reason shown to the user, with the secrets replaced.
      expect(r.stderr).toContain('Authorization: Basic [redacted]');
      expectClean(r.stdout + r.stderr, secrets, 'the run output');
      expect(Object.fromEntries(countByDst(sim, src))).toEqual(Object.fromEntries(dsts.map((d) => [d, 1])));
      const out = await everythingPrinted('sec-proxy', { ...env, PLIVO_API_URL: proxy.url });
      for (const [k, v] of Object.entries(out)) expectClean(v.stdout + v.stderr, secrets, k);
    } finally {
      await proxy.close();
    }
  });

  // Regression test: classifyResponse cut the body to 200 characters BEFORE PlivoClient redacted the secrets,
  // so a token straddling the cut was no longer a whole match and its first characters were printed.
  it('a proxy page whose echo of the token straddles the 200-character excerpt: no part of the token is printed', async () => {
    const sim = await quickSim({ seed: 8, authToken: SECRET_TOKEN });
    sims.push(sim);
    const proxy = await echoingProxy(sim.url, 1, (_auth, idAndToken) => 'E'.repeat(180) + idAndToken.split(':')[1]);
    const env = { ...envFor(sim, SECRET_TOKEN), PLIVO_API_URL: proxy.url };
    const job = await campaign('sec-cut', '14155555000', ['14155555001']);
    try {
      const r = await runCli(['run', job, '--track-for', '0', '--settle', '0', '--request-timeout', '1'], { cwd: dir, env });
      expect(proxy.poisoned()).toBe(1);
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      expect(r.stderr).toContain('EEEEEEEEEE');
      expect(r.stdout + r.stderr).not.toContain(SECRET_TOKEN.slice(0, 12));
    } finally {
      await proxy.close();
    }
  });
});

/**
 * A reverse proxy in front of the simulator that answers the first `poison` creates itself with a 502 HTML
 * page built from the request's credentials (a misconfigured load balancer echoing headers), without
 * forwarding them; everything else is forwarded untouched.
 */
async function echoingProxy(target: string, poison: number, page: (authorization: string, idAndToken: string) => string) {
  let poisoned = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const auth = req.headers.authorization ?? '';
      if (req.method === 'POST' && /\/Message\/$/.test(req.url ?? '') && poisoned < poison) {
        poisoned++;
        const html = page(auth, Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString('utf8'));
        res.writeHead(502, { 'Content-Type': 'text/html', 'Content-Length': Buffer.byteLength(html) });
        res.end(html);
        return;
      }
      const upstream = http.request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    poisoned: () => poisoned,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
