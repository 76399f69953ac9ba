/**
 * Loaded into a measured process with `node --import ./dist/bench/probe.js …` (see child.ts). Once a
 * second, and at exit, it appends one JSON line to $BENCH_PROBE_OUT: the process's own CPU time, RSS, peak
 * RSS, and the SQL statements it sent to Postgres. Lines are written as they come, so a process killed
 * with SIGKILL still leaves every second it lived.
 *
 * Statements are counted by wrapping pg's Client.prototype.query: every statement the `pg` driver sends,
 * BEGIN and COMMIT included (the Pool runs its queries on Client too). pg_stat_statements would need a
 * server restart with shared_preload_libraries, which a shared machine should not get. `pg` is the copy
 * the measured script resolves (another checkout's, with `--before`), so its queries are the ones counted.
 *
 * HTTP requests are counted by method from Node's diagnostics channels (undici's, which `fetch` and the
 * undici package publish, and node:http's): which process sent how many requests, when several share a
 * campaign.
 */
import dc from 'node:diagnostics_channel';
import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

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
  /** HTTP requests started so far, by method (POST: message creates; GET: tracking). */
  httpRequests: Record<string, number>;
  final?: boolean;
  /** At exit: statements by their first words, to show where they go. */
  byStatement?: Record<string, number>;
}

const out = process.env['BENCH_PROBE_OUT'];
let statements = 0;
const byStatement = new Map<string, number>();

type Query = (...args: unknown[]) => unknown;
const script = process.argv[1];
const requireFromScript = createRequire(script ? path.resolve(script) : import.meta.url);
const pg = requireFromScript('pg') as { Client: { prototype: unknown } };
const proto = pg.Client.prototype as { query: Query };
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

const httpRequests: Record<string, number> = {};
const countRequest = (method: unknown): void => {
  const m = typeof method === 'string' ? method : 'other';
  httpRequests[m] = (httpRequests[m] ?? 0) + 1;
};
dc.subscribe('undici:request:create', (msg) => countRequest((msg as { request?: { method?: unknown } }).request?.method));
dc.subscribe('http.client.request.start', (msg) => countRequest((msg as { request?: { method?: unknown } }).request?.method));

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
    httpRequests: { ...httpRequests },
    ...(final ? { final, byStatement: Object.fromEntries(byStatement) } : {}),
  };
  appendFileSync(out, JSON.stringify(s) + '\n');
}

sample();
setInterval(() => sample(), 1000).unref();
process.on('exit', () => sample(true));
