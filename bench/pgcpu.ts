/**
 * Postgres's side of the cost: the CPU time of the server processes working for one database.
 *
 * Every `intervalMs` a client on the admin database (so its own backend is not counted) lists the pids
 * in `pg_stat_activity` whose `datname` is the bench's database (client backends, and autovacuum workers
 * on it), and reads each one's utime + stime from /proc/<pid>/stat. A backend's CPU over a window is then
 * interpolated from its samples; one that started inside the window counts from zero. What a backend
 * spent after its last sample before it exited (at most one interval) is missed, so connections that come
 * and go are undercounted; smsrun's pool keeps its connections, which this measures well. The server's
 * shared processes (WAL writer, checkpointer, background writer) serve every database and are not counted.
 * It needs the server on this machine (its /proc); elsewhere it measures nothing and says so (NaN).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pg from 'pg';

interface Backend {
  /** When the backend started, ms since the epoch. */
  startedAt: number;
  /** (time ms, CPU seconds) */
  samples: Array<[number, number]>;
}

const TICKS_PER_S = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process in seconds, or undefined once it is gone. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) start at field 3; utime and stime are fields 14, 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_S;
  } catch {
    return undefined;
  }
}

export class BackendCpu {
  readonly #backends = new Map<number, Backend>();
  readonly #client: pg.Client;
  readonly #database: string;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  #visible = false;
  #stopped = false;

  private constructor(client: pg.Client, database: string) {
    this.#client = client;
    this.#database = database;
  }

  /** Starts sampling the backends of `database`, through a connection to `adminUrl`. */
  static async start(adminUrl: string, database: string, intervalMs = 200): Promise<BackendCpu> {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    const cpu = new BackendCpu(client, database);
    await cpu.#sample();
    cpu.#timer = setInterval(() => { void cpu.#sample(); }, intervalMs);
    return cpu;
  }

  async #sample(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const { rows } = await this.#client.query<{ pid: number; started: number }>(
        'SELECT pid, (extract(epoch FROM backend_start) * 1000)::float8 AS started FROM pg_stat_activity WHERE datname = $1',
        [this.#database],
      );
      const now = Date.now();
      for (const { pid, started } of rows) {
        const s = cpuSeconds(pid);
        if (s === undefined) continue;
        this.#visible = true;
        let b = this.#backends.get(pid);
        if (!b || b.startedAt !== started) {
          b = { startedAt: started, samples: [] };
          this.#backends.set(pid, b);
        }
        b.samples.push([now, s]);
      }
    } catch {
      // A failed sample (the database being dropped) only leaves a gap.
    } finally {
      this.#busy = false;
    }
  }

  /** Stops sampling and closes the connection (once; later calls do nothing). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    while (this.#busy) await new Promise((r) => setTimeout(r, 10));
    await this.#client.end().catch(() => undefined);
  }

  /** CPU seconds the database's backends spent between `from` and `to` (ms since the epoch); NaN if unseen. */
  between(from: number, to: number): number {
    if (!this.#visible) return NaN;
    let total = 0;
    for (const b of this.#backends.values()) total += at(b, to) - at(b, from);
    return total;
  }
}

/** A backend's CPU seconds at time t: zero before it started, interpolated between samples, last after. */
function at(b: Backend, t: number): number {
  const first = b.samples[0];
  if (!first) return 0;
  if (t <= first[0]) return b.startedAt >= t ? 0 : first[1];
  let prev = first;
  for (const s of b.samples) {
    if (s[0] >= t) return prev[1] + ((s[1] - prev[1]) * (t - prev[0])) / Math.max(1, s[0] - prev[0]);
    prev = s;
  }
  return prev[1];
}
