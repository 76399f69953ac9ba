/**
 * Child of bench/scale.ts: builds a campaign that a crash left half sent, with smsrun's own ledger
 * functions: load the job, then claim (claimDue) and record as accepted (with made-up uuids) half of the
 * batches, as a run would have recorded Plivo's 202s. Last, the senders' budgets are set as if the crash was an
 * hour ago, so a resumed run's senders are all due: the time to its first request is then smsrun's own.
 * Prints { batches, accepted }.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { loadJobFile } from '../campaign/job.js';
import { loadCampaign } from '../campaign/load.js';
import { openLedger } from '../ledger/open.js';
import { prepareBudgets } from '../ledger/senders.js';
import { claimDue, recordAccepted } from '../ledger/sending.js';

const [jobPath] = process.argv.slice(2);
const url = process.env['DATABASE_URL'];
if (!jobPath || !url) throw new Error('usage: DATABASE_URL=… resume.child.js <job.json>');
const job = await loadJobFile(jobPath);
const db = await openLedger({ databaseUrl: url, home: path.dirname(jobPath) });
const { campaign } = await loadCampaign(db, job);
const owner = `bench-setup:${process.pid}`;
const account = process.env['PLIVO_AUTH_ID'] ?? 'sandbox';
const leaseMs = 3_600_000;
await prepareBudgets(db, account, campaign.id, 20);
const batches = await db.query<{ id: number }>('SELECT id FROM batches WHERE campaign_id = $1 ORDER BY id', [campaign.id]);
const half = Math.floor(batches.length / 2);
let accepted = 0;
let claimed = 0;
// Claims and records as a run does, with the budgets held wide open (setup, not pacing).
while (claimed < half) {
  await db.query(`UPDATE sender_budgets SET rate = 1e9, tat = 'epoch' WHERE account = $1`, [account]);
  await db.query(`UPDATE account_slots SET free_at = 'epoch' WHERE account = $1`, [account]);
  const claim = await claimDue(db, { account, campaignId: campaign.id, owner, leaseMs, max: Math.min(100, half - claimed) });
  if (claim.batches.length === 0) throw new Error('could not claim');
  for (const c of claim.batches) {
    await recordAccepted(db, c, { httpStatus: 202, apiId: randomUUID(), messageUuids: c.dsts.map(() => randomUUID()), invalidNumbers: [] });
    accepted += c.dsts.length;
    claimed++;
  }
}
// The crash was an hour ago: the budgets are back to the job's rates, every sender due.
await prepareBudgets(db, account, campaign.id, 20);
await db.query(`UPDATE sender_budgets SET tat = 'epoch' WHERE account = $1`, [account]);
await db.query(`UPDATE account_slots SET free_at = 'epoch' WHERE account = $1`, [account]);
await db.close();
process.stdout.write(JSON.stringify({ batches: batches.length, accepted }) + '\n');
