/** The List API's query (filters) and answer (one page of MDRs). */
import { toE164 } from '../sms/numbers.js';
import { parseMdr } from './mdr.js';
import { formatListFilterTime } from './time.js';
import type { Mdr, MessageState } from './types.js';

const MAX_LIST_LIMIT = 20;

/** Filters of `GET /Message/`, named as Plivo names them. Dates are sent in UTC. */
export interface ListFilter {
  /** 1–20. @default 20 (Plivo's) */
  limit?: number;
  offset?: number;
  message_direction?: 'outbound' | 'inbound';
  message_state?: MessageState;
  message_type?: string;
  error_code?: string;
  /** A number is sent as E.164 ('+' added); an alphanumeric sender as is. */
  from_number?: string;
  to_number?: string;
  /**
   * Sent to the millisecond while MDR times carry microseconds, so a boundary
   * record can come back twice across windows: prefer __gte and dedupe by uuid.
   */
  message_time__gt?: Date;
  message_time__gte?: Date;
  message_time__lt?: Date;
  message_time__lte?: Date;
  subaccount?: string;
  powerpack_id?: string;
}

export interface ListPage {
  objects: Mdr[];
  /** Relative path of the next page, for listNext; null on the last page. */
  next: string | null;
  /** Not always sent (unconfirmed), so optional. */
  totalCount?: number;
}

const TIME_FILTERS = ['message_time__gt', 'message_time__gte', 'message_time__lt', 'message_time__lte'] as const;
const TEXT_FILTERS = [
  'message_direction',
  'message_state',
  'message_type',
  'error_code',
  'subaccount',
  'powerpack_id',
] as const;

/** `?k=v&…` for a filter, or '' when there is none. */
export function listQuery(filter: ListFilter): string {
  const q = new URLSearchParams();
  if (filter.limit !== undefined) {
    if (!Number.isInteger(filter.limit) || filter.limit < 1 || filter.limit > MAX_LIST_LIMIT) {
      throw new TypeError(`listMessages: limit must be 1 to ${MAX_LIST_LIMIT}, got ${filter.limit}`);
    }
    q.set('limit', String(filter.limit));
  }
  if (filter.offset !== undefined) q.set('offset', String(filter.offset));
  for (const key of TEXT_FILTERS) {
    const value = filter[key];
    if (value !== undefined) q.set(key, value);
  }
  for (const key of ['from_number', 'to_number'] as const) {
    const value = filter[key];
    if (value !== undefined) q.set(key, /^\+?\d+$/.test(value) ? toE164(value) : value);
  }
  for (const key of TIME_FILTERS) {
    const value = filter[key];
    if (value !== undefined) q.set(key, formatListFilterTime(value));
  }
  const query = q.toString();
  return query === '' ? '' : `?${query}`;
}

export function parseListPage(json: unknown): ListPage {
  if (typeof json !== 'object' || json === null) throw new TypeError('list answer is not a JSON object');
  const { meta, objects } = json as { meta?: Record<string, unknown>; objects?: unknown };
  if (!Array.isArray(objects)) throw new TypeError('list answer has no objects array');
  const next = meta?.['next'];
  const total = meta?.['total_count'];
  const page: ListPage = {
    objects: objects.map(parseMdr),
    // Some Plivo list answers carry '' rather than null on the last page.
    next: typeof next === 'string' && next !== '' ? next : null,
  };
  if (typeof total === 'number') page.totalCount = total;
  return page;
}
