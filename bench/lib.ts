/**
 * The benchmark harness: what every benchmark shares, and nothing specific to one.
 *
 * A benchmark is one file in bench/ that exports `benchmark: Benchmark`; bench/run.ts finds it by that
 * export (so adding bench/tracking.ts needs no other change). It returns a `Section`: figures with their
 * targets, the command that reproduces them, and why a missed target is missed. The runner prints each
 * section as a table and writes it into BENCHMARKS.md between its own markers, leaving the other
 * sections as they were.
 */
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';

export interface BenchContext {
  /** Small sizes (CI): the suite must finish in a few minutes and show that nothing crashes. */
  short: boolean;
  /** Repetitions of each measured run; each figure is the median. */
  runs: number;
  /** Admin connection to the Postgres the ledgers are created on (one new database per run). */
  postgresUrl: string;
  /** A second smsrun build (`--before <dir>`) measured beside this one, where a benchmark supports it. */
  before?: Build | undefined;
  log(message: string): void;
}

/** An smsrun build to measure: this checkout's, or the previous design's (`--before <dir>`). */
export interface Build {
  /** e.g. 'this commit' or 'previous design (60448ec)' */
  label: string;
  /** Its bin/smsrun.js. */
  bin: string;
  /** Short commit hash of its checkout. */
  commit: string;
}

export interface Target {
  op: '<=' | '<' | '>=' | '>' | '=';
  value: number;
}

export interface Figure {
  label: string;
  /** The median over the runs (NaN when it could not be measured). */
  value: number;
  unit: string;
  /** Every run's value, to show the spread. */
  samples?: number[];
  target?: Target;
  /** Digits after the point in the table. @default 2 */
  digits?: number;
  /**
   * A property that must always hold is reported as the worst run, not the median: 'max' when more is
   * worse (violations, 429s), 'min' when less is worse. @default undefined (the median)
   */
  worst?: 'max' | 'min';
  /** The same figure measured on the previous design (`--before`), when it was. */
  before?: { value: number; samples: number[] } | undefined;
}

export interface Section {
  id: string;
  title: string;
  /** What is measured and how, in Markdown. */
  what: string;
  command: string;
  figures: Figure[];
  /** Markdown: where a target is missed, why, and what would fix it; other observations. */
  notes: string;
  /** The previous design's label when figures carry a `before` column. */
  beforeLabel?: string | undefined;
}

export interface Benchmark {
  id: string;
  title: string;
  /** Position in the suite and in BENCHMARKS.md. */
  order: number;
  run(ctx: BenchContext): Promise<Section>;
}

export function median(xs: readonly number[]): number {
  const sorted = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs `fn` `n` times in a row (never in parallel: they would compete for the 2 cores). */
export async function repeat<T>(n: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < n; i++) results.push(await fn(i));
  return results;
}

/**
 * `n` runs of `fn` on this build and, with `--before`, as many on the previous design, interleaved (this,
 * before, this, before…) so that a change in the machine's load falls on both alike.
 */
export async function repeatBuilds<T>(ctx: BenchContext, thisBuild: Build, fn: (build: Build, i: number) => Promise<T>): Promise<{ now: T[]; before: T[] | undefined }> {
  const now: T[] = [];
  const before: T[] | undefined = ctx.before ? [] : undefined;
  for (let i = 0; i < ctx.runs; i++) {
    now.push(await fn(thisBuild, i));
    if (ctx.before && before) before.push(await fn(ctx.before, i));
  }
  return { now, before };
}

/** The median, or with `worst` the worst of the samples. */
function aggregate(samples: readonly number[], worst: Figure['worst']): number {
  if (!worst) return median(samples);
  const finite = samples.filter((x) => Number.isFinite(x));
  if (finite.length < samples.length || finite.length === 0) return NaN;
  return worst === 'max' ? Math.max(...finite) : Math.min(...finite);
}

/** A figure whose value is the median of `pick` over the runs (the worst run with `extra.worst`). */
export function figure<T>(runs: readonly T[], label: string, unit: string, pick: (r: T) => number, extra: Partial<Figure> = {}): Figure {
  const samples = runs.map(pick);
  const worstLabel = extra.worst ? `${label} (worst run)` : label;
  return { label: worstLabel, unit, value: aggregate(samples, extra.worst), samples, ...extra };
}

/** `figure` over this build's runs, with the previous design's runs (when measured) beside it. */
export function paired<T>(runs: readonly T[], beforeRuns: readonly T[] | undefined, label: string, unit: string, pick: (r: T) => number, extra: Partial<Figure> = {}): Figure {
  const f = figure(runs, label, unit, pick, extra);
  if (!beforeRuns || beforeRuns.length === 0) return f;
  const samples = beforeRuns.map(pick);
  return { ...f, before: { value: aggregate(samples, extra.worst), samples } };
}

export function met(f: Figure): boolean | undefined {
  if (!f.target) return undefined;
  const { op, value } = f.target;
  const v = f.value;
  if (!Number.isFinite(v)) return false;
  return op === '<=' ? v <= value : op === '<' ? v < value : op === '>=' ? v >= value : op === '>' ? v > value : v === value;
}

function fmt(v: number, digits: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }).replace(/,/g, ' ');
}

function valueCell(value: number, samples: readonly number[] | undefined, unit: string, d: number): string {
  const spread = samples && samples.length > 1 ? ` (${samples.map((s) => fmt(s, d)).join(', ')})` : '';
  return `${fmt(value, d)} ${unit}`.trim() + spread;
}

export function figureRows(figures: readonly Figure[], withBefore = false): string[][] {
  return figures.map((f) => {
    const d = f.digits ?? 2;
    const ok = met(f);
    const before = f.before ? valueCell(f.before.value, f.before.samples, f.unit, d) : '';
    return [
      f.label,
      valueCell(f.value, f.samples, f.unit, d),
      ...(withBefore ? [before] : []),
      f.target ? `${f.target.op} ${fmt(f.target.value, d)} ${f.unit}`.trim() : '',
      ok === undefined ? '' : ok ? 'yes' : '**no**',
    ];
  });
}

/** A fixed-width table for the terminal. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

/** The table's header; with a previous design measured, its column comes after this build's. */
function figureHeader(s: Section): string[] {
  return s.beforeLabel
    ? ['figure', 'this commit (median; runs)', `${s.beforeLabel} (median; runs)`, 'target (this commit)', 'met?']
    : ['figure', 'value (median; runs)', 'target', 'met?'];
}

export function printSection(s: Section): string {
  return `\n== ${s.title}\n${textTable(figureHeader(s), figureRows(s.figures, s.beforeLabel !== undefined))}\n`;
}

export interface MachineFacts {
  cpu: string;
  cores: number;
  ramGiB: number;
  os: string;
  node: string;
  postgres: string;
  pglite: string;
  date: string;
  commit: string;
}

export async function machineFacts(postgresUrl: string): Promise<MachineFacts> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const pglite = JSON.parse(await readFile(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8')) as { version: string };
  return {
    cpu: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    ramGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${/PRETTY_NAME="([^"]+)"/.exec(osRelease)?.[1] ?? os.type()} (kernel ${os.release()})`,
    node: process.version,
    postgres: tryRun('psql', [postgresUrl, '-Atc', 'SHOW server_version']) ?? 'unreachable',
    pglite: pglite.version,
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    commit: (tryRun('git', ['rev-parse', '--short', 'HEAD']) ?? 'unknown') +
      // A figure belongs to a commit only if the build was that commit (BENCHMARKS.md itself aside).
      (tryRun('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!BENCHMARKS.md']) ? ' (with uncommitted changes)' : ''),
  };
}

function tryRun(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

export function describeMachine(m: MachineFacts): string {
  return `${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB RAM; ${m.os}; Node ${m.node}; PostgreSQL ${m.postgres}; PGlite ${m.pglite}`;
}

export function sectionMarkdown(s: Section, m: MachineFacts, ctx: Pick<BenchContext, 'short' | 'runs'>): string {
  return [
    `## ${s.title}`,
    '',
    s.what.trim(),
    '',
    `Command: \`${s.command}\``,
    '',
    `Measured ${m.date} at commit ${m.commit} (${ctx.short ? 'short mode' : 'full mode'}, median of ${ctx.runs} run${ctx.runs === 1 ? '' : 's'}; ` +
      `the runs themselves in parentheses; a property that must always hold is the worst run). Machine: ${describeMachine(m)}.` +
      (s.beforeLabel ? ` Side by side in the same run with the ${s.beforeLabel}.` : '') +
      // Other processes share this machine; the 1, 5 and 15 minute load averages say how much.
      ` Load average when the section was written: ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}.`,
    '',
    markdownTable(figureHeader(s), figureRows(s.figures, s.beforeLabel !== undefined)),
    '',
    s.notes.trim(),
  ].join('\n');
}

const start = (id: string) => `<!-- bench:${id}:start -->`;
const end = (id: string) => `<!-- bench:${id}:end -->`;

/**
 * Replaces the section between `id`'s markers in `file`, or inserts it before the first section with a
 * higher `order` (sections carry their order in the start marker's neighbour comment), else at the end.
 */
export async function writeSection(file: string, id: string, order: number, markdown: string): Promise<void> {
  const text = await readFile(file, 'utf8').catch(() => '# smsrun benchmarks\n');
  const block = `${start(id)}\n<!-- order:${order} -->\n${markdown.trim()}\n${end(id)}`;
  const from = text.indexOf(start(id));
  const to = text.indexOf(end(id));
  if (from >= 0 && to > from) {
    await writeFile(file, text.slice(0, from) + block + text.slice(to + end(id).length));
    return;
  }
  const later = [...text.matchAll(/<!-- bench:([a-z0-9-]+):start -->\n<!-- order:(\d+) -->/g)].find((mm) => Number(mm[2]) > order);
  const at = later?.index ?? text.length;
  const before = text.slice(0, at).replace(/\n*$/, '\n\n');
  await writeFile(file, before + block + '\n\n' + text.slice(at).replace(/^\n+/, ''));
}
