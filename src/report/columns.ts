/**
 * The report's columns: smsrun's own (REPORT_COLUMNS), then the user's CSV columns in file order, and the
 * rendered `text` when asked for. The same list, in the same order, in CSV and JSON Lines.
 *
 * A user column keeps its name, so that a report loaded back as a campaign's CSV finds the same
 * `dst_column` and template columns. Where a user column has the name of one of smsrun's, smsrun's is
 * renamed `smsrun_<name>`. A campaign with a send window also has `time_zone` after `reason`: the zone its
 * window was read in for the row (several, separated by spaces, when the number could be in any of them and
 * the window's strictest reading applied). Campaigns without one keep the columns they always had.
 */
import { UsageError } from '../errors.js';
import { suggest } from '../campaign/suggest.js';
import { errorMeaning } from '../plivo/error-codes.js';
import { fieldCell, REPORT_CELLS, type CellSql, type ReportRow } from '../ledger/reports.js';
import { maskNumber, maskReason } from './mask.js';

export const REPORT_COLUMNS = [
  'row', 'line', 'dst', 'src', 'status', 'message_uuid', 'error_code', 'error_meaning', 'units', 'total_amount',
  'submitted_at', 'final_at', 'reason',
] as const;
export const TEXT_COLUMN = 'text';
/** smsrun's column after `reason` for a campaign with a send window. */
export const TIME_ZONE_COLUMN = 'time_zone' as const;

export type Cell = string | number | null;

export interface Column {
  name: string;
  value(row: ReportRow): Cell;
  /** The same value computed in SQL (ledger/reports.ts); absent where only JavaScript computes it (--mask). */
  sql?: CellSql | undefined;
}

export interface ColumnOptions {
  /** The campaign's CSV header; null for a campaign loaded before the ledger kept it. */
  csvColumns: readonly string[] | null;
  /** The user's phone-number column (masked with --mask). */
  dstColumn: string;
  /** Add the rendered text. */
  text: boolean;
  /** Add `time_zone` (the campaign has a send window). */
  timeZone?: boolean | undefined;
  mask: boolean;
  /** `--columns`: these, in this order, instead of all of them. */
  only?: readonly string[] | undefined;
}

export function reportColumns(o: ColumnOptions): Column[] {
  const user = o.csvColumns ?? [];
  const taken = new Set(user);
  const ours = (name: string) => (taken.has(name) ? `smsrun_${name}` : name);
  const number = (v: string | null) => (v !== null && o.mask ? maskNumber(v) : v);
  const own: Record<(typeof REPORT_COLUMNS)[number] | typeof TEXT_COLUMN | typeof TIME_ZONE_COLUMN, (r: ReportRow) => Cell> = {
    row: (r) => r.row,
    line: (r) => r.line,
    dst: (r) => number(r.dst),
    src: (r) => r.src,
    status: (r) => r.status,
    message_uuid: (r) => r.message_uuid,
    error_code: (r) => r.error_code,
    error_meaning: (r) => errorMeaning(r.error_code),
    units: (r) => r.units,
    total_amount: (r) => r.total_amount,
    submitted_at: (r) => iso(r.submitted_at),
    final_at: (r) => iso(r.final_at),
    reason: (r) => {
      const reason = reasonFor(r);
      return reason !== null && o.mask ? maskReason(reason, r.raw_dst) : reason;
    },
    text: (r) => r.text,
    time_zone: (r) => r.time_zone,
  };
  const smsruns: (keyof typeof own)[] = [...REPORT_COLUMNS, ...(o.timeZone ? [TIME_ZONE_COLUMN] : [])];
  // Masked cells are JavaScript's only: a Column without `sql` keeps the export on the row-by-row path.
  const masked = new Set<string>(o.mask ? ['dst', 'reason'] : []);
  const all: Column[] = [
    ...smsruns.map((c) => ({ name: ours(c), value: own[c], sql: masked.has(c) ? undefined : REPORT_CELLS[c] })),
    ...user.map((name, i): Column => (name === o.dstColumn
      ? { name, value: (r) => number(r.fields?.[i] ?? null), sql: o.mask ? undefined : fieldCell(i) }
      : { name, value: (r) => r.fields?.[i] ?? null, sql: fieldCell(i) })),
  ];
  const text: Column = { name: ours(TEXT_COLUMN), value: own.text, sql: REPORT_CELLS.text };
  if (!o.only) return o.text ? [...all.slice(0, smsruns.length), text, ...all.slice(smsruns.length)] : all;
  const byName = new Map([...all, text].map((c) => [c.name, c]));
  return o.only.map((name) => {
    const column = byName.get(name);
    if (column) return column;
    const guess = suggest(name, [...byName.keys()]);
    throw new UsageError(`--columns: the report has no column '${name}'${guess ? ` (did you mean '${guess}'?)` : ''}. ` +
      `Its columns: ${[...byName.keys()].join(', ')}` +
      (o.csvColumns === null ? ". (This campaign was loaded before smsrun kept the CSV's own columns, so only smsrun's are there.)" : '.'));
  });
}

function iso(t: Date | string | null): string | null {
  return t === null || typeof t === 'string' ? t : t.toISOString();
}

/** True when the columns read the rendered text (the query fetches it only then). */
export function needsText(columns: readonly Column[], o: ColumnOptions): boolean {
  const user = new Set(o.csvColumns ?? []);
  const textName = user.has(TEXT_COLUMN) ? `smsrun_${TEXT_COLUMN}` : TEXT_COLUMN;
  return columns.some((c) => c.name === textName);
}

/**
 * Why a row is where it is: the ledger's reason (validation, duplicate, Plivo's refusal), or for a row not
 * sent yet, what its batch is waiting for.
 */
export function reasonFor(r: ReportRow): string | null {
  if (r.reason) return r.reason;
  if (r.status === 'sending' && r.batch_id !== null) {
    return r.batch_status === 'ambiguous'
      ? `batch ${r.batch_id}: the request may or may not have been accepted${r.batch_error ? ` (${r.batch_error})` : ''}; ` +
        `'smsrun resume' checks Plivo's records before anything is sent again`
      : `batch ${r.batch_id}: request in flight`;
  }
  if (r.status === 'pending') {
    return r.batch_attempts && r.batch_error
      ? `not sent yet: batch ${r.batch_id} will be tried again (last attempt: ${r.batch_error})`
      : 'not sent yet';
  }
  return null;
}
