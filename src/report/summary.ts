/**
 * The campaign summary: counts per state, delivery rate, cost and units, how long sending took against the
 * fastest the job's rates allow, the most frequent error codes, and anything ambiguous. As text (`status`,
 * the end of a run) or JSON (`status --json`); the HTML report shows the same figures.
 */
import type { Queryable } from '../ledger/db.js';
import type { CampaignRow } from '../ledger/campaigns.js';
import { ambiguousBatches, campaignTiming, type AmbiguousBatchInfo, type SenderStats } from '../ledger/reports.js';
import { campaignTally } from '../ledger/tallies.js';
import { errorMeaning } from '../plivo/error-codes.js';
import { ACCOUNT_REQUESTS } from '../send/account-limits.js';
import { uuidCountMismatches, type UuidCountMismatch } from '../ledger/unaccounted.js';

export const STATUS_ORDER = ['delivered', 'sent', 'submitted', 'undelivered', 'failed', 'expired', 'rejected', 'pending', 'sending', 'invalid', 'duplicate', 'skipped', 'suppressed', 'cancelled'] as const;

export interface Summary {
  campaign: string;
  state: string;
  rows: number;
  /** While the CSV is still loading (sql/009): rows in so far of about `expected`; sending may be under way. */
  loading?: { rows: number; expected: number | null };
  counts: Record<string, number>;
  delivery: {
    /** Messages Plivo accepted (with a message_uuid). */
    accepted: number;
    delivered: number;
    /** Accepted, outcome not known yet. */
    open: number;
    /** delivered / accepted, null before anything was accepted. */
    rate: number | null;
  };
  /** Units of the accepted messages (Plivo's count where known). */
  units: number;
  cost: { spent: number; estimatedRemaining: number | null; currency: 'USD' };
  duration: {
    firstRequestAt: Date | null;
    lastAcceptedAt: Date | null;
    /** From the first request to the last acceptance, pauses between runs included; null before any. */
    sendingSeconds: number | null;
    /** What the job's rates and senders allow at best for the requests made; null before any. */
    fastestSeconds: number | null;
    runs: number;
  };
  /** Seconds until every pending message is sent, at the job's rates; null when nothing is pending. */
  etaSeconds: number | null;
  errors: { code: string; meaning: string | null; state: string; count: number }[];
  ambiguous: AmbiguousBatchInfo[];
  /** Batches whose 202 held a different number of message_uuids than of numbers it accepted. */
  uuidCountMismatches: UuidCountMismatch[];
}

export async function summarize(db: Queryable, campaign: CampaignRow): Promise<Summary> {
  const [tally, ambiguous, timing, mismatches] = await Promise.all([
    campaignTally(db, campaign.id), ambiguousBatches(db, campaign.id), campaignTiming(db, campaign.id), uuidCountMismatches(db, campaign.id),
  ]);
  const { statuses: counts, cost, senders, errors, firstRequestAt } = tally;
  const byStatus = Object.fromEntries(counts.map((c) => [c.status, c.count]));
  // Not sent yet: pending, or in a request whose fate is unsettled.
  const unsentUnits = sum(counts.filter((c) => c.status === 'pending' || c.status === 'sending'), (c) => c.units);
  const pricePerUnit = cost.pricedUnits > 0 ? Number(cost.pricedAmount) / cost.pricedUnits : null;
  const rate = jobRate(campaign) * campaign.senders.length;
  const accepted = sum(senders, (s) => s.accepted);
  const delivered = sum(senders, (s) => s.delivered);
  const { lastAcceptedAt } = timing;
  return {
    campaign: campaign.name,
    state: campaign.state,
    rows: campaign.total_rows,
    ...(campaign.loading ? { loading: { rows: campaign.loaded_rows ?? 0, expected: campaign.expected_rows } } : {}),
    counts: byStatus,
    delivery: { accepted, delivered, open: sum(senders, (s) => s.open), rate: accepted > 0 ? delivered / accepted : null },
    units: sum(senders, (s) => s.units),
    cost: {
      spent: round5(Number(cost.spent)),
      estimatedRemaining: pricePerUnit === null ? null : round5(pricePerUnit * unsentUnits),
      currency: 'USD',
    },
    duration: {
      firstRequestAt,
      lastAcceptedAt,
      sendingSeconds: firstRequestAt && lastAcceptedAt ? Math.max(0, (lastAcceptedAt.getTime() - firstRequestAt.getTime()) / 1000) : null,
      fastestSeconds: fastestSending(campaign, senders),
      runs: timing.runs,
    },
    etaSeconds: unsentUnits > 0 ? Math.ceil(unsentUnits / rate) : null,
    errors: errors.map((e) => ({ ...e, meaning: errorMeaning(e.code) })),
    ambiguous,
    uuidCountMismatches: mismatches,
  };
}

function jobRate(campaign: Pick<CampaignRow, 'job'>): number {
  return Number(campaign.job['rate'] ?? 1);
}

/**
 * The shortest time the requests made could have taken, from the first request leaving to the last one
 * leaving: each sender paced at the job's `rate` (in units or messages, as `rate_counts` says), all of them
 * under `account_rate` if set, and one request per batch under the account's request limit (ACCOUNT_REQUESTS).
 * A sender's first request leaves at once and each next one cost / rate after the one before, so n requests
 * span the cost of all but the last: the cost of all but the largest is the bound (never more than the real
 * span). Likewise the account's first `burst` requests need no wait, nor does the first request under
 * `account_rate`. The sending time it is compared with ends at the last acceptance, a round trip later.
 */
export function fastestSending(campaign: Pick<CampaignRow, 'job'>, senders: readonly SenderStats[]): number | null {
  const requested = sum(senders, (s) => s.requested);
  if (requested === 0) return null;
  const byUnits = campaign.job['rate_counts'] !== 'messages';
  const perSender = Math.max(...senders.map((s) =>
    (byUnits ? s.requestedUnits - s.largestRequestUnits : s.requested - s.largestRequest) / jobRate(campaign)));
  const accountRate = Number(campaign.job['account_rate'] ?? 0);
  const largest = Math.max(...senders.map((s) => s.largestRequest));
  const requests = Math.max(0, sum(senders, (s) => s.requests) - ACCOUNT_REQUESTS.burst) / ACCOUNT_REQUESTS.rate;
  return Math.max(0, perSender, requests, accountRate > 0 ? (requested - largest) / accountRate : 0);
}

export function formatSummary(s: Summary): string {
  const lines = [`campaign ${s.campaign}: ${s.state}, ${s.rows} rows`];
  if (s.loading) lines.push(`  loading: ${s.loading.rows} of about ${s.loading.expected ?? '?'} rows`);
  const known = new Set<string>(STATUS_ORDER);
  const statuses = [...STATUS_ORDER.filter((k) => s.counts[k]), ...Object.keys(s.counts).filter((k) => !known.has(k))];
  const width = Math.max(...statuses.map((k) => k.length), 8);
  for (const k of statuses) lines.push(`  ${k.padEnd(width)}  ${String(s.counts[k]).padStart(7)}  ${describeStatus(k)}`.trimEnd());
  if (s.delivery.rate !== null) {
    lines.push(`  delivery rate: ${percent(s.delivery.rate)} of the ${s.delivery.accepted} messages Plivo accepted` +
      (s.delivery.open > 0 ? `, ${s.delivery.open} of them still without an outcome` : ''));
  }
  lines.push(`  cost so far: $${s.cost.spent.toFixed(5)}` + (s.units > 0 ? ` for ${s.units} unit${s.units === 1 ? '' : 's'}` : '') +
    (s.cost.estimatedRemaining !== null && s.cost.estimatedRemaining > 0 ? `, about $${s.cost.estimatedRemaining.toFixed(5)} to come` : ''));
  const d = s.duration;
  if (d.sendingSeconds !== null) {
    lines.push(`  sending took ${formatDuration(d.sendingSeconds)}, first request to last acceptance` +
      (d.runs > 1 ? ` over ${d.runs} runs` : '') +
      (d.fastestSeconds !== null ? `; the job's rates allow ${formatDuration(d.fastestSeconds)} at best` : ''));
  }
  if (s.etaSeconds !== null) lines.push(`  still to send: about ${formatDuration(s.etaSeconds)} at the job's rates`);
  for (const m of s.uuidCountMismatches.slice(0, MAX_LISTED)) {
    lines.push(`  batch ${m.batchId}: Plivo's 202 held ${m.uuids} message_uuid(s) for ${m.numbers} number(s)` +
      (m.unaccounted > 0 ? `; ${m.unaccounted} recipient(s) being looked up in Plivo's records` : '') +
      (m.failed > 0 ? `; ${m.failed} failed: no record of a message to them` : ''));
  }
  if (s.uuidCountMismatches.length > MAX_LISTED) lines.push(`  and ${s.uuidCountMismatches.length - MAX_LISTED} more such batches`);
  if (s.errors.length > 0) {
    lines.push('  error codes:');
    for (const e of s.errors.slice(0, MAX_LISTED)) lines.push(`    ${e.code.padStart(4)}  ${String(e.count).padStart(7)}  ${e.state}: ${e.meaning ?? ''}`.trimEnd());
    if (s.errors.length > MAX_LISTED) lines.push(`    and ${s.errors.length - MAX_LISTED} more (smsrun export --format html shows them all)`);
  }
  if (s.ambiguous.length > 0) {
    lines.push(`  ${s.ambiguous.length} batch(es) awaiting reconciliation with Plivo's records (never resent before that):`);
    for (const b of s.ambiguous.slice(0, MAX_LISTED)) {
      lines.push(`    batch ${b.id} from ${b.sender}: ${b.size} recipient${b.size === 1 ? '' : 's'}, ${b.status === 'in_flight' ? 'in flight' : 'ambiguous'} ` +
        `since ${b.since.toISOString()}${b.last_error ? `: ${b.last_error}` : ''}`);
    }
    if (s.ambiguous.length > MAX_LISTED) lines.push(`    and ${s.ambiguous.length - MAX_LISTED} more`);
    lines.push(...resolveHint(s.campaign, s.ambiguous.filter((b) => b.status === 'ambiguous').map((b) => b.id)));
  }
  return lines.join('\n');
}

const MAX_LISTED = 10;

/** The `smsrun resolve` lines for the ambiguous batches (in-flight ones belong to a run), last in the text. */
function resolveHint(campaign: string, ids: readonly number[]): string[] {
  if (ids.length === 0) return [];
  const which = ids.length <= MAX_LISTED ? ids.map((id) => `--batch ${id}`).join(' ') : '--all';
  return [
    `  'smsrun resume ${campaign}' looks them up in Plivo's records again. If it cannot (its List API failing), find`,
    "  them in Plivo's console and decide by hand ('smsrun resolve --help' explains the risks), keeping in each line",
    '  only the batches it applies to:',
    `    smsrun resolve ${campaign} ${which} --resend      # NOT accepted by Plivo: send again at the next resume`,
    `    smsrun resolve ${campaign} ${which} --mark-sent   # accepted by Plivo: record as sent, never text again`,
  ];
}

const DESCRIPTIONS: Record<string, string> = {
  delivered: 'delivered: receipt from the carrier',
  sent: 'handed to the carrier; no receipt yet, or none before the cut-off',
  submitted: 'accepted by Plivo, outcome not known yet',
  undelivered: 'the carrier could not deliver',
  failed: 'failed: see error_code or reason in the report',
  expired: 'never sent: still queued at Plivo, or unknown to it, past its message_expiry (reason in the report)',
  rejected: 'rejected by Plivo as an invalid number',
  pending: 'not sent yet',
  sending: 'request in flight or being reconciled',
  invalid: 'not sent: invalid row, reason in the report',
  duplicate: 'not sent: same number as an earlier row',
  skipped: 'not sent: a landline, skipped by the job\'s "landlines": "skip"',
  suppressed: 'not sent: on the suppression list (opted out); reason in the report',
  cancelled: 'not sent: the campaign was cancelled (smsrun cancel)',
};

/** One line on what a recipient status means; '' for a status this version does not describe. */
export function describeStatus(status: string): string {
  return DESCRIPTIONS[status] ?? '';
}

/** 97.3%; never rounded up to 100% (or down to 0%) unless it is exactly that. */
export function percent(ratio: number): string {
  const p = ratio * 100;
  if (p === 100 || p === 0) return `${p}%`;
  return `${Math.min(99.9, Math.max(0.1, Math.floor(p * 10) / 10)).toFixed(1)}%`;
}

export function formatDuration(seconds: number): string {
  if (seconds < 10) return `${Math.round(seconds * 10) / 10}s`;
  const s = Math.round(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
}

function sum<T>(items: readonly T[], pick: (t: T) => number): number {
  return items.reduce((n, t) => n + pick(t), 0);
}

function round5(n: number): number {
  return Math.round(n * 1e5) / 1e5;
}
