/**
 * The HTML report: one self-contained page (styles and SVG charts inline, no script, a Content-Security-Policy
 * that forbids every fetch), readable in light and dark mode and printable. Every value from the ledger or
 * the user's CSV goes through escapeHtml.
 */
import { errorCodeInfo } from '../../plivo/error-codes.js';
import { reasonFor } from '../columns.js';
import { maskNumber, maskReason } from '../mask.js';
import { describeStatus, formatDuration, percent, STATUS_ORDER } from '../summary.js';
import { formatCount, latencyChart, meter, outcomeBar, progressChart, senderChart, statusClass } from './charts.js';
import { ATTENTION_ROWS, deliveryRate, LATENCY_EDGES, type AttentionGroup, type ReportData } from './data.js';
import { escapeHtml as esc } from './escape.js';
import { STYLE } from './style.js';

export function renderReport(d: ReportData): string {
  const name = d.campaign.name;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="smsrun">
<title>${esc(`smsrun report: ${name}`)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${header(d)}
${tiles(d)}
${outcomes(d)}
${overTime(d)}
${latency(d)}
${errors(d)}
${senders(d)}
${attention(d)}
<footer>
  <p>Made by smsrun from its ledger on ${esc(utc(d.generatedAt))}. Times are UTC. This page holds totals, and at most
  ${ATTENTION_ROWS} rows per group of rows that need attention; <code>smsrun export ${esc(name)}</code> lists every row.${d.mask ? ' Destination numbers are masked.' : ''}</p>
</footer>
</main>
</body>
</html>
`;
}

function header(d: ReportData): string {
  const c = d.campaign;
  const s = d.summary;
  const live = c.state !== 'done'
    ? `<p class="warn">This campaign is still ${c.state === 'sending' ? 'sending' : 'being tracked'}: these are its figures as of ${esc(utc(d.generatedAt))}.</p>` : '';
  const ambiguous = s.ambiguous.length > 0
    ? `<p class="warn">${s.ambiguous.length} batch${s.ambiguous.length === 1 ? ' is' : 'es are'} awaiting reconciliation with Plivo's records; ` +
      `their recipients are listed below and will never be texted twice. <code>smsrun status ${esc(c.name)}</code> says what to do.</p>` : '';
  const senders = c.senders.length === 1 ? `sender ${esc(c.senders[0])}` : `${c.senders.length} senders`;
  return `<header>
<h1>${esc(c.name)}</h1>
<p class="muted">Delivery report: ${esc(c.state)}, ${formatCount(c.total_rows)} rows, ${senders}, created ${esc(utc(c.created_at))}` +
    `${c.finished_at ? `, finished ${esc(utc(c.finished_at))}` : ''}.</p>
${live}${ambiguous}</header>`;
}

function tile(metric: string, value: number, shown: string, label: string, sub = ''): string {
  return `<div class="tile" data-metric="${esc(metric)}" data-value="${esc(value)}"><div class="label">${esc(label)}</div>` +
    `<div class="value">${esc(shown)}</div>${sub ? `<div class="sub">${sub}</div>` : ''}</div>`;
}

function tiles(d: ReportData): string {
  const s = d.summary;
  const count = (...statuses: string[]) => statuses.reduce((n, k) => n + (s.counts[k] ?? 0), 0);
  const reached = new Set(['delivered', 'sent', 'submitted', 'undelivered', 'failed', 'rejected']);
  const notSent = Object.entries(s.counts).filter(([k]) => !reached.has(k)).reduce((n, [, v]) => n + v, 0);
  const dur = s.duration;
  const efficiency = dur.sendingSeconds && dur.fastestSeconds ? ` (${Math.round((dur.fastestSeconds / dur.sendingSeconds) * 100)}% of that pace)` : '';
  return `<div class="tiles">
${tile('rows', d.campaign.total_rows, formatCount(d.campaign.total_rows), 'Rows')}
${tile('delivered', s.delivery.delivered, formatCount(s.delivery.delivered), 'Delivered',
    `of ${formatCount(s.delivery.accepted)} accepted by Plivo`)}
${tile('delivery-rate', s.delivery.rate ?? 0, s.delivery.rate === null ? 'none yet' : percent(s.delivery.rate), 'Delivery rate',
    s.delivery.open > 0 ? `${formatCount(s.delivery.open)} still without an outcome` : 'delivered ÷ accepted')}
${tile('not-delivered', count('undelivered', 'failed', 'rejected'), formatCount(count('undelivered', 'failed', 'rejected')), 'Not delivered',
    'undelivered, failed or rejected')}
${tile('not-sent', notSent, formatCount(notSent), 'Not sent', 'invalid, duplicate, or not sent yet')}
${tile('cost', s.cost.spent, `$${s.cost.spent.toFixed(2)}`, 'Cost', `${formatCount(s.units)} units, $${s.cost.spent.toFixed(5)}` +
    (s.cost.estimatedRemaining ? `; about $${s.cost.estimatedRemaining.toFixed(5)} to come` : ''))}
${tile('sending-seconds', dur.sendingSeconds ?? 0, dur.sendingSeconds === null ? 'not started' : formatDuration(dur.sendingSeconds), 'Sending took',
    dur.fastestSeconds === null ? '' : `the job's rates allow ${esc(formatDuration(dur.fastestSeconds))} at best${efficiency}` +
      (dur.runs > 1 ? `; ${dur.runs} runs, pauses included` : ''))}
</div>`;
}

/** Every status with a count, known ones in their usual order, any other after them. */
function statusesOf(counts: Record<string, number>): string[] {
  const known = new Set<string>(STATUS_ORDER);
  return [...STATUS_ORDER.filter((k) => counts[k]), ...Object.keys(counts).filter((k) => !known.has(k) && counts[k]).sort()];
}

function outcomes(d: ReportData): string {
  const counts = d.summary.counts;
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const statuses = statusesOf(counts);
  const rows = statuses.map((k) => `<tr data-status="${esc(k)}"><td><span class="swatch status-${statusClass(k)}"></span> ${esc(k)}</td>` +
    `<td class="num" data-value="${counts[k]}">${formatCount(counts[k]!)}</td><td class="num">${total ? ((counts[k]! / total) * 100).toFixed(1) : '0'}%</td>` +
    `<td>${esc(describeStatus(k))}</td></tr>`).join('\n');
  return `<section id="outcomes">
<h2>Outcomes</h2>
${total > 0 ? outcomeBar(statuses.map((k) => ({ status: k, count: counts[k]!, label: k }))) : ''}
<table>
<thead><tr><th>status</th><th class="num">rows</th><th class="num">share</th><th>meaning</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</section>`;
}

function overTime(d: ReportData): string {
  const s = d.series;
  if (!s) return `<section id="over-time"><h2>Over time</h2><p class="muted">Nothing has been accepted by Plivo yet.</p></section>`;
  const yMax = Math.max(...s.senders.flatMap((x) => [...x.accepted, ...x.delivered]));
  const legend = `<ul class="legend"><li><span class="swatch accepted"></span> accepted by Plivo</li><li><span class="swatch delivered"></span> delivered</li></ul>`;
  const perSender = s.senders.map((x) => `<div class="sender"><h3>${esc(x.label)}: ${formatCount(sum(x.accepted))} accepted, ${formatCount(sum(x.delivered))} delivered</h3>` +
    senderChart(x.label, x.accepted, x.delivered, s.bucketSeconds, yMax) + '</div>').join('\n');
  return `<section id="over-time">
<h2>Over time</h2>
<p class="note">Messages accepted by Plivo (at the time their request left) and delivered (at the time of the receipt), in total since the first
request at ${esc(utc(s.start))}.</p>
${legend}
${progressChart({ accepted: s.total.accepted, delivered: s.total.delivered, bucketSeconds: s.bucketSeconds })}
<h3>Per sender, per ${esc(formatDuration(s.bucketSeconds))}</h3>
${perSender}
</section>`;
}

function latency(d: ReportData): string {
  const l = d.latency;
  if (l.delivered === 0) return `<section id="latency"><h2>Delivery latency</h2><p class="muted">No message has been delivered yet.</p></section>`;
  const p = (v: number | null) => (v === null ? 'n/a' : formatDuration(v));
  return `<section id="latency">
<h2>Delivery latency</h2>
<p>From Plivo accepting a message to its delivery receipt, for ${formatCount(l.delivered)} delivered messages: half within
<strong data-metric="latency-p50">${esc(p(l.p50))}</strong>, 90% within <strong>${esc(p(l.p90))}</strong>, 99% within <strong>${esc(p(l.p99))}</strong>.</p>
${latencyChart(LATENCY_EDGES, l.counts)}
<p class="note">On Plivo's clock where it gave both times, else on smsrun's (when the answer was recorded and when the receipt was seen).</p>
</section>`;
}

function errors(d: ReportData): string {
  const errs = d.summary.errors;
  const rejected = d.summary.counts['rejected'] ?? 0;
  if (errs.length === 0 && d.refusals.length === 0 && rejected === 0) {
    return `<section id="errors"><h2>Error codes</h2><p class="muted">No message came back with an error code.</p></section>`;
  }
  const total = errs.reduce((a, e) => a + e.count, 0);
  const rows = errs.map((e) => {
    const info = errorCodeInfo(e.code);
    return `<tr data-code="${esc(e.code)}"><td class="num">${esc(e.code)}</td><td>${esc(info?.title ?? 'Unlisted code')}<br><span class="note">${esc(e.meaning ?? '')}</span></td>` +
      `<td>${esc(e.state)}</td><td class="num" data-value="${e.count}">${formatCount(e.count)}</td>` +
      `<td>${meter(total ? e.count / total : 0, `${((e.count / Math.max(1, total)) * 100).toFixed(1)}% of the error codes`)}</td>` +
      `<td>${info?.retryLater ? 'may work later' : ''}</td></tr>`;
  }).join('\n');
  const refusals = d.refusals.length === 0 ? '' : `<h3>Requests Plivo refused (no message was created)</h3>
<table><thead><tr><th>reason</th><th class="num">rows</th></tr></thead><tbody>
${d.refusals.map((r) => `<tr><td class="reason">${esc(d.mask ? maskReason(r.reason, null) : r.reason)}</td><td class="num">${formatCount(r.count)}</td></tr>`).join('\n')}
</tbody></table>`;
  const retryable = errs.some((e) => errorCodeInfo(e.code)?.retryLater);
  return `<section id="errors">
<h2>Error codes</h2>
${errs.length === 0 ? '<p class="muted">No message came back with an error code.</p>' : `<table>
<thead><tr><th class="num">code</th><th>meaning</th><th>state</th><th class="num">messages</th><th></th><th>resend</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`}
${rejected > 0 ? `<p>${formatCount(rejected)} number${rejected === 1 ? ' was' : 's were'} rejected by Plivo as invalid (<code>invalid_number</code> in its answer): listed below.</p>` : ''}
${refusals}
${retryable ? `<p class="note">To send again to the rows that failed or were not delivered: <code>smsrun export ${esc(d.campaign.name)} --only failed,undelivered --out retry.csv</code>,
then use <code>retry.csv</code> as the recipients of a new campaign (same <code>dst_column</code> and text).</p>` : ''}
</section>`;
}

function senders(d: ReportData): string {
  if (d.senders.length === 0) return '';
  const rows = d.senders.map((s, i) => {
    const rate = deliveryRate(s);
    return `<tr data-sender="${esc(s.sender)}"><td class="num">${i + 1}</td><td>${esc(s.sender)}</td>` +
      `<td class="rate">${rate < 0 ? '<span class="muted">nothing accepted</span>' : `${meter(rate, `${percent(rate)} delivered`)}${esc(percent(rate))}`}</td>` +
      `<td class="num">${formatCount(s.accepted)}</td><td class="num">${formatCount(s.delivered)}</td>` +
      `<td class="num">${formatCount(s.undelivered + s.failed + s.rejected)}</td><td class="num">${formatCount(s.open + s.sent)}</td>` +
      `<td class="num">${formatCount(s.unsent)}</td><td class="num">${formatCount(s.units)}</td><td class="num">$${Number(s.amount).toFixed(5)}</td></tr>`;
  }).join('\n');
  return `<section id="senders">
<h2>Senders, by delivery rate</h2>
<table>
<thead><tr><th class="num">#</th><th>sender</th><th>delivery rate</th><th class="num">accepted</th><th class="num">delivered</th>
<th class="num">not delivered</th><th class="num">no receipt</th><th class="num">not sent</th><th class="num">units</th><th class="num">cost</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<p class="note">Delivery rate: delivered ÷ accepted by Plivo. "No receipt": sent, with no delivery receipt (yet, or before the cut-off).</p>
</section>`;
}

const GROUP_TITLES: Record<string, string> = {
  sending: 'In an unsettled request',
  pending: 'Not sent yet',
  failed: 'Refused by Plivo',
  rejected: 'Rejected by Plivo as invalid numbers',
  invalid: 'Invalid rows, never sent',
  duplicate: 'Duplicates, sent once under an earlier row',
};

function attention(d: ReportData): string {
  if (d.attention.length === 0) {
    return `<section id="attention"><h2>Rows that need attention</h2><p class="muted">None: every row was sent and Plivo accepted it.</p></section>`;
  }
  return `<section id="attention">
<h2>Rows that need attention</h2>
${d.attention.map((g) => attentionGroup(d, g)).join('\n')}
</section>`;
}

function attentionGroup(d: ReportData, g: AttentionGroup): string {
  const title = GROUP_TITLES[g.status] ?? `Status ${g.status}`;
  const dst = (v: string | null) => (v !== null && d.mask ? maskNumber(v) : v ?? '');
  const rows = g.rows.map((r) => {
    const reason = reasonFor(r) ?? '';
    return `<tr><td class="num">${r.row}</td><td class="num">${r.line}</td><td>${esc(dst(r.dst))}</td>` +
      `<td class="reason">${esc(d.mask ? maskReason(reason, r.raw_dst) : reason)}</td></tr>`;
  }).join('\n');
  const more = g.count > g.rows.length
    ? `<p class="note">The first ${g.rows.length} of ${formatCount(g.count)}; all of them: <code>smsrun export ${esc(d.campaign.name)} --only ${esc(g.status)}</code></p>` : '';
  return `<div class="group" data-status="${esc(g.status)}">
<h3><span class="swatch status-${statusClass(g.status)}"></span> ${esc(title)}: ${formatCount(g.count)}</h3>
${describeStatus(g.status) ? `<p class="note">${esc(g.status)}: ${esc(describeStatus(g.status))}</p>` : ''}
<table>
<thead><tr><th class="num">row</th><th class="num">line</th><th>dst</th><th>reason</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
${more}
</div>`;
}

function utc(t: Date): string {
  return t.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
