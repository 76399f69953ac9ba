/**
 * How far Plivo's clock may be from the ledger's, measured rather than assumed.
 *
 * Plivo → process: every answer carries a Date header (whole seconds). The server read its clock at some
 * instant between sending the request (s) and reading the answer (r), so with D the header's time,
 * Plivo − process lies in [D − r, D + 1 s − s].
 * Process → ledger: `SELECT clock_timestamp()` bracketed the same way gives ledger − process in
 * [L − r, L − s]. The bound K on |Plivo − ledger| is the largest magnitude of the difference of the two
 * intervals, so it includes both round trips and the header's rounding.
 */
import type { Db } from '../ledger/db.js';
import { ledgerClock } from '../ledger/reconcile.js';

export interface Interval {
  lo: number;
  hi: number;
}

/** Plivo − process, from one answer's Date header; null without one. */
export function plivoOffset(a: { sentAt: number; receivedAt: number; date: number | null }): Interval | null {
  if (a.date === null) return null;
  return { lo: a.date - a.receivedAt, hi: a.date + 1000 - a.sentAt };
}

/** Ledger − process, by asking the ledger's clock. Uses the real clock: the ledger runs on real time. */
export async function ledgerOffset(db: Db): Promise<Interval> {
  const s = Date.now();
  const at = await ledgerClock(db);
  const r = Date.now();
  return { lo: at - r, hi: at - s };
}

/** The bound on |Plivo − ledger| from the two offsets. */
export function skewBound(plivo: Interval, ledger: Interval): number {
  const lo = plivo.lo - ledger.hi;
  const hi = plivo.hi - ledger.lo;
  return Math.max(Math.abs(lo), Math.abs(hi));
}
