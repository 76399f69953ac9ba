/**
 * The report's stylesheet, inlined into the page. One set of colour variables per scheme: light (default),
 * dark (prefers-color-scheme), and print (always the light one, colours kept, sections not split across
 * pages). System fonts only: nothing is fetched.
 */
const LIGHT = `
  --bg: #ffffff; --fg: #1b1f24; --muted: #5b6470; --card: #f5f7f9; --line: #dfe4ea; --grid: #e9edf1;
  --s-delivered: #168a53; --s-sent: #0a6fb0; --s-submitted: #7b8796; --s-queued: #7b8796; --s-undelivered: #d98e00;
  --s-failed: #cc3b27; --s-rejected: #a23b72; --s-pending: #9aa3ae; --s-sending: #b07f00; --s-invalid: #8c564b;
  --s-duplicate: #c3c9d1; --s-other: #6c5ce7; --accepted: #0a6fb0; --delivered: #168a53; --latency: #0a6fb0;
  --warn-bg: #fff6e0; --warn-fg: #6b4a00;`;

const DARK = `
  --bg: #0f1419; --fg: #e6e9ee; --muted: #9aa4b1; --card: #171d24; --line: #2b333d; --grid: #222a33;
  --s-delivered: #3ccf8e; --s-sent: #56b4e9; --s-submitted: #8b98a9; --s-queued: #8b98a9; --s-undelivered: #f0b429;
  --s-failed: #ff6b57; --s-rejected: #e27fb3; --s-pending: #6b7582; --s-sending: #e5c04a; --s-invalid: #c49c94;
  --s-duplicate: #4a525c; --s-other: #a29bfe; --accepted: #56b4e9; --delivered: #3ccf8e; --latency: #56b4e9;
  --warn-bg: #3a2f12; --warn-fg: #f3d98b;`;

/** Statuses with a colour of their own; any other is drawn in `other`. */
export const COLOURED_STATUSES = ['delivered', 'sent', 'submitted', 'queued', 'undelivered', 'failed', 'rejected', 'pending', 'sending', 'invalid', 'duplicate', 'other'];

export const STYLE = `
:root { color-scheme: light dark; ${LIGHT} }
@media (prefers-color-scheme: dark) { :root { ${DARK} } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 28px 20px 48px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.15rem; margin: 0 0 10px; }
h3 { font-size: 1rem; margin: 14px 0 4px; }
p { margin: 6px 0; }
.muted, .note { color: var(--muted); }
.note { font-size: 0.88rem; }
code { font: 0.88em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--card); padding: 1px 4px; border-radius: 4px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; margin: 16px 0; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(125px, 1fr)); gap: 10px; margin: 14px 0; }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.tile .label { color: var(--muted); font-size: 0.82rem; text-transform: uppercase; letter-spacing: 0.03em; }
.tile .value { font-size: 1.55rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.tile .sub { color: var(--muted); font-size: 0.85rem; }
.warn { background: var(--warn-bg); color: var(--warn-fg); border-radius: 8px; padding: 8px 12px; margin: 8px 0; }
table { width: 100%; border-collapse: collapse; font-size: 0.92rem; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 0.82rem; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.reason { word-break: break-word; }
td.rate { white-space: nowrap; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 8px 0 0; padding: 0; list-style: none; font-size: 0.9rem; }
.legend li { display: flex; align-items: center; gap: 6px; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 3px; background: var(--s-other); }
svg.chart { display: block; width: 100%; height: auto; overflow: visible; }
svg.chart text { fill: var(--muted); font-size: 11px; font-family: inherit; }
svg.chart .grid { stroke: var(--grid); stroke-width: 1; }
svg.chart .axis { stroke: var(--line); stroke-width: 1; }
svg.chart .line { fill: none; stroke-width: 2.2; stroke-linejoin: round; }
svg.chart .line.accepted { stroke: var(--accepted); }
svg.chart .line.delivered { stroke: var(--delivered); }
svg.chart .area.accepted { fill: var(--accepted); opacity: 0.14; }
svg.chart .bar.accepted { fill: var(--accepted); opacity: 0.55; }
svg.chart .bar.latency { fill: var(--latency); }
svg.chart .dot { fill: transparent; stroke: none; }
svg.chart[data-chart="outcomes"] { border-radius: 6px; }
.swatch.accepted { background: var(--accepted); }
.swatch.delivered { background: var(--delivered); }
svg.meter { width: 120px; height: 10px; vertical-align: middle; margin-right: 6px; }
svg.meter .track { fill: var(--grid); }
svg.meter .fill { fill: var(--delivered); }
.sender { margin: 10px 0 2px; }
.sender h3 { margin: 0; font-size: 0.92rem; font-weight: 600; }
${COLOURED_STATUSES.map((s) => `.status-${s} { fill: var(--s-${s}); } .swatch.status-${s} { background: var(--s-${s}); }`).join('\n')}
footer { color: var(--muted); font-size: 0.82rem; margin-top: 24px; }
@media print {
  :root { ${LIGHT} }
  body { background: #fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  section, .tile { break-inside: avoid; page-break-inside: avoid; }
  section { border-color: #ccc; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`;
