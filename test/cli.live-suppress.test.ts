/**
 * Suppressing mid-campaign on the embedded ledger: while `smsrun run` holds it, `smsrun suppress add` and
 * `suppress import` are applied by the running process (ledger/share-ops.ts), and its claim-time check then
 * never sends those numbers. What the simulator received is the truth.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { deliveredNumber, parseReport } from './helpers/csv.js';
import { liveHome, startLiveRun } from './helpers/live-run.js';

const home = liveHome();

describe('suppressing while a run holds the embedded ledger', () => {
  it('suppress add and import go through the running process, which never texts those numbers', { timeout: 300_000 }, async () => {
    const src = '14155550192';
    const dsts = Array.from({ length: 80 }, (_, i) => deliveredNumber(700 + i));
    const [byAdd, byImport] = [dsts[78]!, dsts[79]!]; // sent last, at 4 a second: about 20 s after the first
    const { env, ledger, sim } = home;
    const { run, job, sent } = await startLiveRun(home, 'live-stop', src, dsts);
    const optouts = path.join(path.dirname(job), 'optouts.csv');
    await writeFile(optouts, `phone,reason\n+${byImport},replied STOP to the shop\n`);
    const received = (n: string) => sim.messages().filter((m) => m.from === src && m.to === n).length;

    const add = await runCli(['suppress', 'add', `+${byAdd}`, '--reason', 'called support'], env);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stderr.split('\n')[0]).toMatch(/^ledger: .*\(SMSRUN_HOME\), through the smsrun process that holds it \(pid \d+\)$/);
    expect(add.stdout).toMatch(/1 number\(s\) added to the suppression list, through the running smsrun process \(pid \d+\)/);
    const imported = await runCli(['suppress', 'import', optouts], env);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/1 number\(s\) added .*through the running smsrun process/);
    // Listed before either was sent, or the test proves nothing.
    expect(run.child.exitCode).toBeNull();
    expect(received(byAdd) + received(byImport)).toBe(0);
    const listed = await runCli(['suppress', 'list'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(`+${byAdd}`);
    expect(listed.stdout).toContain(`+${byImport}`);
    const removed = await runCli(['suppress', 'remove', `+${dsts[0]!}`], env);
    expect(removed.stdout).toMatch(/0 number\(s\) removed .*1 were not on it, through the running smsrun process/);

    const done = await run.done;
    expect(done.code, done.stderr).toBe(0);
    expect(received(byAdd)).toBe(0);
    expect(received(byImport)).toBe(0);
    expect(sent()).toBe(78);

    const exported = await runCli(['export', 'live-stop'], ledger.env);
    expect(exported.code, exported.stderr).toBe(0);
    const rows = parseReport(exported.stdout);
    const row = (n: string) => rows.find((r) => r['dst']!.replace(/^'?\+/, '') === n)!;
    expect(row(byAdd)).toMatchObject({ status: 'suppressed', reason: expect.stringMatching(/manual.*called support/) as unknown });
    expect(row(byImport)).toMatchObject({ status: 'suppressed', reason: expect.stringMatching(/import:.*replied STOP to the shop/) as unknown });
  });
});
