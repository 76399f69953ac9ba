/** Campaigns built through the ledger's own load and write-ahead functions, for tests of what follows sending. */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/ledger/db.js';
import { finalizeLoad, insertCampaign, insertRecipients } from '../../src/ledger/load.js';
import { acquireSenders } from '../../src/ledger/senders.js';
import { claimBatch, nextReadyBatch, recordAccepted, type ClaimedBatch } from '../../src/ledger/sending.js';

export const TEST_SENDER = '14155550100';
const OWNER = 'test-owner';

export interface ClaimedCampaign {
  id: number;
  name: string;
  /** Claimed (in flight): recipients `sending`, no message yet. */
  batches: ClaimedBatch[];
}

/** A loaded campaign, its batches all pending (nobody holds its sender). */
export async function loadedCampaign(
  db: Db, dsts: readonly string[], o: { batchSize?: number; sender?: string; job?: Record<string, unknown> } = {},
): Promise<{ id: number; name: string }> {
  const name = `c-${randomUUID().slice(0, 8)}`;
  const sender = o.sender ?? TEST_SENDER;
  const id = await db.transaction(async (tx) => {
    const campaignId = await insertCampaign(tx, {
      name, job: { name, ...o.job }, jobFile: 'job.json', csvFile: 'r.csv', csvSha256: '-', contentHash: '-', senders: [sender],
    });
    await insertRecipients(tx, campaignId, dsts.map((dst, i) => ({
      rowNo: i + 1, lineNo: i + 2, rawDst: dst, dst, text: 'hi', units: 1, status: 'pending' as const, reason: null, country: null, numberType: null,
    })));
    await finalizeLoad(tx, campaignId, [sender], o.batchSize ?? dsts.length);
    return campaignId;
  });
  return { id, name };
}

/** A loaded campaign whose batches are all claimed. `job` is stored as the campaign's job (message_expiry, …). */
export async function claimedCampaign(
  db: Db, dsts: readonly string[], o: { batchSize?: number; sender?: string; job?: Record<string, unknown>; requestTimeoutMs?: number } = {},
): Promise<ClaimedCampaign> {
  const sender = o.sender ?? TEST_SENDER;
  const { id, name } = await loadedCampaign(db, dsts, o);
  await acquireSenders(db, id, OWNER, [sender], 600_000, []);
  const batches: ClaimedBatch[] = [];
  for (let ready = await nextReadyBatch(db, id, sender, 0); ready; ready = await nextReadyBatch(db, id, sender, ready.id)) {
    // The request timeout stored with each attempt sizes its reconciliation window: short in tests.
    const claimed = await claimBatch(db, ready.id, OWNER, 600_000, o.requestTimeoutMs ?? 1000);
    if (!claimed) throw new Error(`could not claim batch ${ready.id}`);
    batches.push(claimed);
  }
  return { id, name, batches };
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
