/** The List API's query (filters) and answer (one page of MDRs). */
import { toE164 } from '../sms/numbers.js';
import { listFilterForm } from '../sms/sender.js';
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
  /**
   * Sent exactly as given: Plivo matches it exactly, so the caller picks the form for the sender's kind
   * (senderFilter: '+E.164' for a long code, a short code or sender ID as it is).
   */
  from_number?: string;
  /** A destination: digits are sent as E.164 ('+' added). */
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
  /** The records read, newest first. */
  objects: Mdr[];
  /**
   * The records that could not be read (an unknown message_state, a time without an offset, …), with
   * whatever identifies them. A page is never refused for one record: a List page holds the whole
   * account's traffic, so one odd record from another application would otherwise stop every listing
   * that covers it. Whether one matters is the caller's to decide (mayBeAmong).
   */
  unreadable: UnreadableRecord[];
  /** Relative path of the next page, for listNext; null on the last page. */
  next: string | null;
  /** Not always sent (unconfirmed), so optional. */
  totalCount?: number;
  /**
   * When the request left and its answer was read (local clock, ms), and Plivo's Date header (ms, whole
   * seconds; null if absent): what clock skew is measured from (src/send/skew.ts).
   */
  answered?: { sentAt: number; receivedAt: number; date: number | null };
}

/** A List record that parseMdr refused, with the fields that say whose it may be (null where unreadable). */
export interface UnreadableRecord {
  /** parseMdr's reason. */
  reason: string;
  messageUuid: string | null;
  direction: string | null;
  fromNumber: string | null;
  toNumber: string | null;
  powerpackId: string | null;
}

/** What a caller of the List API is looking for: any of these uuids, or messages from `sender` to one of `to`. */
export interface Wanted {
  uuids?: ReadonlySet<string>;
  /** A sender key as the ledger keeps it: a sanitised src, or `powerpack:<uuid>`. */
  sender?: string;
  /** Numbers without '+'. */
  to?: ReadonlySet<string>;
}

/**
 * Whether an unreadable record CAN MATTER to a caller: whether it could be one of the messages the
 * caller is looking for. It can unless something readable in it rules it out: it is known to be
 * inbound, or its uuid, its sender or its destination is readable and not among those wanted. A record
 * that can matter makes the listing incomplete for that caller (reconciliation must then give no
 * verdict); one that cannot (another sender's, another number's) is skipped.
 */
export function mayBeAmong(r: UnreadableRecord, wanted: Wanted): boolean {
  if (r.direction !== null && r.direction !== 'outbound') return false;
  if (wanted.uuids && r.messageUuid !== null && !wanted.uuids.has(r.messageUuid)) return false;
  if (wanted.to && r.toNumber !== null && !wanted.to.has(bare(r.toNumber))) return false;
  if (wanted.sender !== undefined) {
    const powerpack = wanted.sender.startsWith('powerpack:') ? wanted.sender.slice('powerpack:'.length) : null;
    if (powerpack !== null ? r.powerpackId !== null && r.powerpackId !== powerpack : r.fromNumber !== null && bare(r.fromNumber) !== wanted.sender) {
      return false;
    }
  }
  return true;
}

/** The List filter that names a sender key (a sanitised src, or `powerpack:<uuid>`). */
export function senderFilter(sender: string): Pick<ListFilter, 'from_number' | 'powerpack_id'> {
  return sender.startsWith('powerpack:') ? { powerpack_id: sender.slice('powerpack:'.length) } : { from_number: listFilterForm(sender) };
}

const bare = (n: string) => n.replace(/^\+/, '');

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
  if (filter.from_number !== undefined) q.set('from_number', filter.from_number);
  if (filter.to_number !== undefined) q.set('to_number', /^\+?\d+$/.test(filter.to_number) ? toE164(filter.to_number) : filter.to_number);
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
  const read: Mdr[] = [];
  const unreadable: UnreadableRecord[] = [];
  for (const o of objects) {
    try {
      read.push(parseMdr(o));
    } catch (err) {
      unreadable.push(identify(o, err instanceof Error ? err.message : String(err)));
    }
  }
  const page: ListPage = {
    objects: read,
    unreadable,
    // Some Plivo list answers carry '' rather than null on the last page.
    next: typeof next === 'string' && next !== '' ? next : null,
  };
  if (typeof total === 'number') page.totalCount = total;
  return page;
}

function identify(o: unknown, reason: string): UnreadableRecord {
  const raw = typeof o === 'object' && o !== null && !Array.isArray(o) ? (o as Record<string, unknown>) : {};
  const text = (key: string): string | null => {
    const v = raw[key];
    return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null;
  };
  return {
    reason,
    messageUuid: text('message_uuid'),
    direction: text('message_direction'),
    fromNumber: text('from_number'),
    toNumber: text('to_number'),
    powerpackId: text('powerpack_id'),
  };
}
