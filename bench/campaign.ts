/**
 * One smsrun campaign against the simulator, as a user runs it (`smsrun run job.json --track-for 0` with
 * PLIVO_API_URL pointing at the simulator, a fresh Postgres ledger), and what the simulator saw of it.
 */
import type { AcceptEntry, Simulator } from '../sim/index.js';
import { expectOk, runSmsrun, type ChildResult } from './child.js';
import { csvFile, jobFile, judgePacing, plivoSim, scratchDir, senders, tempDatabase, type PacingVerdict } from './fixtures.js';
import type { BenchContext } from './lib.js';
import { BackendCpu } from './pgcpu.js';

export interface CampaignSpec {
  label: string;
  srcs: number;
  /** messages/s per src (rate_counts: messages); the simulator's queues drain at the same rate */
  rate: number;
  batchSize: number;
  rows: number;
  broadcast: boolean;
  /** Extra arguments to `smsrun run`. */
  args?: string[];
  /** The smsrun to run. @default this checkout's */
  bin?: string;
  /** Sample the CPU of Postgres's backends for the run's database (bench/pgcpu.ts). */
  measurePostgres?: boolean;
}

export interface CampaignRun {
  child: ChildResult;
  sim: Simulator;
  srcs: string[];
  accepts: AcceptEntry[];
  messages: number;
  /** First and last accepted request at the simulator (ms since the epoch). */
  firstAt: number;
  lastAt: number;
  pacing: PacingVerdict;
  /** When the simulator's queues had handed the last message to the carrier (ms since the epoch). */
  drainedAt: number;
  requests: { create: number; get: number; list: number; total: number };
  /** Postgres's backends for the run's database, when `measurePostgres` asked for them. */
  postgres: BackendCpu | undefined;
}

/** Runs the campaign to its end; `inspect` sees the simulator before it is closed. */
export async function runCampaignOnce<T>(ctx: BenchContext, spec: CampaignSpec, inspect: (run: CampaignRun) => T): Promise<T> {
  const csv = await csvFile({ rows: spec.rows });
  const scratch = await scratchDir(spec.label);
  const db = await tempDatabase(ctx.postgresUrl, spec.label.replace(/[^a-z0-9]/g, '_'));
  const { sim, env } = await plivoSim(spec.rate);
  const postgres = spec.measurePostgres ? await BackendCpu.start(ctx.postgresUrl, db.name) : undefined;
  try {
    const srcs = senders(spec.srcs);
    const job = await jobFile(scratch.dir, { name: spec.label, csv, srcs, rate: spec.rate, batchSize: spec.batchSize, broadcast: spec.broadcast });
    const child = expectOk(await runSmsrun(['run', job, '--track-for', '0', '--home', scratch.dir, ...(spec.args ?? [])], {
      env: { ...env, DATABASE_URL: db.url },
      ...(spec.bin ? { bin: spec.bin } : {}),
    }), `smsrun run (${spec.label})`);
    await postgres?.stop();
    const accepts = [...sim.acceptLog()].sort((a, b) => a.at - b.at);
    const drainedAt = await drained(sim, 60_000);
    const stats = sim.stats();
    const by = stats.byEndpoint;
    return inspect({
      child, sim, srcs, accepts,
      messages: stats.accepted.messages,
      firstAt: accepts[0]?.at ?? NaN,
      lastAt: accepts.at(-1)?.at ?? NaN,
      pacing: judgePacing(sim, srcs, spec.rate),
      drainedAt,
      requests: { create: by['create'] ?? 0, get: by['get'] ?? 0, list: by['list'] ?? 0, total: stats.requests },
      postgres,
    });
  } finally {
    await postgres?.stop();
    await sim.close();
    await db.drop();
    await scratch.remove();
  }
}

/**
 * Waits (up to `maxMs`) until the simulator has no message left in its queues: the campaign is over for
 * its recipients once the last message has left Plivo's queue, whenever smsrun itself exited.
 */
async function drained(sim: Simulator, maxMs: number): Promise<number> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const messages = sim.messages();
    if (!messages.some((m) => m.sentAtUs === null && m.state === 'queued')) {
      return Math.max(...messages.map((m) => (m.sentAtUs ?? 0) / 1000));
    }
    if (Date.now() > deadline) return NaN;
    await new Promise((r) => setTimeout(r, 100));
  }
}
