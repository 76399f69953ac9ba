/**
 * Reading the embedded ledger while a run holds it: `status --json` and `export` read through the running
 * process and show live figures, instead of "in use by another smsrun process".
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { deliveredNumber, parseReport } from './helpers/csv.js';
import { liveHome, startLiveRun } from './helpers/live-run.js';

const home = liveHome();

describe('reading while a run holds the embedded ledger', () => {
  it('status --json and export show live figures during the run', { timeout: 300_000 }, async () => {
    const dsts = Array.from({ length: 40 }, (_, i) => deliveredNumber(600 + i));
    // One recipient per request at 4 a second: about 10 s of sending to read in the middle of.
    const { run, sent } = await startLiveRun(home, 'live', '14155550191', dsts);
    const { ledger } = home;

    const status = await runCli(['status', 'live', '--json'], ledger.env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stderr.split('\n')[0]).toMatch(/^ledger: .*\(SMSRUN_HOME\), read through the smsrun process that holds it \(pid \d+\)$/);
    const live = JSON.parse(status.stdout) as { rows: number; delivery: { accepted: number } };
    expect(live.rows).toBe(40);
    expect(live.delivery.accepted).toBeGreaterThanOrEqual(1);
    expect(live.delivery.accepted).toBeLessThan(40);

    const exported = await runCli(['export', 'live'], ledger.env);
    expect(exported.code, exported.stderr).toBe(0);
    const rows = parseReport(exported.stdout);
    expect(rows).toHaveLength(40);
    const withUuid = rows.filter((r) => r['message_uuid'] !== '').length;
    expect(withUuid).toBeGreaterThanOrEqual(1);
    expect(run.child.exitCode).toBeNull(); // still running: these were live figures

    const done = await run.done;
    expect(done.code, done.stderr).toBe(0);
    expect(sent()).toBe(40);
  });
});
