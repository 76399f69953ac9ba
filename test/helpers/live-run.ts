/**
 * A run that holds the embedded ledger while a test runs other commands beside it (cli.live-*): a quick
 * simulator without limits and a PGlite ledger for the test file, and a campaign sending one recipient a
 * request at 4 a second, so there are seconds of sending to act in the middle of.
 */
import { afterAll, beforeAll } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { killLeftovers, simEnv, startCli, type Spawned } from './cli.js';
import { writeJob } from './csv.js';
import { createTestLedger, type TestLedger } from './ledgers.js';
import { waitFor } from './wait.js';

export interface LiveHome {
  readonly sim: Simulator;
  readonly ledger: TestLedger;
  /** The CLI's environment: the ledger and the simulator's account. */
  readonly env: Record<string, string>;
}

/** Starts the simulator and the ledger before the file's tests and removes them after (a leftover CLI first). */
export function liveHome(seed = 13): LiveHome {
  let sim: Simulator | undefined;
  let ledger: TestLedger | undefined;
  beforeAll(async () => {
    sim = await startSimulator({ limits: false, mps: 1000, deliveryDelayMs: [5, 20], seed });
    ledger = await createTestLedger('pglite');
  });
  afterAll(async () => {
    killLeftovers();
    await sim?.close();
    await ledger?.dispose();
  });
  return {
    get sim() { return sim!; },
    get ledger() { return ledger!; },
    get env() { return { ...ledger!.env, ...simEnv(sim!) }; },
  };
}

export interface LiveRun {
  run: Spawned;
  /** The job file (its directory is the test's to write into). */
  job: string;
  /** Messages the simulator received from the campaign's sender so far. */
  sent(): number;
}

/**
 * Starts `smsrun run` of campaign `name` from `src` to `dsts` at 4 a second, one recipient a request
 * (--track-for 10, --settle 0), and returns once the simulator has its first three messages.
 */
export async function startLiveRun(home: LiveHome, name: string, src: string, dsts: readonly string[]): Promise<LiveRun> {
  const job = await writeJob({ name, src, text: 'hi', rate: 4, batch_size: 1 }, ['phone', ...dsts].join('\n'));
  const run = startCli(['run', job, '--track-for', '10', '--settle', '0'], home.env);
  const sent = () => home.sim.messages().filter((m) => m.from === src).length;
  await waitFor('the first messages', () => sent() >= 3 || run.child.exitCode !== null, { timeoutMs: 200_000 });
  if (sent() < 3) throw new Error(`smsrun run ended before its first messages: ${run.out.stderr}`);
  return { run, job, sent };
}
