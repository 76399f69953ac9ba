/**
 * The report's charts, as inline SVG strings: no script, no font or file to fetch, so the page works offline
 * and as an e-mail attachment. Colours come from CSS classes (style.ts), so the same SVG follows the light,
 * dark and print palettes. Every mark has a <title>: hovering shows its numbers.
 */
import { escapeHtml as esc } from './escape.js';
import { formatDuration } from '../summary.js';
import { COLOURED_STATUSES } from './style.js';

const W = 720;
const M = { left: 52, right: 14, top: 14, bottom: 30 };

/** Axis maximum and step: 1, 2 or 5 times a power of ten, about four steps; at least 1 (counts). */
export function niceScale(max: number, steps = 4): { max: number; step: number } {
  if (!(max > 0)) return { max: 1, step: 1 };
  const raw = max / steps;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag);
  return { max: Math.ceil(max / step) * step, step };
}

/** 45s, 2m, 1.5h: for axis labels. */
export function shortDuration(seconds: number): string {
  const [n, unit] = seconds < 60 ? [seconds, 's'] : seconds < 3600 ? [seconds / 60, 'm'] : [seconds / 3600, 'h'];
  return `${+n.toFixed(1)}${unit}`;
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function svg(chart: string, height: number, label: string, body: string): string {
  return `<svg class="chart" data-chart="${esc(chart)}" viewBox="0 0 ${W} ${height}" role="img" aria-label="${esc(label)}">` +
    `<title>${esc(label)}</title>${body}</svg>`;
}

function yAxis(height: number, scale: { max: number; step: number }, y: (v: number) => number): string {
  let out = '';
  for (let v = 0; v <= scale.max + 1e-9; v += scale.step) {
    const py = y(v).toFixed(1);
    out += `<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${py}" y2="${py}"/>` +
      `<text class="tick" x="${M.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${esc(shortCount(v))}</text>`;
  }
  return out + `<line class="axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${height - M.bottom}"/>`;
}

function shortCount(v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  return formatCount(v);
}

/** Time ticks along the x axis: about six, on whole bucket boundaries, labelled as time since the start. */
function timeAxis(height: number, buckets: number, bucketSeconds: number, x: (i: number) => number): string {
  const every = Math.max(1, Math.ceil(buckets / 6));
  let out = `<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${height - M.bottom}" y2="${height - M.bottom}"/>`;
  for (let i = 0; i <= buckets; i += every) {
    const px = x(i).toFixed(1);
    out += `<line class="axis" x1="${px}" x2="${px}" y1="${height - M.bottom}" y2="${height - M.bottom + 4}"/>` +
      `<text class="tick" x="${px}" y="${height - M.bottom + 16}" text-anchor="middle">${i === 0 ? '0' : `+${formatDuration(i * bucketSeconds)}`}</text>`;
  }
  return out;
}

function bucketName(i: number, bucketSeconds: number): string {
  return `${i === 0 ? '0' : `+${formatDuration(i * bucketSeconds)}`} to +${formatDuration((i + 1) * bucketSeconds)}`;
}

export interface Progress {
  accepted: readonly number[];
  delivered: readonly number[];
  bucketSeconds: number;
}

/** Cumulative messages accepted by Plivo and delivered, over time since the first request. */
export function progressChart(p: Progress): string {
  const height = 240;
  const n = p.accepted.length;
  const cumulative = (values: readonly number[]) => values.reduce<number[]>((acc, v) => [...acc, (acc.at(-1) ?? 0) + v], []);
  const accepted = cumulative(p.accepted);
  const delivered = cumulative(p.delivered);
  const scale = niceScale(Math.max(accepted.at(-1) ?? 0, delivered.at(-1) ?? 0));
  const x = (i: number) => M.left + (i / n) * (W - M.left - M.right);
  const y = (v: number) => height - M.bottom - (v / scale.max) * (height - M.top - M.bottom);
  const line = (values: number[]) => `M${x(0).toFixed(1)},${y(0).toFixed(1)}` + values.map((v, i) => `L${x(i + 1).toFixed(1)},${y(v).toFixed(1)}`).join('');
  const area = `${line(accepted)}L${x(n).toFixed(1)},${y(0).toFixed(1)}Z`;
  const dots = (values: number[], cls: string, what: string) => values.map((v, i) =>
    `<circle class="dot ${cls}" cx="${x(i + 1).toFixed(1)}" cy="${y(v).toFixed(1)}" r="6"><title>${esc(`${what} by +${formatDuration((i + 1) * p.bucketSeconds)}: ${formatCount(v)}`)}</title></circle>`).join('');
  return svg('progress', height, `Messages accepted by Plivo and delivered over time: ${formatCount(accepted.at(-1) ?? 0)} accepted, ${formatCount(delivered.at(-1) ?? 0)} delivered`,
    yAxis(height, scale, y) + timeAxis(height, n, p.bucketSeconds, x) +
    `<path class="series area accepted" d="${area}"/>` +
    `<path class="series line accepted" d="${line(accepted)}"/>` +
    `<path class="series line delivered" d="${line(delivered)}"/>` +
    dots(accepted, 'accepted', 'accepted') + dots(delivered, 'delivered', 'delivered'));
}

/**
 * One sender's messages per time bucket: accepted as bars, delivered as a line; `yMax` is shared by every
 * sender's chart so that their heights compare.
 */
export function senderChart(label: string, accepted: readonly number[], delivered: readonly number[], bucketSeconds: number, yMax: number): string {
  const height = 120;
  const n = accepted.length;
  const scale = niceScale(yMax, 2);
  const x = (i: number) => M.left + (i / n) * (W - M.left - M.right);
  const y = (v: number) => height - M.bottom - (v / scale.max) * (height - M.top - M.bottom);
  const barW = Math.max(0.5, (W - M.left - M.right) / n - 1);
  const bars = accepted.map((v, i) => v === 0 ? '' :
    `<rect class="series bar accepted" x="${(x(i) + 0.5).toFixed(1)}" y="${y(v).toFixed(1)}" width="${barW.toFixed(1)}" height="${(y(0) - y(v)).toFixed(1)}">` +
    `<title>${esc(`${label}, ${bucketName(i, bucketSeconds)}: ${formatCount(v)} accepted, ${formatCount(delivered[i] ?? 0)} delivered`)}</title></rect>`).join('');
  const mid = (i: number) => (x(i) + x(i + 1)) / 2;
  const line = delivered.map((v, i) => `${i === 0 ? 'M' : 'L'}${mid(i).toFixed(1)},${y(v).toFixed(1)}`).join('');
  return svg('sender', height, `${label}: messages accepted and delivered per ${formatDuration(bucketSeconds)}`,
    yAxis(height, scale, y) + timeAxis(height, n, bucketSeconds, x) + bars + `<path class="series line delivered" d="${line}"/>`);
}

/** Delivered messages per latency bucket, with the median and 90th and 99th percentiles named below. */
export function latencyChart(edges: readonly number[], counts: readonly number[]): string {
  const height = 220;
  const labels = counts.map((_, i) => (i === edges.length ? `> ${shortDuration(edges.at(-1)!)}` : `≤ ${shortDuration(edges[i]!)}`));
  const scale = niceScale(Math.max(...counts));
  const slot = (W - M.left - M.right) / counts.length;
  const y = (v: number) => height - M.bottom - (v / scale.max) * (height - M.top - M.bottom);
  const total = counts.reduce((a, b) => a + b, 0);
  const bars = counts.map((v, i) => {
    const x = M.left + i * slot;
    const share = total > 0 ? ` (${((v / total) * 100).toFixed(1)}%)` : '';
    return (v === 0 ? '' : `<rect class="series bar latency" x="${(x + 3).toFixed(1)}" y="${y(v).toFixed(1)}" width="${(slot - 6).toFixed(1)}" height="${(y(0) - y(v)).toFixed(1)}">` +
      `<title>${esc(`${labels[i]}: ${formatCount(v)} delivered${share}`)}</title></rect>`) +
      `<text class="tick" x="${(x + slot / 2).toFixed(1)}" y="${height - M.bottom + 16}" text-anchor="middle">${esc(labels[i]!)}</text>`;
  }).join('');
  return svg('latency', height, `Delivery latency of ${formatCount(total)} delivered messages`,
    yAxis(height, scale, y) + `<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${height - M.bottom}" y2="${height - M.bottom}"/>` + bars);
}

/** One bar split by outcome, widths proportional to counts; `cls` maps a status to its colour class. */
export function outcomeBar(parts: readonly { status: string; count: number; label: string }[]): string {
  const height = 36;
  const total = parts.reduce((a, p) => a + p.count, 0);
  let x = 0;
  const rects = parts.filter((p) => p.count > 0).map((p) => {
    const w = (p.count / total) * W;
    const rect = `<rect class="series seg status-${statusClass(p.status)}" x="${x.toFixed(2)}" y="0" width="${Math.max(w, 1).toFixed(2)}" height="${height}">` +
      `<title>${esc(`${p.label}: ${formatCount(p.count)} (${((p.count / total) * 100).toFixed(1)}%)`)}</title></rect>`;
    x += w;
    return rect;
  }).join('');
  return svg('outcomes', height, `Rows by outcome: ${parts.filter((p) => p.count > 0).map((p) => `${p.label} ${formatCount(p.count)}`).join(', ')}`, rects);
}

/** A small horizontal meter for a ratio (0..1) in a table cell. */
export function meter(ratio: number, label: string): string {
  const w = 120;
  return `<svg class="meter" viewBox="0 0 ${w} 10" role="img" aria-label="${esc(label)}"><title>${esc(label)}</title>` +
    `<rect class="track" x="0" y="0" width="${w}" height="10" rx="2"/>` +
    `<rect class="series fill" x="0" y="0" width="${(Math.max(0, Math.min(1, ratio)) * w).toFixed(1)}" height="10" rx="2"/></svg>`;
}

/** A status as a CSS class name: known ones have their colour, any other gets the neutral one. */
export function statusClass(status: string): string {
  return COLOURED_STATUSES.includes(status) ? status : 'other';
}
