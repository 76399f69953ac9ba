/**
 * For `plan` (issue 13, "counts per reason"): which of a CSV's rows would be `suppressed`, before anything is
 * loaded. Call it per chunk of rows as they are read (one query per chunk, memory flat), with the account the
 * run would send as (`listOwner` in account.ts). A campaign already loaded has its suppressed rows
 * in the ledger instead: `suppressedRecipients` in ledger/suppressions.ts (count and the first rows).
 */
import type { Queryable } from '../ledger/db.js';
import { suppressedAmong } from '../ledger/suppressions.js';

export interface SuppressedRow<R> {
  row: R;
  /** Why, as the report will say it: the list's source, time and reason. */
  reason: string;
}

export async function suppressedRows<R extends { dst: string | null }>(db: Queryable, account: string, rows: readonly R[]): Promise<SuppressedRow<R>[]> {
  const numbers = [...new Set(rows.flatMap((r) => (r.dst ? [r.dst] : [])))];
  const listed = new Map((await suppressedAmong(db, account, numbers)).map((s) => [s.number, s]));
  return rows.flatMap((row) => {
    const s = row.dst ? listed.get(row.dst) : undefined;
    return s ? [{ row, reason: `on the suppression list (${s.source}, ${s.created_at.toISOString().slice(0, 16).replace('T', ' ')} UTC): ${s.reason}` }] : [];
  });
}
