/**
 * Keeps this process in the election for a campaign's roles (ledger/roles.ts) while it runs: every poll
 * interval it confirms the roles it holds and tries for the ones it does not, so a standby takes a role
 * within one interval of its holder stopping, dying or losing its ledger connection. The loops read
 * `role(name).held` before each piece of Plivo work.
 */
import type { Db } from '../ledger/db.js';
import { RoleLocks, type Role, type RoleName } from '../ledger/roles.js';
import { Stopper } from '../send/stopper.js';

/** This process's roles changed: `held` of `wanted` (an empty `held` is a standby). */
export type RoleEvent = { kind: 'roles'; held: RoleName[]; wanted: RoleName[] };

/** How often roles are confirmed or tried for. Less than IDLE_SESSION_TIMEOUT_MS − CONFIRM_TIMEOUT_MS. */
export const ROLE_POLL_MS = 1000;

/**
 * What a person is told when this process's roles change: nothing while it simply holds them all from the
 * start (a lone run), a line when it stands by, and one when it takes over.
 */
export function roleAnnouncer(write: (line: string) => void): (e: RoleEvent) => void {
  let stoodBy = false;
  const names = (roles: readonly RoleName[]) => roles.map((r) => (r === 'reconcile' ? 'reconciles' : 'tracks')).join(' and ');
  return (e) => {
    const others = e.wanted.filter((r) => !e.held.includes(r));
    if (others.length === 0) {
      if (stoodBy) write(`took over: this process now ${names(e.held)} the campaign`);
      return;
    }
    stoodBy = true;
    const mine = e.held.length > 0 ? `this process ${names(e.held)}; ` : '';
    write(`standby: ${mine}another smsrun process ${names(others)} the campaign. This one waits for its work to show in the ledger, ` +
      'and takes over if it stops');
  };
}

export interface ElectionDeps {
  db: Db;
  campaignId: number;
  /** In the order they are taken (roles.ts). */
  wanted: readonly RoleName[];
  /** An error other than a lost connection: the run fails. */
  onError: (err: unknown) => void;
  onEvent?: ((e: RoleEvent) => void) | undefined;
  /** @default ROLE_POLL_MS */
  pollMs?: number;
}

export class Election {
  readonly #locks: RoleLocks;
  readonly #end = new Stopper();
  #loop: Promise<void> = Promise.resolve();
  #announced: string | undefined;

  constructor(private readonly deps: ElectionDeps) {
    this.#locks = new RoleLocks(deps.db, deps.campaignId, deps.wanted);
  }

  role(name: RoleName): Role {
    const locks = this.#locks;
    return { get held() { return locks.holds(name); } };
  }

  get held(): RoleName[] {
    return this.#locks.held;
  }

  /** One round at once (the loops start knowing their roles), then one per poll interval until stop(). */
  async start(): Promise<void> {
    await this.#round();
    this.#loop = this.#run();
  }

  /** Leaves the election, giving up the roles held: a standby elsewhere takes them within its interval. */
  async stop(): Promise<void> {
    this.#end.stop('over');
    await this.#loop;
    await this.#locks.release();
  }

  async #run(): Promise<void> {
    for (;;) {
      await this.#end.sleep(this.deps.pollMs ?? ROLE_POLL_MS);
      if (this.#end.stopped) return;
      try {
        await this.#round();
      } catch (err) {
        this.deps.onError(err);
        return;
      }
    }
  }

  async #round(): Promise<void> {
    const held = await this.#locks.poll();
    const key = held.join(',');
    if (key === this.#announced) return;
    this.#announced = key;
    this.deps.onEvent?.({ kind: 'roles', held, wanted: [...this.deps.wanted] });
  }
}
