/** csvLine writes exactly what csv-stringify writes with escape_formulas (the export's CSV before it was hand-written). */
import { describe, expect, it } from 'vitest';
import { stringify } from 'csv-stringify/sync';
import { csvLine } from '../src/report/export.js';
import type { Cell } from '../src/report/columns.js';

const CELLS: Cell[] = [
  null, '', 0, 7, 12.5, 'plain', 'a,b', 'say "hi"', 'two\nlines', 'cr\rhere', '=SUM(A1)', '+1 415 555 0100', '-3', '@home',
  '\tindent', '\rstart', '＝full', '＋full', '－full', '＠full', "'quoted", '=a,"b"', 'é ü 中', ' ', '-', '+',
];

describe('csvLine', () => {
  it('quotes, doubles quotes and escapes formulas cell for cell like csv-stringify', () => {
    for (const a of CELLS) {
      for (const b of CELLS) {
        const row = [a, b, 'x'];
        expect(csvLine(row) + '\n').toBe(stringify([row.map((v) => v ?? '')], { escape_formulas: true }));
      }
    }
  });
});
