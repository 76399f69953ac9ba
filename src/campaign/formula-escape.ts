/**
 * Cells a spreadsheet would run as a formula (`=HYPERLINK(…)`, `+cmd|…`, `@SUM(…)`): the CSV report writes
 * them with a leading `'` (csv-stringify's `escape_formulas`, in src/report/export.ts), and a recipients CSV
 * read back drops that `'` again, so that a report loaded as a new campaign's CSV renders exactly the texts
 * of the first one (`-20%` stays `-20%`, not `'-20%`).
 *
 * A cell is unescaped only when the `'` is followed by one of the characters that made csv-stringify add
 * it: `= + - @`, tab, carriage return, or their full-width forms. Any other leading `'` (`'Tis`) is data.
 */
const TRIGGERS = new Set(['=', '+', '-', '@', '\t', '\r', '\uFF1D', '\uFF0B', '\uFF0D', '\uFF20']);

/** The cell as it was before the report escaped it. */
export function unescapeFormula(cell: string): string {
  return cell.length > 1 && cell[0] === "'" && TRIGGERS.has(cell[1]!) ? cell.slice(1) : cell;
}
