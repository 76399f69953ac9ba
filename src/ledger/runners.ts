/**
 * Which smsrun processes are alive. On Postgres each runner holds a session advisory lock on its owner id
 * for as long as it lives (a connection of its own: the pool may close idle ones), so another process can
 * tell a dead owner at once by trying the same lock, instead of waiting for its leases to expire. On the
 * embedded ledger only one process can have the ledger open (the lock file), so every other runner is dead.
 */
import os from 'node:os';
import type { Db, Session } from './db.js';

export interface Runner {
  readonly owner: string;
  release(): Promise<void>;
}

const LOCK = 'hashtextextended($1, 0)';

export async function registerRunner(db: Db, owner: string, campaignId: number, onLost: (err: Error) => void): Promise<Runner> {
  await db.query('INSERT INTO runners (owner, campaign_id, host, pid) VALUES ($1, $2, $3, $4) ON CONFLICT (owner) DO NOTHING',
    [owner, campaignId, os.hostname(), process.pid]);
  let session: Session | undefined = await db.openSession(onLost);
  await session.query(`SELECT pg_advisory_lock(${LOCK})`, [owner]);
  return {
    owner,
    async release() {
      await session?.close();
      session = undefined;
      await db.query('UPDATE runners SET stopped_at = now() WHERE owner = $1', [owner]).catch(() => undefined);
    },
  };
}

/** Takes the runner's liveness lock again on a new session, after the old one was lost. */
export async function reacquireRunner(db: Db, owner: string, onLost: (err: Error) => void): Promise<Session> {
  const session = await db.openSession(onLost);
  await session.query(`SELECT pg_advisory_lock(${LOCK})`, [owner]);
  return session;
}

/** The owners among `owners` that are not running any more. */
export async function deadAmong(db: Db, owners: readonly string[], self: string): Promise<string[]> {
  const others = [...new Set(owners)].filter((o) => o !== self);
  if (db.kind === 'pglite') return others;
  const dead: string[] = [];
  for (const owner of others) {
    // A transaction-level try-lock conflicts with the owner's session lock, and is released at commit.
    const free = await db.transaction(async (tx) =>
      (await tx.query<{ free: boolean }>(`SELECT pg_try_advisory_xact_lock(${LOCK}) AS free`, [owner]))[0]!.free);
    if (free) dead.push(owner);
  }
  return dead;
}
