import { describe, expect, it } from 'vitest';
import { analyzeText, MAX_GSM_LENGTH, MAX_UCS2_LENGTH, textLengthProblem } from '../src/sms/encoding.js';

const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';

describe('analyzeText', () => {
  it('counts every character of the GSM basic table as one septet', () => {
    expect([...GSM_BASIC]).toHaveLength(127);
    expect(analyzeText(GSM_BASIC)).toEqual({ encoding: 'GSM', length: 127, units: 1 });
  });

  it.each(['^', '{', '}', '\\', '[', '~', ']', '|', '€', '\f'])('counts extension character %j as two septets', (c) => {
    expect(analyzeText(`a${c}`)).toEqual({ encoding: 'GSM', length: 3, units: 1 });
  });

  it.each([
    ['`', 'back-tick'],
    ['ç', 'lower-case c cedilla'],
    ['’', 'typographic apostrophe'],
    ['Α', 'Greek capital alpha, which only looks like A'],
  ])('switches to UCS-2 for %j (%s) and names it', (c) => {
    expect(analyzeText(`Hello ${c}`)).toEqual({ encoding: 'UCS-2', length: 7, units: 1, nonGsm: [c] });
  });

  it('keeps upper-case Ç in GSM', () => {
    expect(analyzeText('Ça va').encoding).toBe('GSM');
  });

  it('counts an emoji as two UCS-2 units and an extension character as one', () => {
    expect(analyzeText('😀{')).toEqual({ encoding: 'UCS-2', length: 3, units: 1, nonGsm: ['😀'] });
  });

  it('lists at most five distinct non-GSM characters, in order', () => {
    expect(analyzeText('жжабвгдеё').nonGsm).toEqual(['ж', 'а', 'б', 'в', 'г']);
  });

  it('treats the empty text as GSM, length 0, one unit', () => {
    expect(analyzeText('')).toEqual({ encoding: 'GSM', length: 0, units: 1 });
  });

  it.each([
    [160, 1],
    [161, 2],
    [306, 2],
    [307, 3],
    [1600, 11],
  ])('bills %i GSM septets as %i units', (n, units) => {
    expect(analyzeText('a'.repeat(n)).units).toBe(units);
  });

  it('bills 80 extension characters (160 septets) as one unit and 81 as two', () => {
    expect(analyzeText('€'.repeat(80)).units).toBe(1);
    expect(analyzeText('€'.repeat(81))).toEqual({ encoding: 'GSM', length: 162, units: 2 });
  });

  it.each([
    [70, 1],
    [71, 2],
    [134, 2],
    [135, 3],
    [737, 11],
  ])('bills %i UCS-2 characters as %i units', (n, units) => {
    expect(analyzeText('ж'.repeat(n)).units).toBe(units);
  });
});

describe('textLengthProblem', () => {
  it('accepts the maxima', () => {
    expect(textLengthProblem(analyzeText('a'.repeat(MAX_GSM_LENGTH)))).toBeNull();
    expect(textLengthProblem(analyzeText('ж'.repeat(MAX_UCS2_LENGTH)))).toBeNull();
    expect(textLengthProblem(analyzeText(''))).toBeNull();
  });

  it('refuses one GSM septet too many', () => {
    expect(textLengthProblem(analyzeText('a'.repeat(1599) + '€'))).toBe(
      'text is 1601 GSM characters; Plivo allows at most 1600 (shorten it)',
    );
  });

  it('refuses long UCS-2 text and names the characters that forced it', () => {
    const text = 'a'.repeat(810) + '’😀';
    expect(textLengthProblem(analyzeText(text))).toBe(
      "text is 813 UCS-2 characters; Plivo allows at most 737 (shorten it or remove the non-GSM characters that force UCS-2: '’', '😀'; in GSM it could be up to 1600)",
    );
  });

  it('works on a TextInfo built by hand', () => {
    expect(textLengthProblem({ encoding: 'UCS-2', length: 812, units: 13 })).toMatch(/^text is 812 UCS-2 characters; Plivo allows at most 737 \(/);
  });
});
