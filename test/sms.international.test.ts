/**
 * src/sms/international.ts reads `+digits` exactly as libphonenumber-js's parsePhoneNumberFromString does,
 * wherever it gives a valid reading (the only readings the load takes from it): on many numbers of every
 * country and non-geographic code, valid and not, of every type (each country's example numbers of each
 * type with their last digits changed, longer and shorter, and random digits after each calling code).
 * Where it declines, the library reads the number. Fails if an upgrade of the library changes how it reads
 * a calling code, a national number or a country.
 */
import { describe, expect, it } from 'vitest';
import { getCountries, getCountryCallingCode, getExampleNumber, parsePhoneNumberFromString, type CountryCode, type NumberType } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/mobile/examples';
import { readInternational } from '../src/sms/international.js';
import { isValidNumber } from '../src/sms/number-type.js';
import { NON_GEOGRAPHIC, random } from './helpers/seeded.js';

/** Digits, country code first, without `+`. */
function* numbers(): Generator<string> {
  const next = random(7);
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(next() * 10)).join('');
  for (const country of getCountries()) {
    const cc = getCountryCallingCode(country);
    const seeds = [(examples as Partial<Record<CountryCode, string>>)[country] ?? digits(8)];
    // The library's example numbers are mobile ones; a few national numbers of other shapes come from the
    // changed digits below (fixed lines, toll-free, numbers of the other countries of +1, +7, +44...).
    const mobile = getExampleNumber(country, examples as never);
    if (mobile) seeds.push(mobile.nationalNumber);
    for (const example of seeds) {
      for (let i = 0; i < 400; i++) {
        const keep = Math.max(0, example.length - 1 - Math.floor(next() * 8));
        const length = example.length + Math.floor(next() * 5) - 2;
        const national = (example.slice(0, keep) + digits(Math.max(0, length - keep))).slice(0, Math.max(1, length));
        yield `${cc}${national}`;
        if (i % 4 === 0) yield `${cc}${digits(2 + Math.floor(next() * 14))}`;
        if (i % 8 === 0) yield `${cc}0${national}`; // a national prefix after the calling code
      }
    }
  }
  for (const code of NON_GEOGRAPHIC) for (let i = 0; i < 300; i++) yield `${code}${digits(6 + Math.floor(next() * 8))}`;
  for (let i = 0; i < 20_000; i++) yield digits(7 + Math.floor(next() * 10));
}

describe('readInternational', () => {
  it('reads every +digits as the library does wherever its own reading is valid, and takes most valid numbers', () => {
    let fastValid = 0;
    let libraryValid = 0;
    const types = new Set<NumberType>();
    for (const d of numbers()) {
      const library = parsePhoneNumberFromString(`+${d}`, { extract: false });
      const fast = readInternational(d);
      if (library?.isValid()) {
        libraryValid++;
        types.add(library.getType());
      }
      if (fast === undefined || !isValidNumber(fast)) continue;
      fastValid++;
      expect({ d, valid: library?.isValid() }).toEqual({ d, valid: true });
      expect({ d, number: fast.number, cc: fast.countryCallingCode, national: fast.nationalNumber, country: fast.country })
        .toEqual({ d, number: library!.number, cc: library!.countryCallingCode, national: library!.nationalNumber, country: library!.country });
    }
    // Not a vacuous comparison: most valid numbers take the fast path, of several types.
    expect(fastValid).toBeGreaterThan(libraryValid * 0.8);
    expect(types.size).toBeGreaterThan(4);
  });

  it('reads +1 numbers of the US, Canada and the Caribbean to their country, as the library does', () => {
    for (const d of ['14155550100', '16135550123', '12642351234', '18762345678', '17875551234', '12125550100']) {
      const library = parsePhoneNumberFromString(`+${d}`, { extract: false });
      const fast = readInternational(d);
      expect({ d, country: fast?.country, national: fast?.nationalNumber }).toEqual({ d, country: library?.country, national: library?.nationalNumber });
    }
  });
});
