import { describe, expect, it } from 'vitest';
import { dstProblem, sanitizeDst, sanitizeSrc, srcProblem, toE164 } from '../src/sms/numbers.js';

describe('sanitizeDst', () => {
  it.each([
    ['+1 (415) 555-0100', '14155550100'],
    ['+61 412.345/678', '61412345678'],
    ['\t1415 555\u00a00100\n', '14155550100'],
    ['1415abc', '1415abc'],
  ])('%j → %j', (raw, clean) => {
    expect(sanitizeDst(raw)).toBe(clean);
  });
});

describe('dstProblem', () => {
  it.each(['14155550100', '61412345678', '12345678', '12345678901234'])('accepts %s', (n) => {
    expect(dstProblem(n)).toBeNull();
  });

  it('names a missing country code and shows the fix', () => {
    const raw = '0412 345 678';
    expect(dstProblem(sanitizeDst(raw), raw)).toBe(
      "'0412 345 678' has no country code: write it with the country code first and without the leading 0, e.g. 61412345678 for the Australian 0412 345 678",
    );
  });

  it('turns an international 00 prefix into the exact fix', () => {
    expect(dstProblem('0061412345678')).toBe(
      "'0061412345678' starts with the international prefix 00: drop it and keep the country code, e.g. 61412345678",
    );
  });

  it('refuses letters', () => {
    expect(dstProblem(sanitizeDst('1-800-FLOWERS'), '1-800-FLOWERS')).toMatch(/^'1-800-FLOWERS' contains letters: /);
  });

  it('names a stray character', () => {
    expect(dstProblem('1415#5550100')).toMatch(/^'1415#5550100' contains '#': /);
  });

  it.each([
    ['1234567', "'1234567' is too short (7 digits)"],
    ['123456789012345', "'123456789012345' is too long (15 digits)"],
    ['', "'' is empty"],
  ])('refuses %j', (n, start) => {
    expect(dstProblem(n)?.startsWith(start)).toBe(true);
  });
});

describe('sanitizeSrc / srcProblem', () => {
  it('keeps only letters and digits', () => {
    expect(sanitizeSrc('+1 (415) 555-0100')).toBe('14155550100');
    expect(sanitizeSrc('ACME Inc.')).toBe('ACMEInc');
  });

  it.each(['14155550100', '12345', 'ACME', 'A', 'ACMEINSURE1', '12345678901234'])('accepts %s', (s) => {
    expect(srcProblem(s)).toBeNull();
  });

  it.each([
    ['ACMEINSURANCE', "sender ID 'ACMEINSURANCE' has 13 characters; Plivo allows at most 11"],
    ['123456789012345', "sender '123456789012345' is too long (15 digits)"],
    ['04155550100', "sender '04155550100' has no country code"],
    ['', "sender '' is empty"],
  ])('refuses %j', (s, start) => {
    expect(srcProblem(s)?.startsWith(start)).toBe(true);
  });
});

describe('toE164', () => {
  it('adds + to the digits', () => {
    expect(toE164('14155550100')).toBe('+14155550100');
    expect(toE164('+1 415 555 0100')).toBe('+14155550100');
  });

  it('refuses an alphanumeric sender', () => {
    expect(() => toE164('ACME')).toThrow(TypeError);
  });
});
