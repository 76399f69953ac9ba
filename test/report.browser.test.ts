/**
 * The HTML report of a finished simulator campaign, opened in a real browser (Debian's Chromium, driven by
 * playwright-core): the summary on the page matches the ledger, the page asks the network for nothing, the
 * charts are drawn, and it follows dark mode and print. Screenshots go to test/artifacts/.
 *
 * Skipped, saying so, only when /usr/bin/chromium is missing on a developer's machine (apt-get install
 * chromium); under CI (CI set) a missing Chromium fails the test: .ci/run installs it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { killLeftovers, ROOT, runCli, simEnv } from './helpers/cli.js';
import { createTestLedger, ledgerRows, type TestLedger } from './helpers/ledgers.js';
import { deliveredNumber, writeJob } from './helpers/csv.js';
import { tempDir } from './helpers/tmp.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');
const SRCS = ['14155550111', '14155550112', '14155550113'];

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && !process.env['CI']) {
  console.warn(`report.browser.test.ts: skipped, ${CHROMIUM} is missing (apt-get install chromium to run it; CI installs it).`);
}

describe.skipIf(!haveChromium && !process.env['CI'])('the HTML report in Chromium', () => {
  let ledger: TestLedger;
  let sim: Simulator;
  let context: BrowserContext;
  let page: Page;
  const requests: string[] = [];
  let fileUrl: string;
  /** Chromium's profile: removed only once the browser is closed (it writes there until then). */
  let profile: string | undefined;
  const name = 'browser-report';

  beforeAll(async () => {
    ledger = await createTestLedger('pglite');
    sim = await startSimulator({ mps: 400, deliveryDelayMs: [20, 900], seed: 9 });
    const rows = ['phone,name'];
    for (let i = 0; i < 90; i++) rows.push(`${deliveredNumber(i)},Person ${i}`);
    for (let i = 0; i < 6; i++) rows.push(`1415666${String(i).padStart(2, '0')}97,Undelivered ${i}`); // error 80
    for (let i = 0; i < 4; i++) rows.push(`1415777${String(i).padStart(2, '0')}98,Failed ${i}`); // error 90
    rows.push('not a number,Invalid', `${deliveredNumber(0)},Duplicate`);
    const job = await writeJob({ name, src: SRCS, text: 'Hello {{name}}, your order shipped.', rate: 40, batch_size: 5 }, rows.join('\n') + '\n');
    const run = await runCli(['run', job, '--track-for', '30', '--settle', '0'], { ...ledger.env, ...simEnv(sim) });
    expect(run.code, run.stderr).toBe(0);
    const dir = await tempDir();
    const file = path.join(dir, 'report.html');
    const exported = await runCli(['export', name, '--out', file], ledger.env);
    expect(exported.code, exported.stderr).toBe(0);
    fileUrl = pathToFileURL(file).href;

    if (!haveChromium) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium package`);
    profile = await mkdtemp(path.join(os.tmpdir(), 'smsrun-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1100, height: 900 },
    });
    page = await context.newPage();
    page.on('request', (r) => { if (r.url() !== fileUrl) requests.push(r.url()); });
    await page.goto(fileUrl);
  }, 300_000); // a campaign run, an export and a browser start, on a busy machine
  afterAll(async () => {
    await context?.close();
    if (profile) await rm(profile, { recursive: true, force: true, maxRetries: 5 });
    killLeftovers();
    await sim?.close();
    await ledger?.dispose();
  });

  it('shows the summary the ledger holds', async () => {
    const counts = await ledgerRows<{ status: string; count: number }>(ledger,
      `SELECT r.status, count(*)::int AS count FROM recipients r JOIN campaigns c ON c.id = r.campaign_id WHERE c.name = $1 GROUP BY 1`, [name]);
    const [totals] = await ledgerRows<{ accepted: number; delivered: number; spent: string; units: number }>(ledger,
      `SELECT count(*)::int AS accepted, count(*) FILTER (WHERE m.state = 'delivered')::int AS delivered,
              coalesce(sum(m.total_amount), 0)::text AS spent, coalesce(sum(m.units), 0)::int AS units
       FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = $1`, [name]);
    const byStatus = Object.fromEntries(counts.map((c) => [c.status, c.count]));
    expect(byStatus).toMatchObject({ delivered: 90, undelivered: 6, failed: 4, invalid: 1, duplicate: 1 });

    const tile = async (metric: string) => {
      const el = page.locator(`.tile[data-metric="${metric}"]`);
      return { value: Number(await el.getAttribute('data-value')), shown: (await el.locator('.value').innerText()).trim() };
    };
    expect(await tile('rows')).toEqual({ value: 102, shown: '102' });
    expect(await tile('delivered')).toEqual({ value: totals!.delivered, shown: String(totals!.delivered) });
    expect(totals!.delivered).toBe(90);
    const rate = await tile('delivery-rate');
    expect(rate.value).toBeCloseTo(totals!.delivered / totals!.accepted, 10);
    expect(rate.shown).toBe(`${(Math.floor((totals!.delivered / totals!.accepted) * 1000) / 10).toFixed(1)}%`);
    expect(await tile('not-delivered')).toEqual({ value: 10, shown: '10' });
    expect(await tile('not-sent')).toEqual({ value: 2, shown: '2' });
    const cost = await tile('cost');
    expect(cost.value).toBeCloseTo(Number(totals!.spent), 5);
    expect(await page.locator('.tile[data-metric="cost"] .sub').innerText()).toContain(`${totals!.units} units`);
    for (const [status, count] of Object.entries(byStatus)) {
      expect(Number(await page.locator(`#outcomes tr[data-status="${status}"] td.num`).first().getAttribute('data-value')), status).toBe(count);
    }
    expect(Number(await page.locator('#errors tr[data-code="80"] td.num[data-value]').getAttribute('data-value'))).toBe(6);
    expect(Number(await page.locator('#errors tr[data-code="90"] td.num[data-value]').getAttribute('data-value'))).toBe(4);
    expect(await page.locator('#senders tbody tr').count()).toBe(SRCS.length);
    expect(await page.locator('#attention .group[data-status="invalid"] tbody tr').innerText()).toContain('not a number');
  });

  it('makes no network request', () => {
    expect(requests).toEqual([]);
  });

  it('draws every chart with content', async () => {
    for (const chart of ['outcomes', 'progress', 'sender', 'latency']) {
      const marks = page.locator(`svg[data-chart="${chart}"] .series`);
      expect(await marks.count(), chart).toBeGreaterThan(0);
      let drawn = 0;
      for (const box of await Promise.all((await marks.all()).map((m) => m.boundingBox()))) {
        if (box && box.width > 0 && box.height > 0) drawn++;
      }
      expect(drawn, `${chart}: marks with an area`).toBeGreaterThan(0);
    }
    expect(await page.locator('svg[data-chart="sender"]').count()).toBe(SRCS.length);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'report.png'), fullPage: true });
  });

  it('follows dark mode, and prints on white', async () => {
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await background()).toBe('rgb(15, 20, 25)');
    await page.screenshot({ path: path.join(ARTIFACTS, 'report-dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark', media: 'print' });
    expect(await background()).toBe('rgb(255, 255, 255)');
    await page.emulateMedia({ colorScheme: 'light', media: 'screen' });
    expect(await background()).toBe('rgb(255, 255, 255)');
    expect(requests).toEqual([]);
  });
});
