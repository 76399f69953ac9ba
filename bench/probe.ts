/**
 * Loaded into a measured process with `node --import ./dist/bench/probe.js …` (see child.ts). Once a
 * second, and at exit, it appends one JSON line to $BENCH_PROBE_OUT: the process's own CPU time, RSS, peak
 * RSS, and the SQL statements it sent to Postgres. Lines are written as they come, so a process killed
 * with SIGKILL still leaves every second it lived.
 *
 * Statements are counted by wrapping pg's Client.prototype.query: every statement the `pg` driver sends,
 * BEGIN and COMMIT included (the Pool runs its queries on Client too). pg_stat_statements would need a
 * server restart with shared_preload_libraries, which a shared machine should not get.
 */
import { appendFileSync } from 'node:fs';
import pg from 'pg';

export interface ProbeSample {
  /** ms since the epoch */
  t: number;
  /** user + system CPU, µs */
  cpuUs: number;
  rssBytes: number;
  /** peak RSS so far (getrusage maxrss), bytes */
  maxRssBytes: number;
  heapUsedBytes: number;
  statements: number;
  final?: boolean;
  /** At exit: statements by their first words, to show where they go. */
  byStatement?: Record<string, number>;
}

const out = process.env['BENCH_PROBE_OUT'];
let statements = 0;
const byStatement = new Map<string, number>();

type Query = (...args: unknown[]) => unknown;
const proto = pg.Client.prototype as unknown as { query: Query };
const original = proto.query;
proto.query = function (this: unknown, ...args: unknown[]) {
  statements++;
  const first = args[0];
  const text = typeof first === 'string' ? first : (first as { text?: unknown } | null)?.text;
  if (typeof text === 'string') {
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 60);
    byStatement.set(key, (byStatement.get(key) ?? 0) + 1);
  }
  return original.apply(this, args);
};

function sample(final = false): void {
  if (!out) return;
  const cpu = process.cpuUsage();
  const s: ProbeSample = {
    t: Date.now(),
    cpuUs: cpu.user + cpu.system,
    rssBytes: process.memoryUsage.rss(),
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    heapUsedBytes: process.memoryUsage().heapUsed,
    statements,
    ...(final ? { final, byStatement: Object.fromEntries(byStatement) } : {}),
  };
  appendFileSync(out, JSON.stringify(s) + '\n');
}

sample();
setInterval(() => sample(), 1000).unref();
process.on('exit', () => sample(true));
