/**
 * The whole plan of a campaign, read from its job and CSV in one streaming pass, nothing sent and nothing
 * written: who is refused and why, what the texts cost in units and money, how many requests, and the
 * earliest finish given the rates, senders and send windows. Memory stays flat: per row only counters,
 * the duplicate set (16 bytes a number) and a bounded map of (zone, text) groups are kept; refused rows
 * go to `onRefused` as they are read.
 */
import type { Job } from '../campaign/job.js';
import { readRecipientChunks } from '../campaign/load.js';
import type { RecipientRow } from '../ledger/load.js';
import type { PlanSuppression, SuppressionSummary } from '../optout/plan.js';
import { sendWindowOf } from '../window/recipient-zone.js';
import { describeWindow, nextInterval } from '../window/window.js';
import { earliestFinish } from './finish.js';
import { NumberSet } from './number-set.js';
import type { RateCard } from './rate-card.js';

export type RefusalReason = 'invalid' | 'duplicate' | 'suppressed' | 'outside_window' | 'landline';

export interface RefusedRow {
  line: number;
  row: number;
  dst: string;
  reason: RefusalReason;
  detail: string;
}

export interface PlanOptions {
  rateCard?: RateCard | undefined;
  /** Scheduled start (`run --at`); now by default. */
  startAt?: Date | undefined;
  now?: number;
  onRefused?: (r: RefusedRow) => Promise<void> | void;
  /** The suppression lists to count rows against (optout/plan.ts); none without it. */
  suppression?: PlanSuppression | undefined;
}

export interface Plan {
  campaign: string;
  rows: number;
  valid: number;
  invalid: number;
  duplicate: number;
  skipped: number;
  units: number;
  senders: number;
  batches: number;
  /** True when texts were too varied to count the requests exactly (the count is then an upper bound). */
  batchesUpperBound: boolean;
  estimatedSeconds: number;
  countries: Record<string, number>;
  types: Record<string, number>;
  landlines: number;
  /** The first invalid rows, as `row N: reason` (kept for scripts written against earlier versions). */
  problems: string[];
  /** Which suppression lists the `suppressed` count comes from; null when none was looked at. */
  suppression: SuppressionSummary | null;
  reasons: Record<RefusalReason, { count: number; first: RefusedRow[] }>;
  ucs2: { recipients: number; characters: { char: string; code: string; recipients: number }[] };
  gsmReplace: { enabled: boolean; recipientsChanged: number; unitsBefore: number; unitsAfter: number };
  cost: { total: number; source: 'price_per_unit' | 'rate card' | 'rate card and price_per_unit'; unpriced: Record<string, number> } | null;
  window: { description: string; timezone: string; zones: { zone: string; recipients: number; known: boolean; opensAt: string | null }[]; unknownZone: number } | null;
  startAt: string;
  earliestFinish: string | null;
  firstRecipients: { line: number; dst: string; text: string | null; units: number; encoding: 'GSM' | 'UCS-2' }[];
}

const SHOWN_PER_REASON = 5;
const SHOWN_PROBLEMS = 10;
const SHOWN_RECIPIENTS = 3;
/** Distinct (zone, text) groups counted exactly; past that each new text counts as its own request. */
const MAX_GROUPS = 50_000;
const NON_GEOGRAPHIC = 'non-geographic';

class Counter {
  readonly counts = new Map<string, number>();
  add(key: string, n = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }
  sorted(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  }
}

function refusalOf(r: RecipientRow): RefusalReason | undefined {
  if (r.status === 'invalid') return 'invalid';
  if (r.status === 'skipped') return r.skip === 'outside_window' ? 'outside_window' : 'landline';
  if ((r.status as string) === 'suppressed') return 'suppressed';
  return undefined;
}

export async function collectPlan(job: Job, o: PlanOptions = {}): Promise<Plan> {
  const now = o.now ?? Date.now();
  const startMs = Math.max(now, o.startAt?.getTime() ?? now);
  const seen = new NumberSet();
  const reasons = Object.fromEntries((['invalid', 'duplicate', 'suppressed', 'outside_window', 'landline'] as const)
    .map((k) => [k, { count: 0, first: [] as RefusedRow[] }])) as Plan['reasons'];
  const countries = new Counter(), types = new Counter(), chars = new Counter(), zones = new Counter(), unpriced = new Counter();
  const costByZone = new Map<string | null, number>();
  const groups = new Map<string, number>();
  let overflowGroups = 0;
  let rows = 0, valid = 0, units = 0, unitsBefore = 0, changed = 0, ucs2 = 0, money = 0, unknownZone = 0;
  let usedCard = false, usedPrice = false;
  const problems: string[] = [];
  const first: Plan['firstRecipients'] = [];
  const limiterCost = (u: number) => (job.rate_counts === 'units' ? u : 1);

  const refuse = async (r: RecipientRow, reason: RefusalReason, detail: string): Promise<void> => {
    const entry = reasons[reason];
    entry.count++;
    const refused: RefusedRow = { line: r.lineNo, row: r.rowNo, dst: r.rawDst ?? '', reason, detail };
    if (entry.first.length < SHOWN_PER_REASON) entry.first.push(refused);
    if (reason === 'invalid' && problems.length < SHOWN_PROBLEMS) problems.push(`row ${r.rowNo}: ${detail}`);
    await o.onRefused?.(refused);
  };

  for await (const chunk of readRecipientChunks(job)) {
    const listed = await o.suppression?.listed(chunk.flatMap((r) => (r.status === 'pending' && r.dst ? [r.dst] : [])));
    for (const r of chunk) {
      rows++;
      const refusal = refusalOf(r);
      if (refusal === 'invalid') {
        await refuse(r, refusal, r.reason ?? '');
        continue;
      }
      // Who the rows are, one count per number (duplicates are sent once), skipped rows included.
      const duplicate = !refusal && !seen.add(r.dst!);
      if (!duplicate) {
        countries.add(r.country ?? NON_GEOGRAPHIC);
        types.add(r.numberType ?? 'unknown');
      }
      if (refusal) {
        await refuse(r, refusal, r.reason ?? '');
        continue;
      }
      if (duplicate) {
        await refuse(r, 'duplicate', `line ${r.lineNo}: the same number as an earlier row: sent once`);
        continue;
      }
      // As in a run: the first row of a listed number is suppressed, a later one is a duplicate (above).
      const suppressed = listed?.get(r.dst!);
      if (suppressed !== undefined) {
        await refuse(r, 'suppressed', suppressed);
        continue;
      }
      valid++;
      const u = r.units ?? 1;
      units += u;
      unitsBefore += r.unitsUnreplaced ?? u;
      if (r.unitsUnreplaced !== undefined) changed++;
      if (r.nonGsm) {
        ucs2++;
        for (const c of r.nonGsm) chars.add(c);
      }
      const price = (r.country ? o.rateCard?.get(r.country) : undefined);
      if (price !== undefined) { money += price * u; usedCard = true; }
      else if (job.price_per_unit !== undefined) { money += job.price_per_unit * u; usedPrice = true; }
      else if (o.rateCard) unpriced.add(r.country ?? NON_GEOGRAPHIC, u);
      const zone = r.timeZone ?? null;
      if (zone !== null) {
        zones.add(zone);
        if (zone.includes(' ')) unknownZone++;
      }
      costByZone.set(zone, (costByZone.get(zone) ?? 0) + limiterCost(u));
      const key = `${zone ?? ''}\u0000${r.text ?? ''}`;
      const g = groups.get(key);
      if (g !== undefined) groups.set(key, g + 1);
      else if (groups.size < MAX_GROUPS) groups.set(key, 1);
      else overflowGroups++;
      if (first.length < SHOWN_RECIPIENTS) first.push({ line: r.lineNo, dst: r.dst!, text: r.text, units: u, encoding: r.nonGsm ? 'UCS-2' : 'GSM' });
    }
  }
  // Senders are dealt recipients round-robin; each sender's share of a group goes out in batch_size chunks.
  const senders = job.senders.length;
  let batches = overflowGroups;
  for (const n of groups.values()) batches += Math.min(n, senders) * Math.ceil(Math.ceil(n / senders) / job.batch_size);
  // Senders' limiters count units or messages (rate_counts); account_rate counts messages.
  const cost = [...costByZone.values()].reduce((a, b) => a + b, 0);
  const seconds = Math.max(cost / (senders * job.rate), job.account_rate ? valid / job.account_rate : 0);
  const rate = seconds > 0 ? cost / seconds : senders * job.rate;
  const window = sendWindowOf(job);
  const finish = earliestFinish(costByZone, rate, startMs, window);
  return {
    campaign: job.name, rows, valid, invalid: reasons.invalid.count, duplicate: reasons.duplicate.count,
    skipped: reasons.landline.count + reasons.outside_window.count, units, senders, batches, batchesUpperBound: overflowGroups > 0,
    estimatedSeconds: Math.ceil(seconds), countries: countries.sorted(), types: types.sorted(), landlines: types.counts.get('fixed_line') ?? 0,
    problems, suppression: o.suppression?.summary ?? null, reasons,
    ucs2: {
      recipients: ucs2,
      characters: Object.entries(chars.sorted()).map(([char, n]) => ({ char, code: codePoint(char), recipients: n })),
    },
    gsmReplace: { enabled: job.gsm_replace === true, recipientsChanged: changed, unitsBefore, unitsAfter: units },
    cost: usedCard || usedPrice || o.rateCard
      ? { total: round(money), source: usedCard && usedPrice ? 'rate card and price_per_unit' : usedCard || o.rateCard ? 'rate card' : 'price_per_unit', unpriced: unpriced.sorted() }
      : null,
    window: window ? {
      description: describeWindow(window),
      timezone: window.timezone,
      zones: Object.entries(zones.sorted()).map(([zone, n]) => {
        const next = nextInterval(window, zone.split(' '), startMs);
        return { zone, recipients: n, known: !zone.includes(' '), opensAt: next ? new Date(Math.max(next.opensAt, startMs)).toISOString() : null };
      }),
      unknownZone,
    } : null,
    startAt: new Date(startMs).toISOString(),
    earliestFinish: finish === undefined ? null : new Date(finish).toISOString(),
    firstRecipients: first,
  };
}

function codePoint(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

function round(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}
