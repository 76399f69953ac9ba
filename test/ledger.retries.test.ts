/**
 * The give-up rule counts a batch's retryable failures in a row: an attempt proved absent (or accepted, or
 * ambiguous) between them starts the count again, and so does a run that was killed mid-attempt.
 */
import { describe, expect, it } from 'vitest';
import type { Db } from '../src/ledger/db.js';
import { finalizeLoad, insertCampaign, insertRecipients } from '../src/ledger/load.js';
import { dueAmbiguousBatches, recordReconciled } from '../src/ledger/reconcile.js';
import { recordAmbiguous, recordRetryable, type ClaimedBatch } from '../src/ledger/sending.js';
import { claimNext } from './helpers/campaigns.js';
import { LEDGER_KINDS, ledgerPerDescribe } from './helpers/ledgers.js';

const SENDER = '14155550100';
const OWNER = 'retries-test';

describe.each(LEDGER_KINDS)('failures in a row on the %s ledger', (kind) => {
  let db: Db;

  ledgerPerDescribe(kind, (opened) => { db = opened; });

  it('counts only the retryable failures since the last attempt that was not one', async () => {
    const campaignId = await db.transaction(async (tx) => {
      const id = await insertCampaign(tx, { name: 'retries', job: { name: 'retries' }, jobFile: 'job.json', csvFile: 'r.csv', csvSha256: '-', contentHash: '-', senders: [SENDER] });
      await insertRecipients(tx, id, [{ rowNo: 1, lineNo: 2, rawDst: '14155550201', dst: '14155550201', text: 'hi', units: 1, status: 'pending' as const, reason: null, country: null, numberType: null }]);
      await finalizeLoad(tx, id, [SENDER], 10);
      return id;
    });
    const claim = async (): Promise<ClaimedBatch> => {
      const claimed = await claimNext(db, campaignId, { owner: OWNER });
      if (!claimed) throw new Error('nothing to claim');
      return claimed;
    };

    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await claim();
      seen.push(c.failuresBefore);
      await recordRetryable(db, c, 'too many requests', 0, 429);
    }
    // The next attempt's answer is lost; reconciliation proves it absent.
    const lost = await claim();
    seen.push(lost.failuresBefore);
    await recordAmbiguous(db, lost, 'socket hang up');
    // Due at a ledger time well past its window (the window itself is tested in test/send.reconciler.test.ts).
    const [ambiguous] = await dueAmbiguousBatches(db, campaignId, { now: new Date(Date.now() + 3_600_000), skewMs: 0, requestTimeoutMs: 0, confirmMs: 0 });
    expect(await recordReconciled(db, ambiguous!, [])).toBe('absent');
    const afterAbsent = await claim();
    seen.push(afterAbsent.failuresBefore);
    await recordRetryable(db, afterAbsent, 'HTTP 503', 0, 503);
    seen.push((await claim()).failuresBefore);
    expect(seen).toEqual([0, 1, 2, 3, 0, 1]);
  });
});
