/**
 * For `plan` (issue 13, "counts per reason"): which of a CSV's rows would be `suppressed`, before anything is
 * loaded. The two sources a run scrubs with:
 *   - the job's `suppress:` files, always (read as a run reads them; a bad file stops the plan with its lines);
 *   - the suppression list of the account in the ledger, when a ledger exists: opened as it is, never created
 *     and never migrated (a plan must not upgrade the ledger of a running older smsrun), and read through the
 *     process holding an embedded one. When the list cannot be read, the plan says why and counts the files only.
 * One query per chunk of rows (memory flat), and none when the account's list is empty.
 * A campaign already loaded has its suppressed rows in the ledger instead: `suppressedRecipients` in
 * ledger/suppressions.ts.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Job } from '../campaign/job.js';
import type { Db, Queryable } from '../ledger/db.js';
import { openLedger } from '../ledger/open.js';
import type { LedgerPlace } from '../ledger/place.js';
import { countSuppressions, hasSuppressionLists, suppressedAmong, suppressionPage, type Suppression } from '../ledger/suppressions.js';
import { SmsrunError } from '../errors.js';
import { readJobSuppressions } from './run.js';

export interface SuppressedRow<R> {
  row: R;
  /** Why, as the report will say it: the list's source, time and reason. */
  reason: string;
}

/** The listed rows among `rows`, with the reason the report would give (one query). */
export async function suppressedRows<R extends { dst: string | null }>(db: Queryable, account: string, rows: readonly R[]): Promise<SuppressedRow<R>[]> {
  const numbers = [...new Set(rows.flatMap((r) => (r.dst ? [r.dst] : [])))];
  const listed = new Map((await suppressedAmong(db, account, numbers)).map((s) => [s.number, s]));
  return rows.flatMap((row) => {
    const s = row.dst ? listed.get(row.dst) : undefined;
    return s ? [{ row, reason: listedReason(s) }] : [];
  });
}

/** The reason a listed recipient gets, as the scrub writes it (ledger/suppressions.ts SUPPRESSED_REASON). */
function listedReason(s: Suppression): string {
  return `on the suppression list (${s.source}, ${s.created_at.toISOString().slice(0, 16).replace('T', ' ')} UTC): ${s.reason}`;
}

/**
 * An account list up to this size is read whole when `release` is given (an embedded ledger this process
 * opened), and the ledger released before the CSV is read: a long plan must not keep a run from starting.
 * About 200 bytes a number. A longer list is looked up chunk by chunk, with the ledger held until the end.
 */
const READ_WHOLE_MAX = 50_000;
const PAGE = 5_000;

/** The account's list in the ledger as the plan read it, or why it was not read. */
export type LedgerListUse =
  | { consulted: true; ledger: string; account: string; numbers: number }
  | { consulted: false; why: string };

export interface SuppressionSummary {
  /** The job's `suppress:` files and the numbers they list. */
  jobFiles: { files: number; numbers: number };
  ledger: LedgerListUse;
}

export interface PlanSuppression {
  summary: SuppressionSummary;
  /** The listed ones among these numbers (E.164 without '+'), each with the reason the report would give. */
  listed(numbers: readonly string[]): Promise<ReadonlyMap<string, string>>;
}

/**
 * An open ledger to read the account's list from, or why there is none. `release`: the ledger may be closed
 * once a small list is read whole (see READ_WHOLE_MAX).
 */
export type LedgerList = { db: Queryable; ledger: string; account: string; release?: (() => Promise<void>) | undefined } | { why: string };

export async function planSuppression(job: Job, list: LedgerList): Promise<PlanSuppression> {
  const fromFiles = new Map<string, string>();
  for (const s of await readJobSuppressions(job)) {
    if (!fromFiles.has(s.number)) fromFiles.set(s.number, `in the job's suppress file ${s.source.replace(/^job:/, '')}: ${s.reason}`);
  }
  const ledger = await useLedger(list);
  const lookup = ledger.consulted && ledger.numbers > 0 && 'db' in list ? await ledgerLookup(list, ledger.numbers) : undefined;
  return {
    summary: { jobFiles: { files: job.suppress?.length ?? 0, numbers: fromFiles.size }, ledger },
    async listed(numbers) {
      // The ledger's reason first: a run adds the files' numbers to the list, where an earlier listing stays.
      const out = lookup ? await lookup(numbers) : new Map<string, string>();
      if (fromFiles.size > 0) for (const n of numbers) if (!out.has(n) && fromFiles.has(n)) out.set(n, fromFiles.get(n)!);
      return out;
    },
  };
}

type Lookup = (numbers: readonly string[]) => Promise<Map<string, string>>;

/** The listed ones among a chunk's numbers: from the list read whole (then the ledger is released), or by query. */
async function ledgerLookup(list: Extract<LedgerList, { db: Queryable }>, size: number): Promise<Lookup> {
  if (!list.release || size > READ_WHOLE_MAX) {
    return async (numbers) => new Map((await suppressedRows(list.db, list.account, numbers.map((dst) => ({ dst })))).map((s) => [s.row.dst, s.reason]));
  }
  const whole = new Map<string, string>();
  for (let page = await suppressionPage(list.db, list.account, '', PAGE); page.length > 0; page = await suppressionPage(list.db, list.account, page.at(-1)!.number, PAGE)) {
    for (const s of page) whole.set(s.number, listedReason(s));
  }
  await list.release();
  return async (numbers) => new Map(numbers.flatMap((n) => (whole.has(n) ? [[n, whole.get(n)!] as const] : [])));
}

async function useLedger(list: LedgerList): Promise<LedgerListUse> {
  if ('why' in list) return { consulted: false, why: list.why };
  if (!(await hasSuppressionLists(list.db))) {
    return { consulted: false, why: `${list.ledger} has no suppression lists (an empty database, or a ledger older than them: the next run or 'smsrun suppress' adds them)` };
  }
  return { consulted: true, ledger: list.ledger, account: list.account, numbers: await countSuppressions(list.db, list.account) };
}

/**
 * The ledger at `place` as it is, for reading: undefined `db` and the reason when there is none (an embedded
 * one is not created), or it cannot be opened (an unreachable Postgres, an older smsrun holding the embedded
 * one). Not migrated. `via` says when it is read through the process that holds it.
 */
export async function openLedgerAsIs(place: LedgerPlace): Promise<{ db: Db; via?: string | undefined } | { why: string }> {
  const dir = path.join(place.home, 'ledger');
  if (!place.databaseUrl && !existsSync(path.join(dir, 'PG_VERSION'))) return { why: `there is no ledger at ${dir} yet` };
  let via: string | undefined;
  try {
    const db = await openLedger({
      databaseUrl: place.databaseUrl, home: place.home, migrate: false,
      read: { onShared: (pid) => { via = `read through the smsrun process that holds it (pid ${pid})`; } },
    });
    return { db, via };
  } catch (err) {
    if (err instanceof SmsrunError) return { why: err.message };
    throw err;
  }
}
