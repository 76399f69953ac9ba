/** The campaign summary: counts per state, cost so far and to come, an ETA; as text or JSON. */
import type { Db } from '../ledger/db.js';
import type { CampaignRow } from '../ledger/campaigns.js';
import { ambiguousBatches, costSummary, statusCounts, type AmbiguousBatchInfo } from '../ledger/reports.js';
import { uuidCountMismatches, type UuidCountMismatch } from '../ledger/unaccounted.js';

export const STATUS_ORDER = ['delivered', 'sent', 'submitted', 'undelivered', 'failed', 'expired', 'rejected', 'pending', 'sending', 'invalid', 'duplicate', 'skipped'] as const;

export interface Summary {
  campaign: string;
  state: string;
  rows: number;
  counts: Record<string, number>;
  cost: { spent: number; estimatedRemaining: number | null; currency: 'USD' };
  /** Seconds until every pending message is sent, at the job's rates; null when nothing is pending. */
  etaSeconds: number | null;
  ambiguous: AmbiguousBatchInfo[];
  /** Batches whose 202 held a different number of message_uuids than of numbers it accepted. */
  uuidCountMismatches: UuidCountMismatch[];
}

export async function summarize(db: Db, campaign: CampaignRow): Promise<Summary> {
  const [counts, cost, ambiguous, mismatches] = await Promise.all([statusCounts(db, campaign.id), costSummary(db, campaign.id),
    ambiguousBatches(db, campaign.id), uuidCountMismatches(db, campaign.id)]);
  const byStatus = Object.fromEntries(counts.map((c) => [c.status, c.count]));
  const pricePerUnit = cost.pricedUnits > 0 ? Number(cost.pricedAmount) / cost.pricedUnits : null;
  const rate = Number(campaign.job['rate'] ?? 1) * campaign.senders.length;
  return {
    campaign: campaign.name,
    state: campaign.state,
    rows: campaign.total_rows,
    counts: byStatus,
    cost: {
      spent: round5(Number(cost.spent)),
      estimatedRemaining: pricePerUnit === null ? null : round5(pricePerUnit * cost.unsentUnits),
      currency: 'USD',
    },
    etaSeconds: cost.unsentUnits > 0 ? Math.ceil(cost.unsentUnits / rate) : null,
    ambiguous,
    uuidCountMismatches: mismatches,
  };
}

export function formatSummary(s: Summary): string {
  const lines = [`campaign ${s.campaign}: ${s.state}, ${s.rows} rows`];
  const known = new Set<string>(STATUS_ORDER);
  const statuses = [...STATUS_ORDER.filter((k) => s.counts[k]), ...Object.keys(s.counts).filter((k) => !known.has(k))];
  const width = Math.max(...statuses.map((k) => k.length), 8);
  for (const k of statuses) lines.push(`  ${k.padEnd(width)}  ${String(s.counts[k]).padStart(7)}  ${describe(k)}`);
  lines.push(`  cost so far: $${s.cost.spent.toFixed(5)}` +
    (s.cost.estimatedRemaining !== null && s.cost.estimatedRemaining > 0 ? `, about $${s.cost.estimatedRemaining.toFixed(5)} to come` : ''));
  if (s.etaSeconds !== null) lines.push(`  still to send: about ${formatDuration(s.etaSeconds)} at the job's rates`);
  for (const m of s.uuidCountMismatches.slice(0, MAX_LISTED)) {
    lines.push(`  batch ${m.batchId}: Plivo's 202 held ${m.uuids} message_uuid(s) for ${m.numbers} number(s)` +
      (m.unaccounted > 0 ? `; ${m.unaccounted} recipient(s) being looked up in Plivo's records` : '') +
      (m.failed > 0 ? `; ${m.failed} failed: no record of a message to them` : ''));
  }
  if (s.uuidCountMismatches.length > MAX_LISTED) lines.push(`  and ${s.uuidCountMismatches.length - MAX_LISTED} more such batches`);
  if (s.ambiguous.length > 0) {
    lines.push(`  ${s.ambiguous.length} batch(es) awaiting reconciliation with Plivo's records (never resent before that):`);
    for (const b of s.ambiguous.slice(0, MAX_LISTED)) {
      lines.push(`    batch ${b.id} from ${b.sender}: ${b.size} recipient${b.size === 1 ? '' : 's'}, ${b.status === 'in_flight' ? 'in flight' : 'ambiguous'} ` +
        `since ${b.since.toISOString()} (${b.last_error ?? ''})`);
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
  delivered: 'delivered (receipt from the carrier)',
  sent: 'handed to the carrier; no receipt yet (or none before the cut-off)',
  submitted: 'accepted by Plivo, waiting in its queue',
  undelivered: 'the carrier could not deliver',
  failed: 'failed (see error_code / reason in the report)',
  expired: 'never sent: still queued at Plivo, or unknown to it, past its message_expiry (reason in the report)',
  rejected: 'rejected by Plivo as an invalid number',
  pending: 'not sent yet',
  sending: 'request in flight or being reconciled',
  invalid: 'not sent: invalid row (reason in the report)',
  duplicate: 'not sent: same number as an earlier row',
  skipped: 'not sent: a landline, skipped by the job\'s "landlines": "skip"',
};

function describe(status: string): string {
  return DESCRIPTIONS[status] ?? '';
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

function round5(n: number): number {
  return Math.round(n * 1e5) / 1e5;
}
