/**
 * Child of bench/scale.ts: builds a campaign that a crash left half sent, with smsrun's own ledger
 * functions: load the job, take every sender's lease, then claim and record as accepted
 * (with made-up uuids) the first half of the batches in id order, exactly as a run would have recorded
 * Plivo's 202s, and release the leases as a stopped run does. Last, the senders' last claim is moved an
 * hour back (the only SQL of ours: the crash was an hour ago), so a resumed run's buckets start full: the time to its first
 * request is then smsrun's own, not the pacing rule that a resume must not burst.
 * Prints { batches, accepted }.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { loadJobFile } from '../campaign/job.js';
import { loadCampaign } from '../campaign/load.js';
import { openLedger } from '../ledger/open.js';
import { acquireSenders, releaseSenders } from '../ledger/senders.js';
import { claimBatch, recordAccepted } from '../ledger/sending.js';

const [jobPath] = process.argv.slice(2);
const url = process.env['DATABASE_URL'];
if (!jobPath || !url) throw new Error('usage: DATABASE_URL=… resume.child.js <job.json>');
const job = await loadJobFile(jobPath);
const db = await openLedger({ databaseUrl: url, home: path.dirname(jobPath) });
const { campaign } = await loadCampaign(db, job);
const owner = `bench-setup:${process.pid}`;
const leaseMs = 3_600_000;
await acquireSenders(db, campaign.id, owner, job.senders, leaseMs, []);
const batches = await db.query<{ id: number }>('SELECT id FROM batches WHERE campaign_id = $1 ORDER BY id', [campaign.id]);
const half = batches.slice(0, Math.floor(batches.length / 2));
let accepted = 0;
let next = 0;
// Four at a time, as the pool allows; each batch is its own claim and record, as in a run.
await Promise.all(Array.from({ length: 4 }, async () => {
  while (next < half.length) {
    const { id } = half[next++]!;
    const claim = await claimBatch(db, id, owner, leaseMs);
    if (!claim) throw new Error(`could not claim batch ${id}`);
    await recordAccepted(db, claim, { httpStatus: 202, apiId: randomUUID(), messageUuids: claim.dsts.map(() => randomUUID()), invalidNumbers: [] });
    accepted += claim.dsts.length;
  }
}));
await releaseSenders(db, campaign.id, owner, job.senders);
await db.query(`UPDATE sender_leases SET last_claim_at = now() - interval '1 hour' WHERE campaign_id = $1`, [campaign.id]);
await db.close();
process.stdout.write(JSON.stringify({ batches: batches.length, accepted }) + '\n');
