/**
 * The summary's figures per campaign and sender, as the ledger keeps them while it is written (sql/026: statement
 * triggers add each statement's change to rows of the writing backend's own, `shard`). `campaignTally` sums them;
 * `foldTallies` folds the shards into one row per key, so that the rows to sum stay a few per sender and status
 * however many connections wrote.
 */
import type { Queryable } from './db.js';
import type { CostSummary, ErrorCodeCount, SenderStats, StatusCount } from './reports.js';

export interface CampaignTally {
  statuses: StatusCount[];
  senders: SenderStats[];
  cost: CostSummary;
  errors: ErrorCodeCount[];
  firstRequestAt: Date | null;
  lastFinalAt: Date | null;
}

/**
 * The campaign's figures for the summary, from the tallies the ledger keeps as it is written (sql/026: a few rows
 * per sender and status, whatever the campaign's size or state), in one statement. Each backend adds to tally
 * rows of its own (`shard`), summed here.
 */
export async function campaignTally(db: Queryable, campaignId: number): Promise<CampaignTally> {
  const [row] = await db.query<TallyRow>(TALLY_SQL, [campaignId]);
  const r = row!;
  // Each sender's counts by status, grouped once (a filter of every row per sender was quadratic in the senders)
  const bySender = new Map<string, Map<string, number>>();
  for (const x of r.by_sender) {
    const counts = bySender.get(x.sender) ?? new Map<string, number>();
    counts.set(x.status, x.n);
    bySender.set(x.sender, counts);
  }
  const count = (sender: string, ...statuses: string[]) =>
    statuses.reduce((n, status) => n + (bySender.get(sender)?.get(status) ?? 0), 0);
  const date = (d: Date | string | null) => (d === null ? null : new Date(d));
  return {
    statuses: r.statuses,
    senders: r.senders.map((s) => ({
      ...s, delivered: count(s.sender, 'delivered'), undelivered: count(s.sender, 'undelivered'), failed: count(s.sender, 'failed'),
      rejected: count(s.sender, 'rejected'), sent: count(s.sender, 'sent'), open: count(s.sender, 'submitted'), unsent: count(s.sender, 'pending', 'sending'),
    })),
    cost: { spent: r.spent, pricedUnits: r.priced_units, pricedAmount: r.priced_amount },
    errors: r.errors,
    firstRequestAt: date(r.first_request_at),
    lastFinalAt: date(r.last_final_at),
  };
}

/** Recipients of the campaign still to be sent (pending, or in a request not yet answered) and those it texts at all. */
export interface RecipientProgress {
  unsent: number;
  sendable: number;
}

/**
 * The run's progress line's counts, from the tallies (a few rows per sender and status). Counting the recipients
 * themselves took two scans of a million rows at every start, beside the first claim on a 2-core machine: the
 * resume's first request waited for them (docs/decisions.md, "Issue 12: the resume's first request").
 */
export async function recipientProgress(db: Queryable, campaignId: number): Promise<RecipientProgress> {
  const [row] = await db.query<RecipientProgress>(
    `SELECT coalesce(sum(n) FILTER (WHERE status IN ('pending', 'sending')), 0)::int AS unsent,
            coalesce(sum(n) FILTER (WHERE status NOT IN ('invalid', 'duplicate', 'skipped', 'suppressed')), 0)::int AS sendable
     FROM status_tallies WHERE campaign_id = $1`, [campaignId]);
  return row!;
}

type TallyRow = {
  statuses: StatusCount[]; senders: Omit<SenderStats, StatusField>[]; by_sender: { sender: string; status: string; n: number }[];
  errors: ErrorCodeCount[]; spent: string; priced_units: number; priced_amount: string; first_request_at: Date | string | null; last_final_at: Date | string | null;
};

/**
 * campaignTally's statement. A count that came back to 0 (every recipient of a status moved on) leaves a row of
 * 0, left out here; a sender keeps its row, so a sender whose recipients all went (a reconciliation moved them)
 * is still listed. Sender '' holds the recipients without one (invalid rows...): counted by status, not listed.
 */
const TALLY_SQL = `WITH
s AS MATERIALIZED (
  SELECT sender, status, sum(n)::int AS n, sum(units)::int AS units, sum(accepted)::int AS accepted
  FROM status_tallies WHERE campaign_id = $1 GROUP BY 1, 2),
p AS MATERIALIZED (
  SELECT sender, sum(msg_units)::int AS units, sum(amount) AS amount, sum(requested)::int AS requested, sum(requested_units)::int AS "requestedUnits",
         sum(requests)::int AS requests, max(largest_request)::int AS "largestRequest", max(largest_request_units)::int AS "largestRequestUnits",
         sum(priced_units)::int AS priced_units, sum(priced_amount) AS priced_amount, min(first_request_at) AS first_request_at, max(last_final_at) AS last_final_at
  FROM sender_tallies WHERE campaign_id = $1 GROUP BY 1),
a AS MATERIALIZED (
  SELECT coalesce(s.sender, p.sender) AS sender, coalesce(s.assigned, 0) AS assigned, coalesce(s.accepted, 0) AS accepted, coalesce(p.units, 0) AS units,
         coalesce(p.amount, 0) AS amount, coalesce(p.requested, 0) AS requested, coalesce(p."requestedUnits", 0) AS "requestedUnits",
         coalesce(p.requests, 0) AS requests, coalesce(p."largestRequest", 0) AS "largestRequest", coalesce(p."largestRequestUnits", 0) AS "largestRequestUnits"
  FROM (SELECT sender, sum(n)::int AS assigned, sum(accepted)::int AS accepted FROM s GROUP BY 1) s FULL JOIN p ON p.sender = s.sender)
SELECT
  (SELECT coalesce(json_agg(json_build_object('status', status, 'count', n, 'units', units) ORDER BY status), '[]')
   FROM (SELECT status, sum(n)::int AS n, sum(units)::int AS units FROM s GROUP BY status HAVING sum(n) <> 0) st) AS statuses,
  (SELECT coalesce(json_agg(json_build_object('sender', sender, 'assigned', assigned, 'accepted', accepted, 'units', units, 'amount', amount::text,
     'requested', requested, 'requestedUnits', "requestedUnits", 'requests', requests, 'largestRequest', "largestRequest",
     'largestRequestUnits', "largestRequestUnits") ORDER BY sender), '[]') FROM a WHERE sender <> '') AS senders,
  (SELECT coalesce(json_agg(json_build_object('sender', sender, 'status', status, 'n', n, 'units', units) ORDER BY sender, status), '[]')
   FROM s WHERE sender <> '' AND n <> 0) AS by_sender,
  (SELECT coalesce(json_agg(json_build_object('code', code, 'state', state, 'count', n) ORDER BY n DESC, code), '[]') FROM (
     SELECT code, state, sum(n)::int AS n FROM error_tallies WHERE campaign_id = $1 GROUP BY 1, 2 HAVING sum(n) <> 0) e) AS errors,
  (SELECT coalesce(sum(amount), 0)::text FROM p) AS spent,
  (SELECT coalesce(sum(priced_units), 0)::int FROM p) AS priced_units,
  (SELECT coalesce(sum(priced_amount), 0)::text FROM p) AS priced_amount,
  (SELECT min(first_request_at) FROM p) AS first_request_at,
  (SELECT max(last_final_at) FROM p) AS last_final_at`;

type StatusField = 'delivered' | 'undelivered' | 'failed' | 'rejected' | 'sent' | 'open' | 'unsent';

type Combine = 'sum' | 'max' | 'min';

/** Folds one tally table's rows of campaign $1 into shard 0: `key` the columns besides shard, `figures` how each adds up. */
function foldSql(table: string, key: readonly string[], figures: Readonly<Record<string, Combine>>): string {
  const k = key.join(', ');
  const names = Object.keys(figures);
  const combine = (c: string, f: Combine) => (f === 'sum' ? `t.${c} + excluded.${c}` : `${f === 'max' ? 'greatest' : 'least'}(t.${c}, excluded.${c})`);
  return `WITH gone AS (
      DELETE FROM ${table} WHERE (${k}, shard) IN (SELECT ${k}, shard FROM ${table} WHERE campaign_id = $1 AND shard <> 0 FOR UPDATE SKIP LOCKED)
      RETURNING *)
    INSERT INTO ${table} AS t (${k}, shard, ${names.join(', ')})
    SELECT ${k}, 0, ${names.map((c) => `${figures[c]}(${c})`).join(', ')} FROM gone GROUP BY ${k} ORDER BY ${k}
    ON CONFLICT (${k}, shard) DO UPDATE SET ${names.map((c) => `${c} = ${combine(c, figures[c]!)}`).join(', ')}`;
}

const FOLDS = [
  foldSql('status_tallies', ['campaign_id', 'sender', 'status'], { n: 'sum', units: 'sum', accepted: 'sum' }),
  foldSql('error_tallies', ['campaign_id', 'sender', 'code', 'state'], { n: 'sum' }),
  foldSql('sender_tallies', ['campaign_id', 'sender'], {
    msg_units: 'sum', amount: 'sum', priced_units: 'sum', priced_amount: 'sum', last_final_at: 'max', requests: 'sum', requested: 'sum',
    requested_units: 'sum', largest_request: 'max', largest_request_units: 'max', first_request_at: 'min', last_accepted_at: 'max',
  }),
];

/**
 * Folds the campaign's tally rows of every backend into shard 0, a row per key, one statement per table: the
 * rows a summary sums stay a few per sender and status however many connections wrote (a pool's connections, and
 * new ones after idle ones close). Only rows no open transaction holds are taken (SKIP LOCKED), so a fold never
 * waits for a writer; a writer that adds to a row being folded waits for the fold's statement to commit, then
 * makes the row again. One waits for the other, never both ways: they cannot deadlock. A row held now is folded
 * next time. Writers add to their own shard, never 0; folds lock shard 0's rows in key order.
 */
export async function foldTallies(db: Queryable, campaignId: number): Promise<void> {
  for (const sql of FOLDS) await db.query(sql, [campaignId]);
}
