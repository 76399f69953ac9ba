/**
 * The campaign roles that one process at a time holds: `reconcile` (the Reconciler) and `track` (the
 * Tracker). Their Plivo traffic, List and GET, is counted per account, not per process: two processes each
 * reconciling and tracking one campaign double it, get throttled (List: 20 a minute) and can stop the run.
 * Sending is not a role: any process claims any number's next batch when its budget allows (senders.ts, sql/014).
 *
 * A role is a session advisory lock on (role, campaign), taken with `pg_try_advisory_lock` on a connection
 * of its own (never waited for in `pg_advisory_lock`: see migrate.ts). It lives exactly as long as that
 * connection: a holder that dies, or whose connection is cut, frees it at once, and a standby polling the
 * lock takes it. The role's state lives in the ledger, so the new holder goes on from where it stands.
 *
 * Roles are taken in the order asked, a later one only while holding every earlier one: a run asks for
 * [reconcile, track], so two runs never split them (each process has its own List bucket, and one bucket
 * must serve both); `smsrun poll` asks for [track] only.
 *
 * Never two holders after a lost connection:
 * - the connection's end or error drops every role at once (`Db.openSession`'s onLost);
 * - a half-open connection (a partition: no end, no error) is caught by the confirmation each poll makes:
 *   no answer within CONFIRM_TIMEOUT_MS drops the roles. On Postgres the server ends the session itself
 *   after IDLE_SESSION_TIMEOUT_MS without a query (`idle_session_timeout`, Postgres 14+), so it frees the
 *   lock only after the holder has given the role up: IDLE > poll interval + CONFIRM_TIMEOUT_MS, with
 *   room for a stalled event loop.
 * Correctness never rests on the election alone: a verdict or a poll result is written under the ledger's
 * own guards (a settled batch is `stale`, updates are rank-guarded), as when every process ran both.
 *
 * On the embedded ledger only one process can open it (lock.ts), and PGlite is one session: the same SQL
 * wins at once, and nothing is ever lost.
 */
import type { Db, Session } from './db.js';
import { isConnectionLost } from './faults.js';

export type RoleName = 'reconcile' | 'track';

/** What a loop reads before each piece of Plivo work: whether this process holds its role now. */
export interface Role {
  readonly held: boolean;
}

/** A role always held: a loop run on its own (tests, tools). */
export const ALWAYS_HELD: Role = { held: true };

/** How long a held role's confirmation may take before the role is given up. */
export const CONFIRM_TIMEOUT_MS = 5_000;
/** The server ends a role session silent this long (see above): more than a poll plus CONFIRM_TIMEOUT_MS. */
export const IDLE_SESSION_TIMEOUT_MS = 20_000;

const TRY_LOCK = `SELECT pg_try_advisory_lock(hashtext('smsrun-role:' || $1), $2::int) AS ok`;
const UNLOCK = `SELECT pg_advisory_unlock(hashtext('smsrun-role:' || $1), $2::int)`;

export class RoleLocks {
  #session: Session | undefined;
  /** Bumped whenever the session is dropped: an answer from an older session must not grant a role. */
  #generation = 0;
  readonly #held = new Set<RoleName>();

  constructor(
    private readonly db: Db,
    private readonly campaignId: number,
    /** The roles wanted, in the order they are taken. */
    private readonly wanted: readonly RoleName[],
  ) {}

  holds(role: RoleName): boolean {
    return this.#held.has(role);
  }

  get held(): RoleName[] {
    return this.wanted.filter((r) => this.#held.has(r));
  }

  /**
   * One round of the election: confirms the roles held (their connection still answers), then tries for
   * the next ones in order. A lost connection drops every role, and the next round tries again on a new one.
   * Other errors are thrown.
   */
  async poll(): Promise<RoleName[]> {
    const generation = this.#generation;
    try {
      const session = await this.#open();
      if (this.#held.size > 0) await confirm(session);
      for (const role of this.wanted) {
        if (this.#held.has(role)) continue;
        const [row] = await session.query<{ ok: boolean }>(TRY_LOCK, [role, this.campaignId]);
        if (!row!.ok || generation !== this.#generation) break;
        this.#held.add(role);
      }
    } catch (err) {
      this.#drop();
      if (!isConnectionLost(err) && !(err instanceof ConfirmTimeout)) throw err;
    }
    return this.held;
  }

  /** Gives every role up (another process may take them at once). */
  async release(): Promise<void> {
    const session = this.#session;
    const held = this.held;
    this.#forget();
    if (!session) return;
    // Closing the connection frees the locks on Postgres; PGlite's one session lives on, so unlock there too.
    for (const role of held) await session.query(UNLOCK, [role, this.campaignId]).catch(() => undefined);
    await session.close();
  }

  async #open(): Promise<Session> {
    if (this.#session) return this.#session;
    const generation = this.#generation;
    const session = await this.db.openSession(() => {
      if (generation === this.#generation) this.#drop();
    });
    this.#session = session; // before any query: a failure drops (closes) it
    if (this.db.kind === 'postgres') {
      await session.query(`SELECT set_config('idle_session_timeout', $1, false) WHERE current_setting('server_version_num')::int >= 140000`,
        [`${IDLE_SESSION_TIMEOUT_MS}ms`]);
    }
    return session;
  }

  /** The roles are gone with the session; the connection is closed without waiting on it (it may hang). */
  #drop(): void {
    void this.#forget()?.close();
  }

  #forget(): Session | undefined {
    const session = this.#session;
    this.#generation++;
    this.#held.clear();
    this.#session = undefined;
    return session;
  }
}

class ConfirmTimeout extends Error {}

async function confirm(session: Session): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ConfirmTimeout('the role session did not answer')), CONFIRM_TIMEOUT_MS);
  });
  try {
    await Promise.race([session.query('SELECT 1'), late]);
  } finally {
    clearTimeout(timer);
  }
}
