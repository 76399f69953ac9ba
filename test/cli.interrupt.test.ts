/**
 * Ctrl-C mid-run: the CLI lets the requests in flight finish and be recorded, exits 130 with a message saying
 * how to resume, and `smsrun resume <name>` sends the rest: every valid recipient exactly once.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.js';
import {
  assertBuilt, countByDst, FAST, fromSender, killLeftovers, parseReportCsv, quickSim, runCli, simEnv, spawnCli, STACK_LINE, writeJson, writeText,
} from './support-validation.js';
import { tempDir } from './helpers/tmp.js';
import { waitFor } from './helpers/wait.js';

let sim: Simulator;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  assertBuilt();
  dir = await tempDir('smsrun-interrupt-');
  sim = await quickSim({ seed: 3 });
  env = simEnv(sim, path.join(dir, 'home'));
});

afterAll(async () => {
  killLeftovers();
  await sim?.close();
});

describe('SIGINT and resume', () => {
  it('exit 130 with how to resume; resume finishes with every recipient texted exactly once', async () => {
    const name = 'int-slow';
    const src = '14155556000';
    // 40 recipients, one per batch, at 10 a second: 4 s of sending, interrupted early on.
    const dsts = Array.from({ length: 40 }, (_, i) => `141555561${String(i + 10)}`);
    await writeText(path.join(dir, 'slow.csv'), ['phone', ...dsts, 'not-a-number', dsts[0], ''].join('\n'));
    const job = await writeJson(path.join(dir, 'slow.json'), { name, recipients: 'slow.csv', src, text: 'Doors open at 9', rate: 10, batch_size: 1 });

    const run = spawnCli(['run', job, ...FAST], { cwd: dir, env });
    // Interrupt once sending has visibly started (the first run also initialises the ledger, ~4 s).
    await waitFor('the first messages', () => fromSender(sim, src).length >= 3);
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('SIGINT: finishing the requests in flight, then stopping');
    expect(r.stderr).toContain(`Run 'smsrun resume ${name}' (or the same command again) to carry on; nobody will be texted twice.`);

    const sentBefore = fromSender(sim, src).length;
    expect(sentBefore).toBeGreaterThanOrEqual(3);
    expect(sentBefore).toBeLessThan(40);
    expect([...countByDst(sim, src).values()].every((n) => n === 1)).toBe(true);

    // The ledger agrees with the simulator: what was accepted is recorded, the rest is pending.
    const status = await runCli(['status', name, '--json'], { cwd: dir, env });
    expect(status.code).toBe(0);
    const summary = JSON.parse(status.stdout);
    expect(summary.state).toBe('sending');
    expect(summary.rows).toBe(42);
    expect(summary.counts.pending).toBe(40 - sentBefore);
    expect(summary.counts.invalid).toBe(1);
    expect(summary.counts.duplicate).toBe(1);
    expect(summary.counts.sending).toBeUndefined();
    expect(summary.ambiguous).toEqual([]);

    const resumed = await runCli(['resume', name, ...FAST], { cwd: dir, env });
    expect(resumed.stderr).not.toMatch(STACK_LINE);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain(`resuming: the campaign is already in the ledger (42 rows)`);
    expect(resumed.stdout).toContain(`campaign ${name}: done, 42 rows`);

    expect(Object.fromEntries(countByDst(sim, src))).toEqual(Object.fromEntries(dsts.map((d) => [d, 1])));
    const report = await runCli(['export', name], { cwd: dir, env });
    expect(report.code).toBe(0);
    const rows = parseReportCsv(report.stdout);
    expect(rows.slice(0, 40).map((x) => [x.dst, x.status])).toEqual(dsts.map((d) => [d, 'delivered']));
    expect(rows.slice(40).map((x) => x.status)).toEqual(['invalid', 'duplicate']);
    const uuidByDst = new Map(fromSender(sim, src).map((m) => [m.to, m.uuid]));
    expect(rows.slice(0, 40).every((x) => x.message_uuid === uuidByDst.get(x.dst))).toBe(true);
  });
});
