/**
 * The account's shared budgets (sql/014_pacing_budgets.sql): each sender number's rate and GCRA time, and the
 * account's request and List windows as slots. Claims advance them (ledger/sending.ts `claimDue`); this
 * module creates them, lowers a rate when campaigns disagree, and lends window slots to tracking.
 */
import type { Db, Queryable } from './db.js';

/** Plivo's account limits, as slots held for a window: no sliding window ever holds more requests than slots. */
export const WINDOWS = {
  /**
   * 300 requests per 5 s. A slot is held 5.2 s from the request's slot, and again from when its answer is
   * recorded (ledger/sending.ts): the 0.2 s cover a request that reached Plivo later after
   * its claim than the one that reuses its slot (the window is judged on arrival, the slot on the claim).
   */
  request: { slots: 300, holdMs: 5_200 },
  /** 20 List requests a minute (more for accounts Plivo raised: `--list-per-minute`). */
  list: { slots: 20, holdMs: 60_500 },
} as const;

/**
 * Tracking and reconciliation take at most this many of the request slots: sending always has half the window,
 * and all of it but TRACKING_REQUEST_SLOTS.whileSending while some number of the account sent within the last
 * window (`takeSlot`). Half was not enough for a campaign whose numbers send in step (200 numbers at 1/s in
 * batches of 10: 200 requests at once every 10 s): tracking's GETs held 150 slots, the rest of each round waited
 * for slots to free, and its numbers' phases slipped (efficiency 0.93 against 0.99 with 20).
 */
export const TRACKING_REQUEST_SLOTS = { otherwise: 150, whileSending: 20 } as const;

export type WindowKind = keyof typeof WINDOWS;

export interface RateConflict {
  sender: string;
  /** The rate this job asks for, and the one that holds (the lowest among campaigns still sending from it). */
  asked: number;
  holds: number;
  /** Other campaigns still sending from the number at another rate. */
  others: { name: string; rate: number }[];
}

/**
 * The job's senders that other campaigns still sending give another rate. The lowest rate holds for the
 * number, whichever campaign it came from: a carrier counts what leaves the number.
 */
export async function rateConflicts(db: Queryable, name: string, senders: readonly string[], rate: number): Promise<RateConflict[]> {
  const rows = await db.query<{ sender: string; others: { name: string; rate: number }[] }>(
    `SELECT s AS sender, jsonb_agg(jsonb_build_object('name', c.name, 'rate', (c.job->>'rate')::float8) ORDER BY c.name) AS others
     FROM unnest($2::text[]) AS s JOIN campaigns c ON c.name <> $1 AND c.state = 'sending' AND s = ANY(c.senders)
       AND (c.job->>'rate')::float8 <> $3
     GROUP BY s ORDER BY s`,
    [name, senders, rate],
  );
  return rows.map((r) => ({ sender: r.sender, asked: rate, holds: Math.min(rate, ...r.others.map((o) => o.rate)), others: r.others }));
}

/**
 * The conflicts of jobs run together: for each job, its numbers that another of these jobs, or a campaign
 * still sending in the ledger, gives another rate.
 */
export async function runConflicts(db: Queryable, jobs: readonly { name: string; senders: readonly string[]; rate: number }[]): Promise<RateConflict[]> {
  const names = new Set(jobs.map((j) => j.name));
  const out: RateConflict[] = [];
  for (const job of jobs) {
    const ledger = await rateConflicts(db, job.name, job.senders, job.rate);
    for (const sender of job.senders) {
      const others = [
        ...jobs.filter((o) => o !== job && o.rate !== job.rate && o.senders.includes(sender)).map((o) => ({ name: o.name, rate: o.rate })),
        ...(ledger.find((c) => c.sender === sender)?.others ?? []).filter((o) => !names.has(o.name)),
      ];
      if (others.length > 0) out.push({ sender, asked: job.rate, holds: Math.min(job.rate, ...others.map((o) => o.rate)), others });
    }
  }
  return out;
}

/** One line for the run's output: which numbers run at another rate than the job asks, and why. */
export function describeConflicts(conflicts: readonly RateConflict[]): string {
  const parts = conflicts.slice(0, 3).map((c) =>
    `${c.sender} at ${c.holds}/s (${c.others.map((o) => `'${o.name}' asks ${o.rate}/s`).join(', ')}; this job ${c.asked}/s)`);
  const more = conflicts.length > 3 ? ` and ${conflicts.length - 3} more` : '';
  return `rate conflict: campaigns still sending share these numbers at other rates, and the lowest holds for each number: ${parts.join('; ')}${more}. ` +
    'See `smsrun senders`.';
}

/**
 * Creates (or updates) the budgets a campaign sends through: one row per sender with the lowest rate that
 * any campaign still sending from the number gives it, the account's message rate (`account_rate`, sql/016)
 * and the account's window slots. `caps`: the lowest rates among jobs run together in this process, which may
 * not be loaded yet (so the lower rate holds from the first request, whichever campaign starts first).
 */
export async function prepareBudgets(db: Db, account: string, campaignId: number, listPerMinute: number, caps: BudgetCaps = {}): Promise<void> {
  await db.transaction(async (tx) => {
    // One at a time per account: two campaigns starting together each see the other's rate (the lowest holds),
    // rather than the later writer's view overwriting the earlier one's.
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('smsrun.budgets:' || $1, 0))`, [account]);
    await ensureSlots(tx, account, 'request', WINDOWS.request.slots);
    await ensureSlots(tx, account, 'list', listPerMinute);
    // `xmax = 0`: the row was inserted, not updated (an updated row carries the updating transaction's id).
    const rows = await tx.query<{ inserted: boolean }>(
      `INSERT INTO sender_budgets AS sb (account, sender, rate)
       SELECT $1, m.sender, least(m.rate, min((c.job->>'rate')::float8), ($3::jsonb->>m.sender)::float8)
       FROM (SELECT unnest(senders) AS sender, coalesce((job->>'rate')::float8, 1) AS rate FROM campaigns WHERE id = $2) m
       LEFT JOIN campaigns c ON c.id <> $2 AND c.state = 'sending' AND m.sender = ANY(c.senders)
       GROUP BY m.sender, m.rate
       ON CONFLICT (account, sender) DO UPDATE SET rate = excluded.rate
       RETURNING (sb.xmax = 0) AS inserted`,
      [account, campaignId, JSON.stringify(caps.senders ?? {})],
    );
    // The claim joins the campaign's senders to these rows: without statistics (a new ledger, or many senders
    // just added) the planner takes the table for a few rows and compares every row with every sender. Only
    // when rows were added: a resume or a campaign on known numbers changes no count, and the ANALYZE sat on
    // the way to the first request (70 ms of it on a busy machine, issue 12).
    if (rows.some((r) => r.inserted)) await tx.query('ANALYZE sender_budgets');
    // The account's message rate: an account limit, so the lowest that this or any campaign still sending on
    // the account gives holds for all of them (none: no limit). Campaigns of other accounts keep theirs.
    await tx.query(
      `INSERT INTO account_budgets AS ab (account, rate)
       SELECT $1, min(r) FROM (
         SELECT (job->>'account_rate')::float8 AS r FROM campaigns
         WHERE id = $2 OR (state = 'sending' AND suppression_account = $1)
         UNION ALL SELECT $3::float8) x
       ON CONFLICT (account) DO UPDATE SET rate = excluded.rate`,
      [account, campaignId, caps.accountRate ?? null],
    );
  });
}

/** The lowest rates among jobs run together in one process, which may not all be loaded yet. */
export interface BudgetCaps {
  /** Per sender number, messages (or units) per second. */
  senders?: Readonly<Record<string, number>> | undefined;
  /** The lowest `account_rate` among them, messages per second. */
  accountRate?: number | undefined;
}

/** The account's window slots, for a run that only tracks (`smsrun poll`). */
export async function prepareAccountSlots(db: Db, account: string, listPerMinute: number): Promise<void> {
  await db.transaction(async (tx) => {
    await ensureSlots(tx, account, 'request', WINDOWS.request.slots);
    await ensureSlots(tx, account, 'list', listPerMinute);
  });
}

async function ensureSlots(tx: Queryable, account: string, kind: WindowKind, slots: number): Promise<void> {
  await tx.query(
    `INSERT INTO account_slots (account, kind, slot) SELECT $1, $2, s FROM generate_series(0, $3::int - 1) AS s
     ON CONFLICT DO NOTHING`,
    [account, kind, slots],
  );
}

/** How many slots of a window a caller of `takeSlot` may use: fewer while the account's numbers are sending. */
export type SlotLimit = number | { readonly otherwise: number; readonly whileSending: number };

/**
 * The slot bound, as SQL over the statement's parameters: `whileSending` (an int or null) while a number of the
 * account `account` has a GCRA time within the last request window or ahead (it was claimed that recently: sends
 * are due), else `otherwise`.
 */
function slotBound(account: string, otherwise: string, whileSending: string): string {
  return `(CASE WHEN ${whileSending}::int IS NOT NULL AND EXISTS (
     SELECT 1 FROM sender_budgets WHERE account = ${account} AND tat > now() - make_interval(secs => ${WINDOWS.request.holdMs / 1000}))
   THEN ${whileSending}::int ELSE ${otherwise}::int END)`;
}

function slotBounds(limit: SlotLimit): [number, number | null] {
  return typeof limit === 'number' ? [limit, null] : [limit.otherwise, limit.whileSending];
}

/**
 * Takes one free slot of the account's `kind` window among its first `limit` slots and holds it for the
 * window. Returns the slot taken, or null and the milliseconds until one frees (by the database clock).
 */
export async function takeSlot(db: Queryable, account: string, kind: WindowKind, limit: SlotLimit): Promise<{ slot: number | null; waitMs: number }> {
  const [otherwise, whileSending] = slotBounds(limit);
  const [row] = await db.query<{ slot: number | null; wait_ms: number | null }>(
    `WITH bound AS (SELECT ${slotBound('$1', '$3', '$5')} AS n),
     free AS (
       SELECT slot FROM account_slots, bound WHERE account = $1 AND kind = $2 AND slot < bound.n AND free_at <= now()
       ORDER BY free_at, slot LIMIT 1 FOR UPDATE OF account_slots SKIP LOCKED),
     taken AS (
       UPDATE account_slots a SET free_at = now() + make_interval(secs => $4::float8 / 1000)
       FROM free WHERE a.account = $1 AND a.kind = $2 AND a.slot = free.slot RETURNING a.slot)
     SELECT (SELECT slot FROM taken) AS slot,
            (SELECT extract(epoch FROM min(free_at) - now()) * 1000 FROM account_slots, bound
             WHERE account = $1 AND kind = $2 AND slot < bound.n)::float8 AS wait_ms`,
    [account, kind, otherwise, WINDOWS[kind].holdMs, whileSending],
  );
  return row!.slot !== null ? { slot: row!.slot, waitMs: 0 } : { slot: null, waitMs: Math.max(1, row!.wait_ms ?? 1000) };
}

/**
 * Holds a slot taken by `takeSlot` for the window again from now, once its request is over: the window then
 * counts from when the request had certainly reached Plivo, however long a loaded process held it back.
 */
export async function holdSlotAgain(db: Queryable, account: string, kind: WindowKind, slot: number): Promise<void> {
  await db.query(
    `UPDATE account_slots SET free_at = greatest(free_at, now() + make_interval(secs => $4::float8 / 1000))
     WHERE account = $1 AND kind = $2 AND slot = $3`,
    [account, kind, slot, WINDOWS[kind].holdMs],
  );
}

/** Free slots of the account's `kind` window among its first `limit`, now. */
export async function freeSlots(db: Queryable, account: string, kind: WindowKind, limit: SlotLimit): Promise<number> {
  const [otherwise, whileSending] = slotBounds(limit);
  const [row] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM account_slots WHERE account = $1 AND kind = $2 AND slot < ${slotBound('$1', '$3', '$4')} AND free_at <= now()`,
    [account, kind, otherwise, whileSending],
  );
  return row!.n;
}

/** A 429 means Plivo counts more than we did: every request slot of the account waits `ms` more. */
export async function holdAllSlots(db: Queryable, account: string, ms: number): Promise<void> {
  await db.query(
    `UPDATE account_slots SET free_at = greatest(free_at, now() + make_interval(secs => $2::float8 / 1000))
     WHERE account = $1 AND kind = 'request'`,
    [account, ms],
  );
}

export interface SenderState {
  account: string;
  sender: string;
  rate: number;
  /** Seconds until its next batch may be claimed (0: now). */
  dueInS: number;
  campaigns: { name: string; state: string; rate: number; pending: number }[];
}

/** Every sender number in the ledger: its rate, when it may send next, and the campaigns that use it. */
export async function listSenders(db: Queryable): Promise<SenderState[]> {
  return db.query<SenderState>(
    `SELECT sb.account, sb.sender, sb.rate,
            greatest(0, extract(epoch FROM sb.tat - now()))::float8 AS "dueInS",
            coalesce((SELECT jsonb_agg(jsonb_build_object('name', c.name, 'state', c.state, 'rate', (c.job->>'rate')::float8,
                        'pending', (SELECT count(*) FROM batches b WHERE b.campaign_id = c.id AND b.sender = sb.sender AND b.status = 'pending'))
                        ORDER BY c.name)
                      FROM campaigns c WHERE sb.sender = ANY(c.senders)), '[]'::jsonb) AS campaigns
     FROM sender_budgets sb ORDER BY sb.account, sb.sender`,
  );
}

/** True while any batch of the campaigns is pending, in flight or ambiguous (whoever holds it). */
export async function campaignsHaveUnsettledBatches(db: Queryable, campaignIds: readonly number[]): Promise<boolean> {
  const [row] = await db.query<{ any: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM batches WHERE campaign_id = ANY($1::int[]) AND status IN ('pending', 'in_flight', 'ambiguous')) AS any`,
    [campaignIds],
  );
  return row!.any;
}
