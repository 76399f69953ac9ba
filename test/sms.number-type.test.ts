/**
 * src/sms/number-type.ts gives the verdicts libphonenumber-js's own isValid() and getType() give, on many
 * numbers of every country and non-geographic code: each country's example number with its last digits
 * changed, longer and shorter, and random digits, written with + and national (read with the country as
 * default_country). Fails if an upgrade of the library changes how it decides validity or type.
 */
import { describe, expect, it } from 'vitest';
import { getCountries, getCountryCallingCode, parsePhoneNumberFromString, type CountryCode, type PhoneNumber } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/mobile/examples';
import { isValidNumber, numberType } from '../src/sms/number-type.js';
import { NON_GEOGRAPHIC, random } from './helpers/seeded.js';

function* numbers(): Generator<[text: string, country: CountryCode | undefined]> {
  const next = random(12);
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(next() * 10)).join('');
  for (const country of getCountries()) {
    const cc = getCountryCallingCode(country);
    const example = (examples as Partial<Record<CountryCode, string>>)[country] ?? digits(8);
    for (let i = 0; i < 300; i++) {
      const keep = Math.max(0, example.length - 1 - Math.floor(next() * 6));
      const length = example.length + Math.floor(next() * 5) - 2;
      const national = (example.slice(0, keep) + digits(Math.max(0, length - keep))).slice(0, Math.max(1, length));
      yield [`+${cc}${national}`, undefined];
      if (i % 3 === 0) yield [national, country];
      if (i % 10 === 0) yield [`+${cc}${digits(2 + Math.floor(next() * 14))}`, undefined];
    }
  }
  for (const code of NON_GEOGRAPHIC) {
    for (let i = 0; i < 300; i++) yield [`+${code}${digits(6 + Math.floor(next() * 8))}`, undefined];
  }
}

describe('number-type', () => {
  it("gives libphonenumber-js's own isValid() and getType() verdicts for numbers of every country", () => {
    let compared = 0;
    let valid = 0;
    const types = new Set<string>();
    const differ: string[] = [];
    for (const [text, country] of numbers()) {
      const n: PhoneNumber | undefined = parsePhoneNumberFromString(text, country === undefined ? { extract: false } : { defaultCountry: country, extract: false });
      if (n === undefined) continue;
      compared++;
      const [libValid, libType] = [n.isValid(), n.getType()];
      if (libValid) valid++;
      if (libType) types.add(libType);
      if (isValidNumber(n) !== libValid || numberType(n) !== libType) {
        differ.push(`${text} (${country ?? '-'}): library ${libValid} ${libType}, ours ${isValidNumber(n)} ${numberType(n)}`);
      }
    }
    expect(differ.slice(0, 20)).toEqual([]);
    // The numbers reach both verdicts and every type, not only the invalid side.
    expect(compared).toBeGreaterThan(100_000);
    expect(valid).toBeGreaterThan(10_000);
    expect(compared - valid).toBeGreaterThan(10_000);
    expect([...types].sort()).toEqual(['FIXED_LINE', 'FIXED_LINE_OR_MOBILE', 'MOBILE', 'PAGER', 'PERSONAL_NUMBER', 'PREMIUM_RATE', 'SHARED_COST', 'TOLL_FREE', 'UAN', 'VOICEMAIL', 'VOIP']);
  });

  it('is false without a number', () => {
    expect(isValidNumber(undefined)).toBe(false);
  });
});
