/**
 * Plivo's status callbacks, as data: the url smsrun gives Plivo, and a callback's fields read into a
 * ProviderUpdate. No HTTP here (see receiver.ts).
 *
 * A callback (form-encoded on POST, in the query string on GET; one line in reality):
 *   MessageUUID=0936ec98-7c4c-11e4-9bd8-22000afa12b9&ParentMessageUUID=0936ec98-…&PartInfo=1 of 1
 *   &To=14155550123&From=14155550100&Type=sms&Status=delivered&Units=1&TotalRate=0.00500
 *   &TotalAmount=0.00500&ErrorCode=000&MCC=310&MNC=260&Sequence=3
 *   &MessageTime=2024-08-21 12:58:51.123456&QueuedTime=2024-08-21 12:58:51.123456
 *   &SentTime=2024-08-21 12:58:52.004312&DeliveryReportTime=2024-08-21 12:58:55.730201&PowerpackUUID=
 * Its times are UTC without an offset (unlike a record's, which carry the account's offset);
 * MessageTime is when the message was queued, not the time of this change. Plus smsrun's own `campaign` and `batch` in the url's query (callbackUrlFor), so a callback that
 * arrives before the 202 carrying its uuid was recorded can still be tied to its batch.
 *
 * Parsing is strict about shapes that reach SQL casts (integers, numeric(12,5), times): one malformed
 * field must not make the statement applying a whole micro-batch fail. A field that does not parse is
 * read as unknown (null) rather than refusing the callback, which Plivo would only retry unchanged.
 */
import { UsageError } from '../errors.js';
import { isFinalState, type ProviderUpdate } from '../ledger/tracking.js';
import { parseCallbackTime } from '../plivo/time.js';

/** A callback's fields: a form or JSON body, or a query string. Repeated keys as arrays. */
export type CallbackFields = Readonly<Record<string, string | readonly string[]>>;

/** The query parameters smsrun adds to its callback url. */
export const CAMPAIGN_PARAM = 'campaign';
export const BATCH_PARAM = 'batch';

const INT32_MAX = 2_147_483_647;
/** messages.total_rate / total_amount are numeric(12, 5): at most 7 digits before the point. */
const AMOUNT = /^\d{1,7}(\.\d{1,12})?$/;
const MAX_UUID_LENGTH = 64;
const MAX_STATE_LENGTH = 32;

/**
 * Checks the public callback url and returns it unchanged: an absolute http(s) url without a fragment,
 * user info, or smsrun's own parameters. It is kept as written because Plivo signs the url it was given,
 * so the url we send and the url we check signatures against must be one string. Throws a UsageError
 * naming `flag`.
 */
export function checkCallbackUrl(publicUrl: string, flag = '--callback-url'): string {
  let u: URL;
  try {
    u = new URL(publicUrl);
  } catch {
    throw new UsageError(`${flag} must be an absolute http(s) url, like https://hooks.example.com/plivo/status, not '${publicUrl}'`);
  }
  const problem =
    u.protocol !== 'https:' && u.protocol !== 'http:' ? 'must start with https:// or http://'
    : /\s/.test(publicUrl) ? 'must not contain white space'
    : publicUrl.includes('#') ? 'must not have a #fragment (Plivo would not send it back)'
    : u.username !== '' || u.password !== '' ? 'must not hold a user name or password (Plivo signs its callbacks instead)'
    : u.searchParams.has(CAMPAIGN_PARAM) || u.searchParams.has(BATCH_PARAM) ? `must not have '${CAMPAIGN_PARAM}' or '${BATCH_PARAM}' in its query: smsrun adds them`
    : null;
  if (problem) throw new UsageError(`${flag} ${problem} (got '${publicUrl}')`);
  return publicUrl;
}

/** The `url` to send with a batch's request: the public url plus `campaign=…&batch=…`. */
export function callbackUrlFor(publicUrl: string, campaignId: number, batchId: number): string {
  const base = checkCallbackUrl(publicUrl);
  const joiner = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${joiner}${CAMPAIGN_PARAM}=${campaignId}&${BATCH_PARAM}=${batchId}`;
}

/**
 * The url Plivo signed: the (checked) public url's origin and path, plus the query the request arrived
 * with. The local path may differ (a proxy or tunnel in between); the query is Plivo's.
 */
export function signedUrlFor(publicUrl: string, rawQuery: string): string {
  const base = publicUrl.split('?')[0] as string;
  return rawQuery === '' ? base : `${base}?${rawQuery}`;
}

/**
 * Reads a callback. `fields` are the callback's (body, or the query on GET); `query` is the request's
 * query string, where smsrun's campaign and batch are. Returns a reason when the callback lacks what
 * identifies it (the receiver answers 400).
 */
export function parseCallback(fields: CallbackFields, query: URLSearchParams): ProviderUpdate | { invalid: string } {
  const uuid = one(fields, 'MessageUUID');
  const state = one(fields, 'Status').toLowerCase();
  if (uuid === '' || state === '') return { invalid: 'a status callback needs MessageUUID and Status' };
  if (uuid.length > MAX_UUID_LENGTH || state.length > MAX_STATE_LENGTH || !/^[a-z_]+$/.test(state)) {
    return { invalid: 'MessageUUID or Status is not what Plivo sends' };
  }
  const final = isFinalState(state);
  return {
    uuid,
    toNumber: one(fields, 'To').replace(/^\+/, '') || null,
    state,
    final,
    errorCode: one(fields, 'ErrorCode') || null,
    units: int(one(fields, 'Units')),
    totalRate: amount(one(fields, 'TotalRate')),
    totalAmount: amount(one(fields, 'TotalAmount')),
    messageTime: time(one(fields, 'MessageTime')),
    providerUpdatedAt: latest(['DeliveryReportTime', 'SentTime', 'QueuedTime'].map((k) => time(one(fields, k)))),
    sequence: int(one(fields, 'Sequence')),
    via: 'callback',
    nextPollAt: null,
    campaignId: int(query.get(CAMPAIGN_PARAM) ?? ''),
    batchId: int(query.get(BATCH_PARAM) ?? ''),
  };
}

/** A field's first value, trimmed; '' when absent. */
function one(fields: CallbackFields, key: string): string {
  const v = fields[key];
  const first = typeof v === 'string' ? v : v?.[0];
  return (first ?? '').trim();
}

/** A non-negative int4, or null. */
function int(s: string): number | null {
  if (!/^\d{1,10}$/.test(s)) return null;
  const n = Number(s);
  return n <= INT32_MAX ? n : null;
}

function amount(s: string): string | null {
  return AMOUNT.test(s) ? s : null;
}

function time(s: string): Date | null {
  if (s === '') return null;
  try {
    return parseCallbackTime(s);
  } catch {
    return null;
  }
}

function latest(dates: readonly (Date | null)[]): Date | null {
  let best: Date | null = null;
  for (const d of dates) if (d && (!best || d > best)) best = d;
  return best;
}
