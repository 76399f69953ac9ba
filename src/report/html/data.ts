/**
 * Everything the HTML report shows, read from the ledger as aggregates (ledger/reports.ts) plus the first
 * ATTENTION_ROWS rows of each status that needs attention: a 1 000 000-row campaign reads a few hundred rows.
 */
import type { Queryable } from '../../ledger/db.js';
import type { CampaignRow } from '../../ledger/campaigns.js';
import {
  attentionCounts, attentionRows, deliveryLatency, refusalCounts, senderStats, sendSeries, seriesSpan,
  type LatencyStats, type ReportRow, type SenderStats,
} from '../../ledger/reports.js';
import { summarize, type Summary } from '../summary.js';

/** Rows listed per status that needs attention; the rest are counted, and `export --only` lists them all. */
export const ATTENTION_ROWS = 100;
/** Senders drawn one by one; the others are drawn together. */
export const MAX_SENDER_CHARTS = 8;
/** Upper edges of the latency buckets, in seconds (the last bucket is everything above). */
export const LATENCY_EDGES = [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600];
/** Bucket widths a time series may use, in seconds; the smallest that gives at most MAX_BUCKETS. */
const BUCKET_SECONDS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800];
const MAX_BUCKETS = 90;

export interface SenderSeries {
  /** A sender, or `other senders (N)` for those drawn together. */
  label: string;
  accepted: number[];
  delivered: number[];
}

export interface Series {
  start: Date;
  bucketSeconds: number;
  buckets: number;
  total: SenderSeries;
  senders: SenderSeries[];
}

export interface AttentionGroup {
  status: string;
  count: number;
  rows: ReportRow[];
}

export interface ReportData {
  campaign: Pick<CampaignRow, 'name' | 'state' | 'created_at' | 'finished_at' | 'senders' | 'job' | 'csv_file' | 'total_rows'>;
  summary: Summary;
  generatedAt: Date;
  series: Series | null;
  latency: LatencyStats;
  /** Best delivery rate first. */
  senders: SenderStats[];
  refusals: { reason: string; count: number }[];
  attention: AttentionGroup[];
  mask: boolean;
}

export async function gatherReport(db: Queryable, campaign: CampaignRow, opts: { mask: boolean; now?: Date }): Promise<ReportData> {
  const [summary, senders, latency, refusals, attention, span] = await Promise.all([
    summarize(db, campaign),
    senderStats(db, campaign.id),
    deliveryLatency(db, campaign.id, LATENCY_EDGES),
    refusalCounts(db, campaign.id, 10),
    attentionCounts(db, campaign.id),
    seriesSpan(db, campaign.id),
  ]);
  const groups = await Promise.all(sortAttention(attention).map(async (a) =>
    ({ status: a.status, count: a.count, rows: await attentionRows(db, campaign.id, a.status, ATTENTION_ROWS) })));
  return {
    campaign,
    summary,
    generatedAt: opts.now ?? new Date(),
    series: span.start && span.end ? await series(db, campaign.id, span.start, span.end) : null,
    latency,
    senders: [...senders].sort((a, b) => deliveryRate(b) - deliveryRate(a) || b.accepted - a.accepted || a.sender.localeCompare(b.sender)),
    refusals,
    attention: groups,
    mask: opts.mask,
  };
}

/** Delivered ÷ accepted; -1 before anything was accepted (ranked last). */
export function deliveryRate(s: Pick<SenderStats, 'accepted' | 'delivered'>): number {
  return s.accepted > 0 ? s.delivered / s.accepted : -1;
}

/** What most needs a person first: unsettled requests, unsent rows, refusals, then the never-sent kinds. */
const ATTENTION_ORDER = ['sending', 'pending', 'failed', 'rejected'];
const ATTENTION_LAST = ['invalid', 'duplicate'];

function sortAttention<T extends { status: string }>(groups: readonly T[]): T[] {
  const rank = (s: string) => {
    const first = ATTENTION_ORDER.indexOf(s);
    if (first >= 0) return first;
    const last = ATTENTION_LAST.indexOf(s);
    return last >= 0 ? 100 + last : 50; // a status this version does not know sits between the two
  };
  return [...groups].sort((a, b) => rank(a.status) - rank(b.status) || a.status.localeCompare(b.status));
}

export function bucketSecondsFor(spanSeconds: number): number {
  return BUCKET_SECONDS.find((b) => spanSeconds / b <= MAX_BUCKETS) ?? BUCKET_SECONDS.at(-1)!;
}

async function series(db: Queryable, campaignId: number, start: Date, end: Date): Promise<Series> {
  const bucketSeconds = bucketSecondsFor((end.getTime() - start.getTime()) / 1000);
  const points = await sendSeries(db, campaignId, start, bucketSeconds);
  const buckets = Math.max(1, ...points.map((p) => p.bucket + 1));
  const empty = (label: string): SenderSeries => ({ label, accepted: new Array<number>(buckets).fill(0), delivered: new Array<number>(buckets).fill(0) });
  const bySender = new Map<string, SenderSeries>();
  const total = empty('all senders');
  for (const p of points) {
    const s = bySender.get(p.sender) ?? bySender.set(p.sender, empty(p.sender)).get(p.sender)!;
    s[p.kind][p.bucket]! += p.count;
    total[p.kind][p.bucket]! += p.count;
  }
  const ranked = [...bySender.values()].sort((a, b) => sumOf(b.accepted) - sumOf(a.accepted) || a.label.localeCompare(b.label));
  const senders = ranked.length <= MAX_SENDER_CHARTS ? ranked : ranked.slice(0, MAX_SENDER_CHARTS - 1);
  if (ranked.length > MAX_SENDER_CHARTS) {
    const rest = ranked.slice(MAX_SENDER_CHARTS - 1);
    const other = empty(`${rest.length} other senders`);
    for (const s of rest) {
      s.accepted.forEach((n, i) => { other.accepted[i]! += n; });
      s.delivered.forEach((n, i) => { other.delivered[i]! += n; });
    }
    senders.push(other);
  }
  return { start, bucketSeconds, buckets, total, senders };
}

function sumOf(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
