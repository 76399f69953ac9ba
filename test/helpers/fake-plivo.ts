/**
 * A fake Plivo for direct tests of the core loops (reconciler, list paging, dispatcher): it holds message
 * records, answers sends and List queries the way Plivo documents them (newest first, 20 a page, exact
 * from_number/to_number filters, a Date header), and lets a test hold a page open, fail a call, or shift
 * Plivo's clock. Paired with TestClock, an injectable clock the loops read instead of Date.now().
 */
import { randomUUID } from 'node:crypto';
import type { ListFilter, ListPage, SendOutcome, SendRequest } from '../../src/plivo/client.js';
import { PlivoApiError } from '../../src/plivo/client.js';
import { listQuery } from '../../src/plivo/list.js';
import type { Mdr } from '../../src/plivo/types.js';
import { senderKind } from '../../src/sms/sender.js';
import type { Clock } from '../../src/send/window.js';

/** A clock a test moves by hand; starts at the real time so the ledger's now() agrees with it. */
export class TestClock implements Clock {
  #offset = 0;
  now(): number {
    return Date.now() + this.#offset;
  }
  advance(ms: number): void {
    this.#offset += ms;
  }
}

export interface FakeCall {
  kind: 'send' | 'list';
  /** For a list: the query string as the real client would send it. */
  query?: string;
  page?: number;
}

export class FakePlivo {
  readonly records: Mdr[] = [];
  readonly calls: FakeCall[] = [];
  /** Plivo's clock minus the test clock, as Plivo's Date header shows it. */
  skewMs = 0;
  /** Records per page (Plivo: 20). */
  pageSize = 20;
  /** Decides a send's answer; by default every destination is queued. */
  onSend: (req: SendRequest) => SendOutcome | Promise<SendOutcome> = (req) => this.queue(req);
  /** Called before each List page is answered (page 1 = the first); may wait or throw. */
  beforePage: (page: number, filter: ListFilter) => void | Promise<void> = () => undefined;

  constructor(private readonly clock: Clock = new TestClock()) {}

  /** Queues the request's messages as Plivo would, and answers 202. */
  queue(req: SendRequest, at: number = this.clock.now() + this.skewMs): SendOutcome {
    const uuids = req.dst.map((to) => this.add({ from: req.src ?? '', to, at }).messageUuid);
    return { kind: 'accepted', apiId: randomUUID(), messageUuids: uuids, invalidNumbers: [] };
  }

  /** Adds a record as Plivo would hold it (numbers without '+', as in MDRs). */
  add(r: { from: string; to: string; at: number; uuid?: string; direction?: string }): Mdr {
    const mdr: Mdr = {
      messageUuid: r.uuid ?? randomUUID(), messageTime: new Date(r.at), direction: r.direction ?? 'outbound', state: 'queued', type: 'sms',
      fromNumber: r.from, toNumber: r.to.replace(/^\+/, ''), units: 1, totalRate: '0.00500', totalAmount: '0.00500', errorCode: null,
    };
    this.records.push(mdr);
    return mdr;
  }

  async send(req: SendRequest): Promise<SendOutcome> {
    this.calls.push({ kind: 'send' });
    return this.onSend(req);
  }

  async listMessages(filter: ListFilter): Promise<ListPage> {
    return this.#page(filter, 0);
  }

  async listNext(next: string): Promise<ListPage> {
    const { filter, offset } = JSON.parse(decodeURIComponent(next.slice('fake:'.length))) as { filter: SerialFilter; offset: number };
    return this.#page(revive(filter), offset);
  }

  listCalls(): FakeCall[] {
    return this.calls.filter((c) => c.kind === 'list');
  }

  async #page(filter: ListFilter, offset: number): Promise<ListPage> {
    const page = offset / this.pageSize + 1;
    const sentAt = this.clock.now();
    this.calls.push({ kind: 'list', query: listQuery(filter), page });
    await this.beforePage(page, filter);
    const matches = this.records.filter((r) => matchesFilter(r, filter)).sort((a, b) => b.messageTime.getTime() - a.messageTime.getTime());
    const receivedAt = this.clock.now();
    const hasNext = offset + this.pageSize < matches.length;
    return {
      objects: matches.slice(offset, offset + this.pageSize),
      unreadable: [],
      next: hasNext ? `fake:${encodeURIComponent(JSON.stringify({ filter, offset: offset + this.pageSize }))}` : null,
      totalCount: matches.length,
      answered: { sentAt, receivedAt, date: httpDate(receivedAt + this.skewMs) },
    };
  }
}

/** A failure of the kind the real client throws for a List call. */
export function listError(kind: 'retryable' | 'auth' | 'throttled', status: number): PlivoApiError {
  return new PlivoApiError(kind, `GET /Message/: HTTP ${status} (fake)`, { status });
}

type SerialFilter = Record<string, unknown>;

function revive(f: SerialFilter): ListFilter {
  const out: Record<string, unknown> = { ...f };
  for (const k of Object.keys(out)) if (k.startsWith('message_time')) out[k] = new Date(out[k] as string);
  return out as ListFilter;
}

/** Plivo's Date header has whole seconds. */
function httpDate(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/** Plivo's filters, compared exactly: a number filter is E.164 with '+', a short code or sender ID as is. */
function matchesFilter(r: Mdr, f: ListFilter): boolean {
  const t = r.messageTime.getTime();
  const query = new URLSearchParams(listQuery(f).slice(1));
  const from = query.get('from_number');
  const to = query.get('to_number');
  if (f.message_direction && r.direction !== f.message_direction) return false;
  if (from !== null && !sameNumber(r.fromNumber, from)) return false;
  if (to !== null && !sameNumber(r.toNumber, to)) return false;
  // Times go over the wire to the millisecond, as the real client sends them.
  if (f.message_time__gte && t < f.message_time__gte.getTime()) return false;
  if (f.message_time__gt && t <= f.message_time__gt.getTime()) return false;
  if (f.message_time__lte && t > f.message_time__lte.getTime()) return false;
  if (f.message_time__lt && t >= f.message_time__lt.getTime()) return false;
  return true;
}

/** A long code is asked for as +E.164; a short code or sender ID exactly (as the simulator does). */
function sameNumber(recorded: string, asked: string): boolean {
  return senderKind(recorded) === 'long_code' ? asked === `+${recorded}` : asked === recorded;
}
