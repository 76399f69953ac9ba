/**
 * The one write a holder of the embedded ledger does for another process (ledger/share.ts): changing an
 * account's suppression list, so that `smsrun suppress add|remove|import` works while a run holds the ledger
 * and the run's claim-time check then refuses those numbers.
 *
 * Not arbitrary SQL: a named operation whose every field is checked here, run by the holder through the same
 * functions the command uses in its own process (ledger/suppressions.ts), in one transaction.
 *
 * Request {id, op: 'suppressions', account, add: [{number, reason, source}], remove: [number]};
 * answer {id, op: 'suppressions', added, removed}, or {id, op: 'suppressions', error}. The answer names the op
 * so that the client can tell an older holder (which answers as to a read, without `op`) from a refusal.
 */
import type { Db } from './db.js';
import { addSuppressions, removeSuppressions, type NewSuppression } from './suppressions.js';

export const SUPPRESSIONS_OP = 'suppressions';

export interface SuppressionChange {
  account: string;
  add: NewSuppression[];
  /** E.164 without '+'. */
  remove: string[];
}

export interface SuppressionChangeResult {
  added: number;
  removed: number;
}

/** A request the holder refuses as it is: the message says which field is wrong. */
export class BadShareRequestError extends Error {
  readonly code = 'SMSRUN_BAD_REQUEST';
}

/** E.164 without '+', as recipients.dst and suppressions.number hold it (Plivo takes at most 15 digits). */
const NUMBER = /^[1-9][0-9]{1,14}$/;
const MAX_TEXT = 2000;
const KEYS = new Set(['id', 'op', 'account', 'add', 'remove']);

/** Checks a decoded request line for the suppressions op; throws BadShareRequestError naming the bad field. */
export function parseSuppressionChange(request: unknown): SuppressionChange {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) bad('the request is not an object');
  const r = request as Record<string, unknown>;
  if (r['op'] !== SUPPRESSIONS_OP) bad(`op must be '${SUPPRESSIONS_OP}'`);
  const extra = Object.keys(r).filter((k) => !KEYS.has(k));
  if (extra.length > 0) bad(`unexpected field(s) ${extra.join(', ')}`);
  const account = text(r['account'], 'account');
  const add = list(r['add'], 'add').map((item, i) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) bad(`add[${i}] is not an object`);
    const s = item as Record<string, unknown>;
    const extraInItem = Object.keys(s).filter((k) => !['number', 'reason', 'source'].includes(k));
    if (extraInItem.length > 0) bad(`add[${i}] has unexpected field(s) ${extraInItem.join(', ')}`);
    return { number: number(s['number'], `add[${i}].number`), reason: text(s['reason'], `add[${i}].reason`), source: text(s['source'], `add[${i}].source`) };
  });
  const remove = list(r['remove'], 'remove').map((n, i) => number(n, `remove[${i}]`));
  return { account, add, remove };
}

/** Applies a checked change in one transaction: all of it, or nothing. */
export async function applySuppressionChange(db: Db, change: SuppressionChange): Promise<SuppressionChangeResult> {
  return db.transaction(async (tx) => ({
    added: await addSuppressions(tx, change.account, change.add),
    removed: change.remove.length > 0 ? await removeSuppressions(tx, change.account, change.remove) : 0,
  }));
}

function bad(message: string): never {
  throw new BadShareRequestError(`malformed ${SUPPRESSIONS_OP} request: ${message}`);
}

function text(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.trim() === '') bad(`${field} must be a non-empty string`);
  if (v.length > MAX_TEXT) bad(`${field} is longer than ${MAX_TEXT} characters`);
  return v;
}

function number(v: unknown, field: string): string {
  if (typeof v !== 'string' || !NUMBER.test(v)) bad(`${field} must be an E.164 number without '+' (digits only, at most 15)`);
  return v;
}

function list(v: unknown, field: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) bad(`${field} must be an array`);
  return v;
}
