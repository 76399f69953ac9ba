/**
 * Quiet hours end to end, against the simulator: recipients in two time zones at a window's boundary.
 * The window is set around the present moment, so no clock is faked: Tokyo is twenty minutes before its
 * window closes, Panama (14 hours behind, no DST) is far outside it. The Tokyo recipients are sent, with
 * a message_expiry cut to the window's end; the Panama ones wait, and the run says until when.
 * `--at` waits too, and a run killed while waiting still waits when started again. The export says which
 * zone each row's window was read in.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.js';
import { tempDir } from './helpers/tmp.js';
import { formatClock, localTime } from '../src/window/window.js';
import { createTestLedger, LEDGER_KINDS, ledgerRows, type TestLedger } from './helpers/ledgers.js';
import { waitFor } from './helpers/wait.js';
import { assertBuilt, FAST, fromSender, killLeftovers, parseReportCsv, quickSim, REPORT_HEADER, runCli, spawnCli, STACK_LINE, writeJson, writeText } from './support-validation.js';

let sim: Simulator;
let dir: string;

beforeAll(async () => {
  assertBuilt();
  dir = await tempDir('smsrun-window-');
  sim = await quickSim();
});

afterAll(async () => {
  killLeftovers();
  await sim?.close();
});

// Zones from the CSV's tz column (numbers of US customers abroad), and one each from the number itself:
// a Japanese mobile and a Panamanian one, with the tz cell left empty.
const TOKYO = ['14155550301', '14155550302', '14155550303', '819012345678'];
const PANAMA = ['14155550311', '14155550312', '50761234567'];

/** A window from an hour ago to twenty minutes from now, Tokyo time (room for a slow machine). */
function windowAroundNowInTokyo(): { start: string; end: string; closesAt: number } {
  const now = Date.now();
  const t = localTime(now, 'Asia/Tokyo');
  const minute = t.hour * 60 + t.minute;
  const closesAt = Math.floor(now / 60_000) * 60_000 + 20 * 60_000;
  return { start: formatClock((minute + 24 * 60 - 60) % (24 * 60)), end: formatClock((minute + 20) % (24 * 60)), closesAt };
}

// A run's first seconds (the embedded ledger's initdb, the load) take minutes on a loaded machine.
describe.each(LEDGER_KINDS)('send windows on the %s ledger', { timeout: 900_000 }, (kind) => {
  let ledger: TestLedger;
  beforeAll(async () => {
    ledger = await createTestLedger(kind);
  });
  afterAll(async () => {
    await ledger?.dispose();
  });
  const env = () => ({ ...ledger.env, PLIVO_AUTH_ID: sim.authId, PLIVO_AUTH_TOKEN: sim.authToken, PLIVO_API_URL: sim.url });

  it('two zones at a window boundary: Tokyo is sent with its expiry cut to the window end, Panama waits', async () => {
    const src = kind === 'pglite' ? '14155559301' : '14155559302';
    const w = windowAroundNowInTokyo();
    const tz = (d: string, zone: string) => (d.startsWith('1') ? zone : ''); // the foreign numbers tell their zone themselves
    const rows = [...TOKYO.map((d, i) => `+${d},Aiko ${i},${tz(d, 'Asia/Tokyo')}`), ...PANAMA.map((d, i) => `+${d},Pablo ${i},${tz(d, 'America/Panama')}`)];
    await writeText(path.join(dir, `w-${kind}.csv`), ['phone,name,tz', ...rows].join('\n'));
    const job = await writeJson(path.join(dir, `w-${kind}.json`), {
      name: `window-${kind}`, recipients: `w-${kind}.csv`, src, text: 'Hi {{name}}, your table is ready', rate: 100,
      send_window: { start: w.start, end: w.end, timezone: 'recipient' }, timezone_column: 'tz',
    });
    const run = spawnCli(['run', job, ...FAST], { cwd: dir, env: env() });
    // Done when Tokyo is sent and the run waits, or (a broken window) when anyone from Panama is sent.
    await waitFor('Tokyo sent and the run waiting', () => fromSender(sim, src).some((m) => PANAMA.includes(m.to)) ||
      (fromSender(sim, src).length >= TOKYO.length && run.out.stderr.includes('waiting: nothing can be sent before')), { timeoutMs: 400_000 });
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/waiting: nothing can be sent before \S+ \(the send window opens in America\/Panama\)/);

    const sent = fromSender(sim, src);
    expect(sent.map((m) => m.to).sort()).toEqual([...TOKYO].sort());
    for (const m of sent) {
      // Cut so that Plivo's deadline (its acceptance + the expiry) is the window's end, never Plivo's 3 hours.
      // The cut is computed as the request leaves, so the deadline may pass the end by the request's transit.
      expect(m.expirySec).toBeLessThanOrEqual(1200);
      expect(Math.abs(m.acceptedAtUs / 1000 + m.expirySec * 1000 - w.closesAt)).toBeLessThan(60_000);
    }
    const stored = await ledgerRows<{ dst: string; status: string; time_zone: string }>(ledger,
      `SELECT dst, status, time_zone FROM recipients r JOIN campaigns c ON c.id = r.campaign_id WHERE c.name = $1 ORDER BY row_no`, [`window-${kind}`]);
    expect(stored.map((s) => [s.dst, s.status === 'pending' ? 'pending' : 'sent', s.time_zone])).toEqual([
      ...TOKYO.map((d) => [d, 'sent', 'Asia/Tokyo']), ...PANAMA.map((d) => [d, 'pending', 'America/Panama']),
    ]);
    // The export carries the zone each row's window was read in, after smsrun's reason column.
    const exported = await runCli(['export', `window-${kind}`], { cwd: dir, env: env() });
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout.split('\n')[0]).toBe(`${REPORT_HEADER},time_zone,phone,name,tz`);
    expect(parseReportCsv(exported.stdout).map((row) => [row.dst, (row as unknown as Record<string, string>)['time_zone']])).toEqual([
      ...TOKYO.map((d) => [d, 'Asia/Tokyo']), ...PANAMA.map((d) => [d, 'America/Panama']),
    ]);
  });

  it('--at: nothing is sent before it, and a run killed while waiting waits again when resumed', async () => {
    const src = kind === 'pglite' ? '14155559311' : '14155559312';
    const name = `at-${kind}`;
    await writeText(path.join(dir, `${name}.csv`), ['phone', '14155550321', '14155550322'].join('\n'));
    const job = await writeJson(path.join(dir, `${name}.json`), { name, recipients: `${name}.csv`, src, text: 'Doors open at 9', rate: 100 });
    const at = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const first = spawnCli(['run', job, '--at', at, ...FAST], { cwd: dir, env: env() });
    await waitFor('the first run to wait', () => first.out.stderr.includes('waiting: nothing can be sent before'), { timeoutMs: 400_000 });
    first.child.kill('SIGKILL'); // a crash while waiting
    await first.done;
    const again = spawnCli(['resume', name, ...FAST], { cwd: dir, env: env() });
    await waitFor('the resumed run to wait', () => again.out.stderr.includes('waiting: nothing can be sent before'), { timeoutMs: 400_000 });
    again.child.kill('SIGINT');
    const r = await again.done;
    expect(r.stderr).toContain(`waiting: nothing can be sent before ${at.replace('Z', '.000Z')} (the scheduled start)`);
    expect(fromSender(sim, src)).toEqual([]);
  });
});

describe('a bad --at', { timeout: 300_000 }, () => {
  it('exits 2 saying how to write the time', async () => {
    const job = await writeJson(path.join(dir, 'bad-at.json'), { name: 'bad-at', recipients: 'none.csv', src: '14155559320', text: 'x' });
    const r = await runCli(['run', job, '--at', 'tomorrow'], { cwd: dir, env: { SMSRUN_HOME: path.join(dir, 'h'), PLIVO_AUTH_ID: sim.authId, PLIVO_AUTH_TOKEN: sim.authToken, PLIVO_API_URL: sim.url } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--at 'tomorrow' is not a time smsrun can read");
    expect(r.stderr).not.toMatch(STACK_LINE);
  });
});
