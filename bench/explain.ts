/**
 * Plans of the per-pass queries on a 1 000 000-row campaign (20 000 in short mode) on Postgres: the claim and
 * the record of src/ledger/sending.ts, tracking's dueMessages and trackingBacklog, the reconciler's
 * dueAmbiguousBatches and adoptOrphans, the status summary's queries and one COPY range of the export.
 *
 * The SQL is the ledger modules' own: each function is called with a Db whose every statement is first run
 * under `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF)` inside a savepoint that is rolled back, then run for
 * real (so the next function sees what the code would leave), all in one transaction rolled back at the end.
 * The campaign is export.ts's finished one, with some open work added in that transaction (pending, in-flight
 * and ambiguous batches, open messages), so that open-set indexes have something to find.
 */
import { openLedger } from '../ledger/open.js';
import type { Db, Queryable, Tx } from '../ledger/db.js';
import { adoptOrphans, claimDue, recordAccepted } from '../ledger/sending.js';
import { prepareBudgets } from '../ledger/senders.js';
import { dueMessages, trackingBacklog } from '../ledger/tracking.js';
import { dueAmbiguousBatches } from '../ledger/reconcile.js';
import { ambiguousBatches, campaignTiming, reportCopySelect, setReportCopy, setReportRange } from '../ledger/reports.js';
import { campaignTally, foldTallies } from '../ledger/tallies.js';
import { uuidCountMismatches } from '../ledger/unaccounted.js';
import { exportColumns } from '../report/export.js';
import { errorMeanings, UNLISTED } from '../plivo/error-codes.js';
import { tempDatabase } from './fixtures.js';
import { seed } from './export.js';
import type { BenchContext, Benchmark, Figure, Section } from './lib.js';

export interface Plan { label: string; text: string; buffers: number; ms: number }

class Rollback extends Error {}

/** A Db over one transaction that explains every statement before running it (labels set by `as`). */
function explaining(tx: Tx, plans: Plan[]): { db: Db; as(label: string): void } {
  let label = '';
  let n = 0;
  const query = async <Row>(sql: string, params?: readonly unknown[]): Promise<Row[]> => {
    if (label) {
      await tx.query('SAVEPOINT explain');
      const t0 = performance.now();
      const lines = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) ${sql}`, params);
      const ms = performance.now() - t0;
      await tx.query('ROLLBACK TO SAVEPOINT explain');
      const text = lines.map((l) => l['QUERY PLAN']).join('\n');
      plans.push({ label: `${label}${n++ > 0 ? ` (statement ${n})` : ''}`, text, buffers: topBuffers(text), ms });
    }
    return tx.query<Row>(sql, params);
  };
  const inner: Tx = { query, copyFrom: tx.copyFrom };
  const db: Db = {
    kind: 'postgres', query,
    // The code's transaction is part of this one
    transaction: async (fn) => fn(inner),
    openSession: () => { throw new Error('explain: no sessions'); },
    close: async () => undefined,
  };
  return { db, as: (l) => { label = l; n = 0; } };
}

/** Shared buffers (hit + read) of the plan's top node: what the statement touched. */
function topBuffers(plan: string): number {
  const m = /Buffers: shared((?: \w+=\d+)+)/.exec(plan);
  if (!m) return 0;
  return [...m[1]!.matchAll(/(hit|read)=(\d+)/g)].reduce((n, x) => n + Number(x[2]), 0);
}

/** Open work in the finished campaign: pending, in-flight (of a dead owner) and ambiguous batches, open messages. */
async function openSomeWork(tx: Queryable, campaignId: number): Promise<void> {
  const ids = (await tx.query<{ id: number }>('SELECT id FROM batches WHERE campaign_id = $1 ORDER BY id DESC LIMIT 80', [campaignId])).map((r) => r.id);
  const pending = ids.slice(0, 50);
  const inFlight = ids.slice(50, 60);
  const ambiguous = ids.slice(60, 80);
  await tx.query('DELETE FROM messages WHERE batch_id = ANY($1::int[])', [ids]);
  await tx.query(`UPDATE batches SET status = 'pending', attempts = 0, accepted_at = NULL, next_attempt_at = now() - interval '1 s' WHERE id = ANY($1::int[])`, [pending]);
  await tx.query(`UPDATE recipients SET status = 'pending', message_uuid = NULL WHERE batch_id = ANY($1::int[])`, [pending]);
  await tx.query(`UPDATE batches SET status = 'in_flight', lease_owner = 'dead', lease_expires_at = now() - interval '1 min', accepted_at = NULL WHERE id = ANY($1::int[])`, [inFlight]);
  await tx.query(`UPDATE batches SET status = 'ambiguous', accepted_at = NULL, last_error = 'timeout' WHERE id = ANY($1::int[])`, [ambiguous]);
  await tx.query(`UPDATE recipients SET status = 'sending', message_uuid = NULL WHERE batch_id = ANY($1::int[])`, [[...inFlight, ...ambiguous]]);
  await tx.query(
    `INSERT INTO attempts (batch_id, attempt_no, owner, status, started_at, finished_at, request_timeout_ms)
     SELECT id, 1, 'dead', CASE WHEN status = 'ambiguous' THEN 'ambiguous' ELSE 'in_flight' END, now() - interval '10 min',
            CASE WHEN status = 'ambiguous' THEN now() - interval '10 min' END, 30000
     FROM batches WHERE id = ANY($1::int[])`, [[...inFlight, ...ambiguous]]);
  // 1 000 messages of the last accepted batches still open (tracking's open set)
  await tx.query(
    `UPDATE messages SET final_at = NULL, state = 'queued', next_poll_at = now() - interval '1 s', polls = 1
     WHERE message_uuid IN (SELECT message_uuid FROM messages WHERE campaign_id = $1 ORDER BY batch_id DESC, message_uuid LIMIT 1000)`, [campaignId]);
  await tx.query('ANALYZE batches');
  await tx.query('ANALYZE messages');
  await tx.query('ANALYZE recipients');
}

export async function explainAll(url: string): Promise<{ plans: Plan[]; batches: number }> {
  const ledger = await openLedger({ databaseUrl: url, home: '/nonexistent' });
  const plans: Plan[] = [];
  let batches = 0;
  try {
    await ledger.transaction(async (tx) => {
      const [c] = await tx.query<{ id: number; job: Record<string, unknown>; csv_columns: string[] | null }>(
        `SELECT id, job, csv_columns FROM campaigns WHERE name = 'export'`);
      const id = c!.id;
      batches = (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM batches WHERE campaign_id = $1', [id]))[0]!.n;
      await foldTallies(tx, id); // what a run's end leaves: the tally rows folded, one per sender and status
      const { db, as } = explaining(tx, plans);
      as('status: campaignTally of the finished campaign (the tallies of sql/026, folded)');
      await campaignTally(db, id);
      as('');
      await openSomeWork(tx, id);
      await prepareBudgets(db, 'bench', id, 20);
      as('claimDue (the claim: up to 20 senders, one batch each)');
      const claim = await claimDue(db, { account: 'bench', campaignId: id, owner: 'explain', leaseMs: 60_000, max: 20 });
      const batch = claim.batches[0];
      if (batch) {
        as('recordAccepted (the 202 of one claimed batch)');
        await recordAccepted(db, batch, { httpStatus: 202, apiId: 'x', messageUuids: batch.dsts.map((_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`), invalidNumbers: [] });
      }
      as('dueMessages (tracking pass)');
      await dueMessages(db, id, { firstLookMs: 0, callbackGraceMs: null, giveUpMarginMs: 900_000 }, 100);
      as('trackingBacklog (tracking pass)');
      await trackingBacklog(db, id);
      as('dueAmbiguousBatches (reconciler pass)');
      await dueAmbiguousBatches(db, id, { now: new Date(Date.now() + 3_600_000), skewMs: 1_000, requestTimeoutMs: 30_000, confirmMs: 60_000 });
      as('adoptOrphans (reconciler pass)');
      await adoptOrphans(db, id, 'explain', ['dead']);
      as('status: campaignTally (the tallies of sql/026, with the rows the work above added in a shard of its own)');
      await campaignTally(db, id);
      as('foldTallies, the tally rows of sql/026 (reconciler pass, every 30 s; the end of a run)');
      await foldTallies(db, id);
      as('status: campaignTiming');
      await campaignTiming(db, id);
      as('status: ambiguousBatches');
      await ambiguousBatches(db, id);
      as('status: uuidCountMismatches');
      await uuidCountMismatches(db, id);
      as('');
      const { columns } = exportColumns({ id, job: c!.job, csv_columns: c!.csv_columns }, { text: true });
      const o = { campaignId: id, cells: columns.map((col) => col.sql!), meanings: errorMeanings(), unlisted: UNLISTED, rowsPerCopy: 5_000 };
      await setReportCopy(tx, o);
      await setReportRange(tx, 600_000, 605_000);
      as('export: one COPY range (rows 600 001 to 605 000) of `export --text`');
      await db.query(reportCopySelect(o));
      throw new Rollback();
    });
  } catch (err) {
    if (!(err instanceof Rollback)) throw err;
  } finally {
    await ledger.close();
  }
  return { plans, batches };
}

export const benchmark: Benchmark = {
  id: 'explain',
  title: 'Plans of the per-pass queries',
  order: 72,
  async run(ctx: BenchContext): Promise<Section> {
    const rows = ctx.short ? 20_000 : 1_000_000;
    const db = await tempDatabase(ctx.postgresUrl, 'explain');
    try {
      await seed(db.url, rows);
      const { plans, batches } = await explainAll(db.url);
      return explainSection(ctx, rows, plans, batches);
    } finally {
      await db.drop();
    }
  },
};

/** The section of the plans (exported to write it from an already seeded database as well). */
export function explainSection(ctx: BenchContext, rows: number, plans: readonly Plan[], batches: number): Section {
  for (const p of plans) ctx.log(`  ${p.label}: ${p.buffers} buffers, ${p.ms.toFixed(1)} ms`);
  const n = (x: number) => x.toLocaleString('en-US').replace(/,/g, ' ');
  const figures: Figure[] = plans.map((p) => ({ label: `${p.label}: shared buffers`, value: p.buffers, unit: 'buffers', digits: 0 }));
  figures.push(...plans.map((p) => ({ label: `${p.label}: EXPLAIN ANALYZE time`, value: p.ms, unit: 'ms', digits: 1 })));
  return {
    id: 'explain',
    title: 'Plans of the per-pass queries',
    command: `npm run bench -- --only explain${ctx.short ? ' --short' : ''}`,
    what: `Export's finished campaign of ${n(rows)} rows (${n(batches)} batches of 100, 20 senders), with some open
work added in a transaction (50 pending batches, 10 in flight of a dead owner, 20 ambiguous, 1 000 open messages):
each per-pass query is the ledger module's own SQL, run once under \`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF)\`
in a savepoint rolled back, then for real; the whole transaction is rolled back (bench/explain.ts). Figures: the
shared buffers each statement touched (a buffer is 8 KB), and the EXPLAIN ANALYZE's round trip. One run.`,
    figures,
    notes: `${NOTES}\n\n\`\`\`\n${plans.map((p) => `### ${p.label}\n${p.text}`).join('\n')}\n\`\`\``,
  };
}

const NOTES = `No per-pass query walks every batch of the campaign: each reads its open set through a partial index
(batches_pending, batches_unsettled, messages_due) or one batch's rows (recipients_batch, messages_batch). The
seeded campaign has attempts only for the batches reopened here (a few dozen rows), so Postgres reads \`attempts\`
by a sequential scan of those; with an attempt per batch it uses the (batch_id, attempt_no) index. The claim's
buffers are its work: 20 batches of 98 recipients each updated (each update reads and writes the row and its
index entries), not a walk. A write's plan ends with its tally triggers' time (sql/026: \`Trigger …_tally_…\`), which
add the statement's change to the tallies. The status summary reads the tallies (a few rows per sender and status),
finished or with open work alike; the rows the work above added sit in a shard of their own until foldTallies folds
them (the reconciler's pass, every 30 s, and the run's end). Neither is a walk of the campaign.`;
