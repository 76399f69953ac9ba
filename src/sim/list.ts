/**
 * The List API, `GET /Message/`: filters, the 24-hour default window,
 * newest-first order and pagination.
 *
 * Answer: { api_id, meta: { limit, offset, next, previous, total_count }, objects }.
 * `next` / `previous` are relative paths carrying the same filters,
 * e.g. /v1/Account/MA…/Message/?limit=20&offset=40&message_state=sent, or null.
 */

import { MESSAGE_STATES } from '../plivo/types.js';
import { senderKind } from '../sms/sender.js';
import { parseFilterTime } from './clock.js';
import { ApiError } from './errors.js';
import type { MessageRecord } from './message.js';

const MAX_LIMIT = 20;
const DEFAULT_WINDOW_US = 24 * 3600 * 1_000_000;
const TIME_OPS = ['', '__gt', '__gte', '__lt', '__lte'] as const;
type TimeOp = (typeof TIME_OPS)[number];

export interface ListQuery {
  limit: number;
  offset: number;
  /** Predicates every listed message satisfies. */
  tests: Array<(m: MessageRecord) => boolean>;
  hasTimeFilter: boolean;
  /** The filters as received, to carry into next/previous. */
  carried: Array<[string, string]>;
}

export function parseListQuery(query: URLSearchParams): ListQuery {
  const tests: ListQuery['tests'] = [];
  const carried: ListQuery['carried'] = [];
  let hasTimeFilter = false;
  for (const [key, value] of query) {
    if (key === 'limit' || key === 'offset') continue;
    const test = filterFor(key, value);
    if (test === null) continue; // Unknown parameters are ignored, as Plivo does.
    tests.push(test);
    carried.push([key, value]);
    if (key.startsWith('message_time')) hasTimeFilter = true;
  }
  return {
    limit: intParam(query, 'limit', MAX_LIMIT, 1, MAX_LIMIT, `limit must be an integer between 1 and ${MAX_LIMIT}`),
    offset: intParam(query, 'offset', 0, 0, Number.MAX_SAFE_INTEGER, 'offset must be a non-negative integer'),
    tests,
    hasTimeFilter,
    carried,
  };
}

export interface ListPage {
  meta: { limit: number; offset: number; next: string | null; previous: string | null; total_count: number };
  objects: MessageRecord[];
}

export function runList(messages: readonly MessageRecord[], q: ListQuery, nowUs: number, basePath: string): ListPage {
  const since = q.hasTimeFilter ? -Infinity : nowUs - DEFAULT_WINDOW_US;
  const matches = messages.filter((m) => m.messageTimeUs >= since && q.tests.every((t) => t(m)));
  matches.sort((a, b) => b.messageTimeUs - a.messageTimeUs || b.seq - a.seq);
  const total = matches.length;
  const page = (offset: number): string => {
    const parts = [`limit=${q.limit}`, `offset=${offset}`, ...q.carried.map(([k, v]) => `${k}=${encodeURIComponent(v)}`)];
    return `${basePath}?${parts.join('&')}`;
  };
  return {
    meta: {
      limit: q.limit,
      offset: q.offset,
      next: q.offset + q.limit < total ? page(q.offset + q.limit) : null,
      previous: q.offset > 0 ? page(Math.max(0, q.offset - q.limit)) : null,
      total_count: total,
    },
    objects: matches.slice(q.offset, q.offset + q.limit),
  };
}

function filterFor(key: string, value: string): ((m: MessageRecord) => boolean) | null {
  switch (key) {
    case 'message_direction':
      oneOf(key, value, ['outbound', 'inbound']);
      return () => value === 'outbound';
    case 'message_state':
      oneOf(key, value, MESSAGE_STATES);
      return (m) => m.state === value;
    case 'message_type':
      oneOf(key, value, ['sms', 'mms', 'whatsapp']);
      return (m) => m.type === value;
    case 'error_code':
      return (m) => m.errorCode === value;
    case 'from_number':
      return (m) => asked(m.from, value);
    case 'to_number':
      return (m) => asked(m.to, value);
    case 'powerpack_id':
      return (m) => m.powerpackUuid === value;
    case 'subaccount':
      // Every simulated message belongs to the main account.
      return () => false;
  }
  if (!key.startsWith('message_time')) return null;
  const op = key.slice('message_time'.length) as TimeOp;
  if (!TIME_OPS.includes(op)) return null;
  const t = parseFilterTime(value);
  if (t === null) {
    throw new ApiError(400, `${key} must be in the format YYYY-MM-DD HH:MM[:ss[.uuuuuu]] (UTC), got '${value}'`);
  }
  switch (op) {
    case '':
      return (m) => m.messageTimeUs >= t.us && m.messageTimeUs < t.us + t.precisionUs;
    case '__gt':
      return (m) => m.messageTimeUs > t.us;
    case '__gte':
      return (m) => m.messageTimeUs >= t.us;
    case '__lt':
      return (m) => m.messageTimeUs < t.us;
    case '__lte':
      return (m) => m.messageTimeUs <= t.us;
  }
}

/**
 * from_number / to_number match exactly, as Plivo's docs say: a phone number in E.164 with '+' (a record
 * holds it without), a short code or an alphanumeric sender ID exactly as it is. No '+' stripped, no
 * separators removed: '+12345' finds no short code 12345, and '14155550100' no long code.
 */
function asked(recorded: string, value: string): boolean {
  return senderKind(recorded) === 'long_code' ? value === `+${recorded}` : value === recorded;
}

function oneOf(key: string, value: string, allowed: readonly string[]): void {
  if (!allowed.includes(value)) throw new ApiError(400, `${key} must be one of ${allowed.join(', ')}, got '${value}'`);
}

function intParam(query: URLSearchParams, key: string, fallback: number, min: number, max: number, sentence: string): number {
  const raw = query.get(key);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ApiError(400, `${sentence}, got '${raw}'`);
  return n;
}
