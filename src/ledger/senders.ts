/**
 * Sender leases: only a sender's lease owner sends from it, so processes sharing a campaign split its
 * senders and never multiply a sender's rate. See sql/002_senders_and_runners.sql.
 */
import type { Db } from './db.js';

export interface AcquiredSender {
  sender: string;
  /** Seconds since a batch of this sender was last claimed (by anyone), or null if never. */
  sinceLastClaim: number | null;
}

/** Takes the leases of `senders` that are free, expired, ours already, or held by one of `deadOwners`. */
export async function acquireSenders(
  db: Db, campaignId: number, owner: string, senders: readonly string[], leaseMs: number, deadOwners: readonly string[],
): Promise<AcquiredSender[]> {
  if (senders.length === 0) return [];
  return db.query<AcquiredSender>(
    `INSERT INTO sender_leases AS l (campaign_id, sender, owner, expires_at)
     SELECT $1, s, $2, now() + make_interval(secs => $4::float8 / 1000) FROM unnest($3::text[]) AS s
     ON CONFLICT (campaign_id, sender) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE l.owner IS NULL OR l.owner = excluded.owner OR l.expires_at < now() OR l.owner = ANY($5::text[])
     RETURNING sender, extract(epoch FROM now() - last_claim_at)::float8 AS "sinceLastClaim"`,
    [campaignId, owner, senders, leaseMs, deadOwners],
  );
}

/** Extends our leases on `senders`; returns the ones still ours (a lease can be lost while we were cut off). */
export async function renewSenders(db: Db, campaignId: number, owner: string, senders: readonly string[], leaseMs: number): Promise<Set<string>> {
  if (senders.length === 0) return new Set();
  const rows = await db.query<{ sender: string }>(
    `UPDATE sender_leases SET expires_at = now() + make_interval(secs => $4::float8 / 1000)
     WHERE campaign_id = $1 AND owner = $2 AND sender = ANY($3::text[]) RETURNING sender`,
    [campaignId, owner, senders, leaseMs],
  );
  return new Set(rows.map((r) => r.sender));
}

export async function releaseSenders(db: Db, campaignId: number, owner: string, senders: readonly string[]): Promise<void> {
  await db.query(
    `UPDATE sender_leases SET owner = NULL, expires_at = now() WHERE campaign_id = $1 AND owner = $2 AND sender = ANY($3::text[])`,
    [campaignId, owner, senders],
  );
}

/** Other processes holding unexpired leases of this campaign's senders (candidates for a liveness check). */
export async function otherLeaseOwners(db: Db, campaignId: number, owner: string): Promise<string[]> {
  const rows = await db.query<{ owner: string }>(
    `SELECT DISTINCT owner FROM sender_leases WHERE campaign_id = $1 AND owner IS NOT NULL AND owner <> $2 AND expires_at > now()`,
    [campaignId, owner],
  );
  return rows.map((r) => r.owner);
}

/** True while any batch of the campaign is pending, in flight or ambiguous (whoever holds it). */
export async function campaignHasUnsettledBatches(db: Db, campaignId: number): Promise<boolean> {
  const [row] = await db.query<{ any: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM batches WHERE campaign_id = $1 AND status IN ('pending', 'in_flight', 'ambiguous')) AS any`,
    [campaignId],
  );
  return row!.any;
}
