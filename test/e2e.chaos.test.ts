/**
 * The chaos test (the acceptance test of the "exactly once over crashes" issue), on every available ledger:
 * a campaign of a few thousand recipients over four srcs, against the simulator with faults switched on
 * (429s, HTML 5xx, connections dropped before and after the simulator accepted, 500/503 with Plivo's JSON error
 * body after it accepted, slow List answers, latency), SIGKILLed at random moments at least 5 times while it is
 * sending and resumed each time by running the same command, then interrupted (SIGINT) once while it looks
 * ambiguous batches up in Plivo's records. Then the
 * simulator's records (the truth: it is "Plivo") must show every valid recipient texted exactly once, no
 * invalid or duplicate row texted, per-src pacing held over the whole test (a resume must not add a burst),
 * and the exported report must agree with the simulator row by row.
 *
 * Every random choice comes from one seed, printed at the start: CHAOS_SEED=<seed> replays the CSV, the kill
 * moments and the simulator's faults (process timing still varies from run to run).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSimulator, worstWindow, type Simulator } from '../src/sim/index.js';
import { killLeftovers, runCli, startCli, type CliResult, simEnv } from './helpers/cli.js';
import { createTestLedger, LEDGER_KINDS, type TestLedger } from './helpers/ledgers.js';
import { usNumber, writeJob } from './helpers/csv.js';
import { waitFor } from './helpers/wait.js';
import { watchStalls } from './helpers/stalls.js';

const SEED = process.env['CHAOS_SEED'] ? Number(process.env['CHAOS_SEED']) : Math.floor(Math.random() * 2 ** 31);
const SRCS = ['14155550201', '14155550202', '14155550203', '14155550204'];
const RATE = 120; // units per second per src: 2400 messages take 5 s to send, so kills land mid-send
const BATCH_SIZE = 20;
const VALID = 2400;
const MIN_KILLS_MID_SEND = 5;
const MAX_KILLS = 25;
const MAX_FINAL_RUNS = 4;
const FLAGS = ['--settle', '0', '--request-timeout', '1', '--track-for', '0', '--list-per-minute', '600'];
/**
 * A slow List answer takes 0.6–2 s: past the 1 s request timeout most of the time (the page is asked again), within
 * it otherwise (a long round trip in the clock-skew measurement). Kept rare: a lookup is a series of pages.
 */
const CHAOS_FAULTS = {
  rate429: 0.05, rate5xx: 0.05, dropBeforeAccept: 0.03, dropAfterAccept: 0.05, rate5xxAfterAccept: 0.05,
  slowList: 0.03, slowListMs: [600, 2000] as [number, number], latencyMs: [0, 30] as [number, number],
};
const MAX_INTERRUPT_RUNS = 4;

/** mulberry32: a small seeded PRNG, so a failing CSV and kill schedule can be replayed. */
function rng(seed: number): { next(): number; int(min: number, max: number): number } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (min, max) => min + Math.floor(next() * (max - min + 1)) };
}

interface Row {
  /** 1-based data row, as the report numbers it. */
  row: number;
  phone: string;
  tier: string;
  kind: 'valid' | 'invalid' | 'duplicate';
  /** The sanitised number, for valid and duplicate rows. */
  dst?: string;
}

/** ~2500 rows: VALID unique numbers in several spellings, some invalid rows and some repeats, shuffled. */
function makeRows(r: ReturnType<typeof rng>): Row[] {
  // Numbers ending 97/98/99 never become 'delivered' quickly in the simulator (src/sim/outcome.ts).
  const numbers: string[] = [];
  for (let i = 0; numbers.length < VALID; i++) if (!/9[789]$/.test(usNumber(i))) numbers.push(usNumber(i));
  const spell = (n: string): string => {
    switch (r.int(0, 3)) {
      case 0: return n;
      case 1: return `+${n}`;
      case 2: return `+${n[0]} (${n.slice(1, 4)}) ${n.slice(4, 7)}-${n.slice(7)}`;
      default: return `${n[0]}-${n.slice(1, 4)}-${n.slice(4, 7)}-${n.slice(7)}`;
    }
  };
  const entries: { phone: string; dst?: string }[] = numbers.map((n) => ({ phone: spell(n), dst: n }));
  for (let i = 0; i < 60; i++) entries.push({ phone: spell(numbers[r.int(0, numbers.length - 1)]!).replace(/^\+?/, '') }); // repeats
  for (let i = 0; i < 25; i++) entries.push({ phone: `1415555${String(i).padStart(2, '0')}x${r.int(10, 99)}` }); // letters
  for (let i = 0; i < 15; i++) entries.push({ phone: '' }); // empty
  for (let i = 0; i < 10; i++) entries.push({ phone: `0${r.int(100000000, 999999999)}` }); // leading 0
  for (let i = entries.length - 1; i > 0; i--) { // Fisher-Yates with the seeded stream
    const j = r.int(0, i);
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  const seen = new Set<string>();
  return entries.map((e, i) => {
    const base = { row: i + 1, phone: e.phone, tier: ['gold', 'silver', 'bronze'][r.int(0, 2)]! };
    const dst = e.dst ?? (/^[\d+\-() ]+$/.test(e.phone) && !e.phone.startsWith('0') ? e.phone.replace(/\D/g, '') : undefined);
    if (dst === undefined || dst === '') return { ...base, kind: 'invalid' as const };
    if (seen.has(dst)) return { ...base, kind: 'duplicate' as const, dst };
    seen.add(dst);
    return { ...base, kind: 'valid' as const, dst };
  });
}


/** The tail of a CLI's output, for failure messages. */
function tail(r: { stdout: string; stderr: string; code?: number | null; signal?: string | null }, n = 3000): string {
  return `exit ${String(r.code)} signal ${String(r.signal)}\n--- stdout ---\n${r.stdout.slice(-n)}\n--- stderr ---\n${r.stderr.slice(-n)}`;
}

describe.each(LEDGER_KINDS)('chaos on the %s ledger', (kind) => {
  let ledger: TestLedger;
  let sim: Simulator;

  beforeAll(async () => {
    ledger = await createTestLedger(kind);
    sim = await startSimulator({
      mps: 5000, deliveryDelayMs: [5, 30], limits: false, seed: SEED,
      faults: CHAOS_FAULTS,
    });
  });
  afterAll(async () => {
    killLeftovers();
    await sim?.close();
    await ledger?.dispose();
  });

  it('texts every valid recipient exactly once over repeated SIGKILLs and resumes, and the report agrees with Plivo', async () => {
    const started = Date.now();
    const r = rng(SEED);
    const log = (msg: string): void => console.log(`[chaos ${kind} seed=${SEED} +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
    log(`replay with CHAOS_SEED=${SEED}`);

    const rows = makeRows(r);
    const name = `chaos-${kind}`;
    const csv = ['phone,tier', ...rows.map((x) => `"${x.phone}",${x.tier}`)].join('\n') + '\n';
    const job = await writeJob({ name, src: SRCS, text: 'Your {{tier}} offer ends Sunday', rate: RATE, batch_size: BATCH_SIZE }, csv);
    const env = { ...ledger.env, ...simEnv(sim) };
    const args = ['run', job, ...FLAGS];
    const valid = rows.filter((x) => x.kind === 'valid');
    const stalls = watchStalls(); // arrival jitter from this process's own stalls, for the pacing check

    // Kill at random moments, resuming each time with the same command, until at least MIN_KILLS_MID_SEND
    // kills have landed while the simulator was receiving this process's sends.
    let kills = 0;
    let midSend = 0;
    const history: string[] = []; // what each run did, with its stderr, for failure messages
    while (midSend < MIN_KILLS_MID_SEND && kills < MAX_KILLS && history.length < MAX_KILLS + MAX_FINAL_RUNS) {
      const run = startCli(args, env);
      const spawned = Date.now();
      const stamped: string[] = []; // stderr with ms since the start
      run.child.stderr!.on('data', (d: string) => stamped.push(`+${Date.now() - spawned}ms ${d.trimEnd()}`));
      const atStart = sim.messages().length;
      // Mostly kill at the first send after a random delay counted from this run's first send; now and then at a
      // random moment from the start instead, wherever that lands (opening the ledger, loading, adopting
      // orphans). Counted from the first send, not from a time after loading: on a busy machine the steps
      // between loading and sending can take longer than any fixed delay, and no kill would land mid-send.
      const early = kills > 0 && r.next() < 0.25;
      const delay = early ? r.int(300, 2500) : r.int(100, 800);
      const exited = () => run.child.exitCode !== null || run.child.signalCode !== null;
      if (!early) {
        try {
          await waitFor('this run to send', () => sim.messages().length > atStart || exited());
        } catch (err) {
          run.child.kill('SIGKILL');
          expect.fail(`run ${history.length + 1}: ${(err as Error).message}:\n${stamped.join('\n')}`);
        }
      }
      if (!exited()) await Promise.race([sleep(delay), run.done]);
      // A kill after the first send lands at the next send that reaches the simulator after the random delay, a
      // condition rather than a moment: after a kill a run sends a batch a number and then holds each number
      // while it looks that number's ambiguous batches up in Plivo's records, which on a busy machine can take
      // longer than any fixed window (25 kills, 4 mid-send, seen on Node 24 beside the benchmarks).
      const before = sim.messages().length;
      if (!early && !exited()) await waitFor('this run to send again', () => sim.messages().length > before || exited());
      const now = sim.messages().length;
      if (exited()) {
        // It ended before its kill. A fault may stop a run (exit 1: a batch failing 8 times, the List API
        // failing 3 look-ups in a row); the same command carries on. Exit 0 means the campaign ran out of work before
        // enough kills landed mid-send: the test is too short for this machine.
        const ended = await run.done;
        history.push(`run ${history.length + 1} exited by itself with ${String(ended.code)}:\n${stamped.join('\n').slice(-1500)}`);
        log(`run ${history.length} exited by itself with ${String(ended.code)} before its kill`);
        expect(ended.code, `the campaign ended before ${MIN_KILLS_MID_SEND} kills landed mid-send\n${history.join('\n')}`).toBe(1);
        expect(ended.stderr, tail(ended)).not.toMatch(/\n\s+at /);
        continue;
      }
      run.child.kill('SIGKILL');
      await run.done;
      kills++;
      const landed = now > before; // the simulator received a send after the delay, right before the kill
      if (landed) midSend++;
      const what = `kill ${kills} ${delay} ms after ${early ? 'the start' : 'loading'} (${Date.now() - spawned} ms after the start): ` +
        `simulator ${atStart} → ${now} messages, ${landed ? 'mid-send' : 'not sending'}`;
      history.push(`${what}\n${stamped.join('\n').slice(-1500)}`);
      log(what);
    }
    expect(midSend, `kills that landed mid-send\n${history.join('\n')}`).toBeGreaterThanOrEqual(MIN_KILLS_MID_SEND);

    // Ctrl-C while it reconciles. The last kill left orphaned batches (and the faults leave ambiguous ones), so
    // the next run looks batches up in Plivo's records once their windows close. For this run every List answer
    // is slow (within the request timeout), so once the run says it is looking batches up and a List request
    // has reached the simulator after that, the SIGINT lands while the lookup is in flight.
    sim.setFaults({ slowList: 1, slowListMs: [600, 900] });
    let interrupted = false;
    for (let i = 0; i < MAX_INTERRUPT_RUNS && !interrupted; i++) {
      const run = startCli(args, env);
      let stderr = '';
      run.child.stderr!.on('data', (d: string) => { stderr += d; });
      const exited = () => run.child.exitCode !== null || run.child.signalCode !== null;
      await waitFor('the run to look ambiguous batches up', () => /looking up \d+ ambiguous batch/.test(stderr) || exited());
      const lists = sim.stats().byEndpoint['list'] ?? 0;
      await waitFor('a List request of that lookup', () => (sim.stats().byEndpoint['list'] ?? 0) > lists || exited());
      if (exited()) {
        // A fault stopped it (exit 1) before any lookup; the same command carries on. Exit 0 would mean it
        // finished without reconciling anything, so no SIGINT could land mid-lookup.
        const ended = await run.done;
        log(`interrupt run ${i + 1} exited by itself with ${String(ended.code)}`);
        expect(ended.code, `the campaign finished before any reconciliation lookup\n${tail(ended)}`).toBe(1);
        continue;
      }
      run.child.kill('SIGINT');
      const ended = await run.done;
      log(`SIGINT during a lookup (List request ${lists + 1}): exit ${String(ended.code)}`);
      expect(ended.code, tail(ended)).toBe(130);
      expect(ended.stderr, tail(ended)).not.toMatch(/\n\s+at /);
      history.push(`SIGINT during a lookup:\n${ended.stderr.slice(-1500)}`);
      interrupted = true;
    }
    expect(interrupted, `no run was interrupted mid-lookup\n${history.join('\n')}`).toBe(true);
    sim.setFaults({ slowList: CHAOS_FAULTS.slowList, slowListMs: CHAOS_FAULTS.slowListMs });

    // Then the same command to completion. A run may stop with exit 1 on a fault (a batch failing 8 times);
    // running it again resumes, as the README says.
    let final: CliResult | undefined;
    for (let i = 0; i < MAX_FINAL_RUNS; i++) {
      const t0 = Date.now();
      final = await runCli(args, env);
      log(`final run ${i + 1}: exit ${String(final.code)} after ${((Date.now() - t0) / 1000).toFixed(1)} s; simulator has ${sim.messages().length} messages`);
      if (final.code !== 0) log(`final run stderr tail: ${final.stderr.slice(-1500)}`);
      expect(final.stderr, tail(final)).not.toMatch(/\n\s+at /);
      if (final.code === 0) break;
      expect(final.code, tail(final)).toBe(1);
    }
    const stats = sim.stats();
    log(`simulator: requests ${JSON.stringify(stats.byEndpoint)}, statuses ${JSON.stringify(stats.byStatus)}, injected ${JSON.stringify(stats.injected)}`);
    expect(final!.code, tail(final!)).toBe(0);
    // Slow List answers did happen: 3 % of some 350 List requests, plus every one of the interrupted run's. (The
    // 5xx after acceptance, 5 % of ~140 sends, is only logged above: none at all has a chance of 1 in ~1300.)
    expect(stats.injected.slowList, 'slow List answers').toBeGreaterThan(0);

    // Plivo is well again: follow every message up, so each uuid is mapped to its number and final.
    sim.setFaults({ rate429: 0, rate5xx: 0, dropBeforeAccept: 0, dropAfterAccept: 0, rate5xxAfterAccept: 0, slowList: 0, latencyMs: [0, 0] });
    // One GET per open message within the account's 50 requests/s: up to 2400 of them take ~50 s, and
    // poll ends as soon as all are final.
    const polling = Date.now();
    const poll = await runCli(['poll', name, '--track-for', '120'], env);
    log(`poll: exit ${String(poll.code)} after ${((Date.now() - polling) / 1000).toFixed(1)} s`);
    expect(poll.code, tail(poll)).toBe(0);
    expect(poll.stdout, tail(poll)).not.toMatch(/not final/);

    // The simulator's records: 0 duplicates, 0 missing valid recipients, 0 sent invalid rows.
    const messages = sim.messages();
    const perDst = new Map<string, number>();
    for (const m of messages) perDst.set(m.to, (perDst.get(m.to) ?? 0) + 1);
    const twice = [...perDst].filter(([, n]) => n > 1);
    const missing = valid.filter((x) => !perDst.has(x.dst!));
    const validDsts = new Set(valid.map((x) => x.dst!));
    const strangers = [...perDst.keys()].filter((d) => !validDsts.has(d));
    expect(twice, `numbers texted more than once (seed ${SEED})`).toEqual([]);
    expect(missing.map((x) => x.dst), `valid recipients never texted (seed ${SEED})`).toEqual([]);
    expect(strangers, `numbers texted that are no valid row's (seed ${SEED})`).toEqual([]);
    expect(messages).toHaveLength(valid.length);
    for (const m of messages) expect(SRCS).toContain(m.from);

    // The exported report agrees with the simulator, row by row.
    const exported = await runCli(['export', name, '--format', 'jsonl'], env);
    expect(exported.code, tail(exported)).toBe(0);
    const report = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(report).toHaveLength(rows.length);
    const byUuid = new Map(messages.map((m) => [m.uuid, m]));
    const uuidsSeen = new Set<string>();
    for (const [i, row] of rows.entries()) {
      const got = report[i]!;
      const where = `row ${row.row} (${JSON.stringify(row.phone)}, ${row.kind}): ${JSON.stringify(got)}`;
      expect(got['row'], where).toBe(row.row);
      if (row.kind === 'invalid') {
        expect(got['status'], where).toBe('invalid');
        expect(got['message_uuid'], where).toBeNull();
        continue;
      }
      if (row.kind === 'duplicate') {
        expect(got['status'], where).toBe('duplicate');
        expect(got['dst'], where).toBe(row.dst);
        expect(got['message_uuid'], where).toBeNull();
        continue;
      }
      const m = byUuid.get(got['message_uuid'] as string);
      expect(m, `${where}: its message_uuid is not one the simulator issued`).toBeDefined();
      expect(uuidsSeen.has(m!.uuid), `${where}: uuid reported twice`).toBe(false);
      uuidsSeen.add(m!.uuid);
      expect(got['dst'], where).toBe(row.dst);
      expect(m!.to, where).toBe(row.dst);
      expect(got['src'], where).toBe(m!.from);
      expect(got['status'], where).toBe(m!.state);
      expect(m!.state, where).toBe('delivered');
      expect(m!.text, where).toBe(`Your ${row.tier} offer ends Sunday`);
    }
    expect(uuidsSeen.size).toBe(valid.length);

    // Pacing over the whole test, kills and resumes included: a resumed run starts each sender's bucket
    // from its last claim, so no burst is added.
    const accepts = sim.acceptLog();
    const margins: string[] = [];
    for (const src of SRCS) {
      const worst = worstWindow(accepts, src, RATE, 'units', { toleranceMs: stalls.toleranceMs() });
      expect(worst, src).not.toBeNull();
      margins.push(`${src} ${worst!.excess.toFixed(1)}`);
      expect(worst!.excess, `${src}: ${JSON.stringify(worst)}`).toBeLessThanOrEqual(0);
    }
    log(`pacing: worst excess per src (≤ 0 holds, tolerance ${stalls.toleranceMs()} ms) ${margins.join(', ')}`);
    log(`done: ${kills} kills (${midSend} mid-send), ${messages.length} messages, ${rows.length} rows, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 900_000); // a safety net: dozens of CLI starts, each seconds long on a busy machine
});
