/** Campaigns built through the ledger's own load and write-ahead functions, for tests of what follows sending. */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/ledger/db.js';
import { finalizeLoad, insertCampaign, insertRecipients } from '../../src/ledger/load.js';
import { prepareBudgets } from '../../src/ledger/senders.js';
import { claimDue, recordAccepted, type ClaimedBatch } from '../../src/ledger/sending.js';

export const TEST_SENDER = '14155550100';
const OWNER = 'test-owner';
export const TEST_ACCOUNT = 'MATESTACCOUNT';

export interface ClaimedCampaign {
  id: number;
  name: string;
  /** Claimed (in flight): recipients `sending`, no message yet. */
  batches: ClaimedBatch[];
}

/**
 * A loaded campaign (its batches pending), every recipient `hi` (1 unit). `senders` split the rows round
 * robin; `job` is stored as the campaign's job (rate, rate_counts, message_expiry, …).
 */
export async function loadedCampaign(
  db: Db, dsts: readonly string[], o: { batchSize?: number; senders?: string[]; job?: Record<string, unknown> } = {},
): Promise<{ id: number; name: string }> {
  const name = `c-${randomUUID().slice(0, 8)}`;
  const senders = o.senders ?? [TEST_SENDER];
  const id = await db.transaction(async (tx) => {
    const campaignId = await insertCampaign(tx, {
      name, job: { name, rate: 1_000_000, ...o.job }, jobFile: 'job.json', csvFile: 'r.csv', csvSha256: '-', contentHash: '-', senders,
    });
    await insertRecipients(tx, campaignId, dsts.map((dst, i) => ({
      rowNo: i + 1, lineNo: i + 2, rawDst: dst, dst, text: 'hi', units: 1, status: 'pending' as const, reason: null, country: null, numberType: null,
    })));
    await finalizeLoad(tx, campaignId, senders, o.batchSize ?? dsts.length);
    return campaignId;
  });
  return { id, name };
}

/** A loaded campaign whose batches are all claimed. `job` is stored as the campaign's job (message_expiry, …). */
export async function claimedCampaign(
  db: Db, dsts: readonly string[], o: { batchSize?: number; sender?: string; job?: Record<string, unknown>; requestTimeoutMs?: number } = {},
): Promise<ClaimedCampaign> {
  const { id, name } = await loadedCampaign(db, dsts, { ...o, senders: [o.sender ?? TEST_SENDER] });
  const batches: ClaimedBatch[] = [];
  for (let b = await claimNext(db, id, o); b; b = await claimNext(db, id, o)) batches.push(b);
  return { id, name, batches };
}

/**
 * Claims the campaign's next ready batch the way a run does (ledger/sending.ts `claimDue`), with its numbers'
 * budgets and the account's request window wide open: for tests of what follows a claim, not of pacing.
 * The request timeout stored with the attempt sizes its reconciliation window: short by default.
 */
export async function claimNext(db: Db, campaignId: number, o: { owner?: string; requestTimeoutMs?: number } = {}): Promise<ClaimedBatch | undefined> {
  await prepareBudgets(db, TEST_ACCOUNT, campaignId, 20);
  await db.query(`UPDATE sender_budgets SET rate = 1e9, tat = 'epoch' WHERE account = $1`, [TEST_ACCOUNT]);
  await db.query(`UPDATE account_slots SET free_at = 'epoch' WHERE account = $1`, [TEST_ACCOUNT]);
  const claim = await claimDue(db, {
    account: TEST_ACCOUNT, campaignId, owner: o.owner ?? OWNER, leaseMs: 600_000, max: 1, requestTimeoutMs: o.requestTimeoutMs ?? 1000,
  });
  return claim.batches[0];
}

/** Records a 202 for a claimed batch holding these uuids. */
export async function accept(db: Db, batch: ClaimedBatch, uuids: readonly string[], invalidNumbers: readonly string[] = []): Promise<void> {
  await recordAccepted(db, batch, { httpStatus: 202, apiId: randomUUID(), messageUuids: uuids, invalidNumbers });
}

export interface RecipientRow {
  dst: string;
  status: string;
  message_uuid: string | null;
  reason: string | null;
}

export async function recipients(db: Db, campaignId: number): Promise<RecipientRow[]> {
  return db.query<RecipientRow>('SELECT dst, status, message_uuid, reason FROM recipients WHERE campaign_id = $1 ORDER BY row_no', [campaignId]);
}
