/**
 * What one claim reads of a big campaign, on Postgres (the rule: no per-pass query may walk every batch of
 * a campaign, and Postgres 15 and 16 have no skip scan). Counted with `pg_stat_xact_user_tables`, the current
 * transaction's own reads of `batches`, not timed.
 *
 * Two walks were there until 2026-12-03: each sender's probe for its next batch anti-joined every pending batch
 * with `campaigns` (the cancel and start checks), whose estimate of one batch left made Postgres read and sort all
 * of the sender's pending batches; and the next-claim time took the minimum over every pending batch of each sender
 * waiting for its budget. Both now read a batch or two per sender. And no ledger connection compiles statements
 * with JIT (0.3 s per claim once a campaign's estimates passed jit_above_cost).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, Queryable } from '../src/ledger/db.js';
import { openLedger } from '../src/ledger/open.js';
import { claimDue } from '../src/ledger/sending.js';
import { prepareBudgets } from '../src/ledger/senders.js';
import { loadedCampaign } from './helpers/campaigns.js';
import { createTestLedger, LEDGER_KINDS, type TestLedger } from './helpers/ledgers.js';

const PER_SENDER = 1500;

describe.runIf(LEDGER_KINDS.includes('postgres'))('a claim on a Postgres ledger holding a personalised campaign', () => {
  let ledger: TestLedger;
  let db: Db;

  beforeAll(async () => {
    ledger = await createTestLedger('postgres');
    db = await openLedger({ databaseUrl: ledger.databaseUrl, home: ledger.home });
  });
  afterAll(async () => {
    await db?.close();
    await ledger?.dispose();
  });

  it('reads a few batches per sender, not every pending one', async () => {
    const senders = ['14155550901', '14155550902', '14155550903'];
    const dsts = Array.from({ length: senders.length * PER_SENDER }, (_, i) => `1415888${String(i).padStart(4, '0')}`);
    const c = await loadedCampaign(db, dsts, { senders, batchSize: 1 });
    const account = 'MA-reads';
    await prepareBudgets(db, account, c.id, 20);
    await db.query('ANALYZE batches'); // as autovacuum soon does: the bad estimate came with statistics
    // The third sender waits for its budget: the next-claim time is computed for it
    await db.query(`UPDATE sender_budgets SET tat = now() + interval '1 hour' WHERE account = $1 AND sender = $2`, [account, senders[2]]);

    // The backend's counts not yet reported (earlier transactions' too, since Postgres 15), before and after
    const reads = async (tx: Queryable) => (await tx.query<{ n: number }>(
      `SELECT (coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0))::int AS n FROM pg_stat_xact_user_tables WHERE relname = 'batches'`))[0]!.n;
    const { claimed, fetched } = await db.transaction(async (tx) => {
      const before = await reads(tx);
      const claim = await claimDue(tx, { account, campaignId: c.id, owner: 'p1', leaseMs: 60_000, max: 100 });
      return { claimed: claim.batches.length, fetched: (await reads(tx)) - before };
    });
    expect(claimed).toBe(2);
    expect(fetched).toBeLessThan(50); // sql/026's and earlier claims read more than 3 × 1 500 here
  });

  it('compiles nothing with JIT', async () => {
    expect(await db.query('SHOW jit')).toEqual([{ jit: 'off' }]);
  });
});
