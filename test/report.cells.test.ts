/**
 * The report's cell rules: masking as Plivo masks numbers for log=false, undoing the report's formula escape
 * when a CSV is read back, and the user's fields kept in the ledger exactly as read (both ledgers).
 */
import { describe, expect, it } from 'vitest';
import { maskNumber, maskReason } from '../src/report/mask.js';
import { unescapeFormula } from '../src/campaign/formula-escape.js';
import type { Db } from '../src/ledger/db.js';
import { finalizeLoad, insertCampaign, insertRecipients } from '../src/ledger/load.js';
import { LEDGER_KINDS, ledgerPerDescribe } from './helpers/ledgers.js';

describe('maskNumber', () => {
  it.each([
    ['14155550528', '141XXXXX528'],
    ['+14155550528', '+141XXXXX528'],
    ['+44 20 7946 0958', '+44 2X XXXX X958'],
    ['(415) 555-0528', '(415) XXX-X528'],
    ['1234', 'XX34'],
    ['123', 'XXX'],
    ['not a phone', 'XXX X XXXXX'],
    ['', ''],
  ])('%s → %s', (value, masked) => {
    expect(maskNumber(value)).toBe(masked);
  });

  it('masks the row\'s value and any other long number in a reason, and leaves short numbers', () => {
    expect(maskReason("line 3: column 'phone': 'abc5550302' contains letters", 'abc5550302')).toBe("line 3: column 'phone': 'XXXXXXXX02' contains letters");
    expect(maskReason("Plivo refused the request (HTTP 400): '14155550101' is not a valid phone number.", null))
      .toBe("Plivo refused the request (HTTP 400): '141XXXXX101' is not a valid phone number.");
    expect(maskReason('same number as row 12: sent once', '+1 415 555 0101')).toBe('same number as row 12: sent once');
  });
});

describe('unescapeFormula', () => {
  it.each([
    ["'=HYPERLINK(\"x\")", '=HYPERLINK("x")'],
    ["'+14155550101", '+14155550101'],
    ["'-20%", '-20%'],
    ["'@sum", '@sum'],
    ["'\uFF1D1", '\uFF1D1'],
    ["'Tis the season", "'Tis the season"],
    ["'", "'"],
    ["''=x", "''=x"],
    ['=1+1', '=1+1'],
  ])('%j → %j', (cell, read) => {
    expect(unescapeFormula(cell)).toBe(read);
  });
});

describe.each(LEDGER_KINDS)('CSV fields in the %s ledger', (kind) => {
  let db: Db;
  ledgerPerDescribe(kind, (opened) => { db = opened; });

  it('keeps every field as read: quotes, backslashes, commas, braces, NULL-looking text, empty cells, new lines, emoji, ragged rows', async () => {
    const rows = [
      ['14155550201', 'say "hi"', 'back\\slash', 'a,b', '{x}', 'NULL', '', 'two\nlines', 'Zoë 🎉'],
      ['14155550202'],
      ['14155550203', 'one', 'too', 'many', 'fields', 'here', 'and', 'here', 'too', 'extra'],
    ];
    const id = await db.transaction(async (tx) => {
      const campaignId = await insertCampaign(tx, { name: `fields-${kind}`, job: {}, jobFile: 'j', csvFile: 'c', csvSha256: '-', contentHash: '-', senders: ['14155550200'] });
      await insertRecipients(tx, campaignId, rows.map((fields, i) => ({
        rowNo: i + 1, lineNo: i + 2, rawDst: fields[0]!, dst: fields[0]!, text: 'hi', units: 1, status: 'pending' as const, reason: null, country: null, numberType: null, fields,
      })));
      await finalizeLoad(tx, campaignId, ['14155550200'], 10, ['phone', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
      return campaignId;
    });
    const stored = await db.query<{ fields: string[] }>('SELECT fields FROM recipients WHERE campaign_id = $1 ORDER BY row_no', [id]);
    expect(stored.map((r) => r.fields)).toEqual(rows);
    const [campaign] = await db.query<{ csv_columns: string[] }>('SELECT csv_columns FROM campaigns WHERE id = $1', [id]);
    expect(campaign!.csv_columns).toEqual(['phone', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
  });
});
