/**
 * Message templates.
 *
 *   Hi {{first_name}}, your code is {{ code }}.    inserts the CSV column as is
 *   Hi {{first_name|there}}                       uses "there" when the value is blank
 *   {{middle_name|}}                              an empty fallback: blank is allowed
 *
 * White space around the column name and the fallback is ignored. A column whose
 * value is blank (empty or white space only) and that has no fallback makes
 * render() refuse the row rather than send "Hi , ...". Text outside `{{ }}` is
 * copied verbatim, single braces and a stray `}}` included.
 */

export class TemplateSyntaxError extends Error {
  override readonly name = 'TemplateSyntaxError';
  constructor(
    message: string,
    /** 0-based offset of the offending `{{` in the source. */
    readonly position: number,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
  }
}

export type RenderResult = { ok: true; text: string } | { ok: false; reason: string };

export interface Template {
  readonly source: string;
  /** Every column referenced, once each, in order of first use. */
  readonly columns: readonly string[];
  render(row: Readonly<Record<string, string | undefined>>): RenderResult;
}

type Part = { literal: string } | { column: string; fallback: string | null };

const OPEN = '{{';
const CLOSE = '}}';

export function compileTemplate(source: string): Template {
  const parts = parse(source);
  const columns = [...new Set(parts.flatMap((p) => ('column' in p ? [p.column] : [])))];
  return {
    source,
    columns,
    render: (row) => render(parts, row),
  };
}

function parse(source: string): Part[] {
  const parts: Part[] = [];
  let at = 0;
  while (at < source.length) {
    const open = source.indexOf(OPEN, at);
    if (open === -1) {
      parts.push({ literal: source.slice(at) });
      break;
    }
    if (open > at) parts.push({ literal: source.slice(at, open) });
    const close = source.indexOf(CLOSE, open + OPEN.length);
    const inner = close === -1 ? null : source.slice(open + OPEN.length, close);
    // A second `{{` before the `}}` means the first one was never closed.
    if (inner === null || inner.includes(OPEN)) {
      throw syntaxError(source, open, `unclosed '{{'`, `close it with '}}', e.g. {{first_name}}`);
    }
    parts.push(placeholder(source, open, inner));
    at = close + CLOSE.length;
  }
  return parts;
}

function placeholder(source: string, open: number, inner: string): Part {
  const bar = inner.indexOf('|');
  const column = (bar === -1 ? inner : inner.slice(0, bar)).trim();
  const fallback = bar === -1 ? null : inner.slice(bar + 1).trim();
  if (column === '') {
    const what = inner.trim() === '' ? `empty '{{}}'` : `'{{${inner}}}' has no column name`;
    throw syntaxError(source, open, what, `put a CSV column name inside, e.g. {{first_name}}`);
  }
  return { column, fallback };
}

function syntaxError(source: string, position: number, what: string, fix: string): TemplateSyntaxError {
  const before = source.slice(0, position);
  const line = before.split('\n').length;
  const column = position - (before.lastIndexOf('\n') + 1) + 1;
  return new TemplateSyntaxError(`template: ${what} at line ${line}, column ${column}: ${fix}`, position, line, column);
}

function render(parts: readonly Part[], row: Readonly<Record<string, string | undefined>>): RenderResult {
  let text = '';
  for (const part of parts) {
    if ('literal' in part) {
      text += part.literal;
      continue;
    }
    // hasOwn: a column named "constructor" must not find Object.prototype's.
    const value = Object.hasOwn(row, part.column) ? row[part.column] : undefined;
    if (value !== undefined && value.trim() !== '') {
      text += value;
    } else if (part.fallback !== null) {
      text += part.fallback;
    } else {
      const state = value === undefined ? 'is missing from this row' : 'is empty';
      return {
        ok: false,
        reason: `column '${part.column}' ${state} (add a value, or a fallback: {{${part.column}|there}})`,
      };
    }
  }
  return { ok: true, text };
}
