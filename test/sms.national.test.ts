/**
 * src/sms/national.ts reads digits with a default country exactly as libphonenumber-js's
 * parsePhoneNumberFromString(digits, { defaultCountry }) does: on ~100 000 numbers written nationally for every
 * country (each country's example number and a sibling's of the same calling code, with digits changed, longer
 * and shorter; without and with the national prefix, with the calling code but no +, after the IDD prefix;
 * random digits). Where it declines, the library reads the number. Fails if an upgrade of the library changes
 * how it removes a national prefix, applies a transform rule, takes a number as international without +, or
 * chooses the country of a shared calling code; and fails if any of those steps is simplified here.
 */
import { describe, expect, it } from 'vitest';
import { getCountries, getCountryCallingCode, getExampleNumber, Metadata, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/mobile/examples';
import { readNational } from '../src/sms/national.js';
import { isValidNumber, numberType } from '../src/sms/number-type.js';
import { parseRecipientNumber } from '../src/sms/recipient-number.js';
import { random } from './helpers/seeded.js';

interface PlanMetadata {
  selectNumberingPlan(country: string): void;
  numberingPlan: { nationalPrefix(): string | undefined; IDDPrefix(): string | undefined };
  getCountryCodesForCallingCode(code: string): string[] | undefined;
}
const metadata = new Metadata() as unknown as PlanMetadata;

function library(digits: string, country: CountryCode) {
  return parsePhoneNumberFromString(digits, { defaultCountry: country, extract: false });
}

/** [digits, default country]: numbers as a person of that country writes them, and a few that are not. */
function* nationals(): Generator<[string, CountryCode]> {
  const next = random(12);
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(next() * 10)).join('');
  const exampleOf = (c: string) => getExampleNumber(c as CountryCode, examples as never)?.nationalNumber;
  for (const country of getCountries()) {
    const cc = getCountryCallingCode(country);
    metadata.selectNumberingPlan(country);
    const prefix = metadata.numberingPlan.nationalPrefix() ?? '0';
    // A simple IDD prefix to write an international number with (00, 011, 810…); only its first form.
    const idd = /^\d+/.exec(metadata.numberingPlan.IDDPrefix() ?? '')?.[0] ?? '00';
    const siblings = (metadata.getCountryCodesForCallingCode(cc) ?? []).filter((c) => c !== country);
    const seeds = [exampleOf(country) ?? digits(8)];
    // A number of another country of the same calling code (a Canadian number read with US, Jersey with GB).
    if (siblings.length > 0) seeds.push(exampleOf(siblings[Math.floor(next() * siblings.length)]!) ?? digits(10));
    for (const example of seeds) {
      for (let i = 0; i < 200; i++) {
        const keep = Math.max(0, example.length - 1 - Math.floor(next() * 8));
        const length = example.length + Math.floor(next() * 5) - 2;
        const national = (example.slice(0, keep) + digits(Math.max(0, length - keep))).slice(0, Math.max(1, length));
        yield [national, country];
        if (i % 2 === 0) yield [`${prefix}${national}`, country];
        if (i % 4 === 1) yield [`${cc}${national}`, country];
        if (i % 8 === 3) yield [`${cc}${prefix}${national}`, country];
        if (i % 16 === 5) yield [`${idd}${cc}${national}`, country];
        if (i % 4 === 2) yield [digits(2 + Math.floor(next() * 15)), country];
        if (i % 8 === 6) yield [`${prefix}${digits(1 + Math.floor(next() * 12))}`, country];
      }
    }
  }
}

describe('readNational', () => {
  it('reads every national number as the library does, valid or not, and takes most numbers', () => {
    let total = 0;
    let fastRead = 0;
    let fastValid = 0;
    let libraryValid = 0;
    const countries = new Set<string>();
    const switched = new Set<string>();
    for (const [d, country] of nationals()) {
      total++;
      const lib = library(d, country);
      const fast = readNational(d, country);
      if (lib?.isValid()) libraryValid++;
      if (fast === undefined) continue;
      fastRead++;
      // Every reading, not only the valid ones the load takes: the same steps give the same number.
      expect({ d, country, number: fast.number, cc: fast.countryCallingCode, national: fast.nationalNumber, iso: fast.country })
        .toEqual({ d, country, number: lib?.number, cc: lib?.countryCallingCode, national: lib?.nationalNumber, iso: lib?.country });
      if (!isValidNumber(fast)) continue;
      fastValid++;
      expect({ d, country, valid: lib!.isValid(), type: numberType(fast) }).toEqual({ d, country, valid: true, type: lib!.getType() });
      countries.add(country);
      if (fast.country !== country) switched.add(`${country}>${fast.country}`);
    }
    expect(total).toBeGreaterThan(90_000);
    // Not a vacuous comparison: most numbers and most valid ones take the fast path, in most countries, and
    // some of them go to another country of the calling code.
    expect(fastRead).toBeGreaterThan(total * 0.9);
    expect(fastValid).toBeGreaterThan(libraryValid * 0.9);
    expect(countries.size).toBeGreaterThan(200);
    expect(switched.size).toBeGreaterThan(20);
  });

  // Each row needs one step of the library's that a simpler reading would get wrong.
  it.each<[string, CountryCode, string, string]>([
    ['6135550123', 'US', '+16135550123', 'CA'], // the country of +1 is chosen by the number, not the default
    ['4155550100', 'CA', '+14155550100', 'US'],
    ['2642351234', 'US', '+12642351234', 'AI'],
    ['07797123456', 'GB', '+447797123456', 'JE'], // a Jersey mobile, read with GB
    ['07400123456', 'JE', '+447400123456', 'GB'],
    ['14155550100', 'US', '+14155550100', 'US'], // the trunk prefix 1
    // The trunk prefix is removed when the rest has a possible length for the country the rest belongs to,
    // not for the default country: Canada's 310 numbers have 7 digits, no Antiguan or Manx number has 9.
    ['13100659', 'AG', '+13100659', 'CA'],
    ['0800860171', 'IM', '+44800860171', 'GB'],
    ['6421234', 'VI', '+13406421234', 'VI'], // VI's transform rule: 340 before a 7-digit number
    ['12642351234', 'US', '+12642351234', 'AI'],
    ['88005553535', 'RU', '+78005553535', 'RU'], // 8 is the trunk prefix here…
    ['8005553535', 'RU', '+78005553535', 'RU'],
    ['0111523456789', 'AR', '+5491123456789', 'AR'], // AR's mobile 15 after the area code becomes 9 before it
    ['021987654321', 'BR', '+5521987654321', 'BR'],
    ['0211234567', 'DE', '+49211234567', 'DE'],
    ['491711234567', 'DE', '+49491711234567', 'DE'], // 49 is also an area code: valid as it is, so national
    ['447400123456', 'GB', '+447400123456', 'GB'], // GB's code without +: not valid nationally, so international
    ['0412345678', 'AU', '+61412345678', 'AU'],
    ['0612345678', 'FR', '+33612345678', 'FR'],
    ['09012345678', 'JP', '+819012345678', 'JP'],
  ])('%s with %s is %s (%s), as the library reads it', (d, country, number, iso) => {
    const lib = library(d, country);
    expect({ number: lib?.number, country: lib?.country, valid: lib?.isValid() }).toEqual({ number, country: iso, valid: true });
    const fast = readNational(d, country);
    expect({ number: fast?.number, country: fast?.country, valid: isValidNumber(fast) }).toEqual({ number, country: iso, valid: true });
  });

  it('leaves numbers after an IDD prefix, and numbers of more than 17 digits, to the library', () => {
    expect(readNational('011447700900123', 'US')).toBeUndefined();
    expect(readNational('00447700900123', 'GB')).toBeUndefined();
    expect(readNational('123456789012345678', 'US')).toBeUndefined();
  });
});

describe('parseRecipientNumber with default_country', () => {
  it('sends what the library reads from the digits, written with spaces and punctuation', () => {
    const next = random(13);
    const shapes = [
      (d: string) => d,
      (d: string) => d.replace(/^(\d{3})(\d{3})(\d+)$/, '($1) $2-$3'),
      (d: string) => d.replace(/^(\d{3,5})(\d+)$/, '$1 $2'),
      (d: string) => d.replace(/(\d{2})(?=\d)/g, '$1.'),
    ];
    const cases: Array<[string, CountryCode]> = [];
    for (const country of ['US', 'CA', 'GB', 'JE', 'DE', 'FR', 'AU', 'IN', 'BR', 'AR', 'RU', 'JP', 'VI', 'MX'] as CountryCode[]) {
      const example = getExampleNumber(country, examples as never)!.nationalNumber;
      metadata.selectNumberingPlan(country);
      const prefix = metadata.numberingPlan.nationalPrefix() ?? '';
      for (let i = 0; i < 300; i++) {
        const keep = example.length - 1 - Math.floor(next() * 6);
        const national = example.slice(0, keep) + Array.from({ length: example.length - keep }, () => Math.floor(next() * 10)).join('');
        const digits = i % 3 === 0 ? `${prefix}${national}` : national;
        cases.push([shapes[i % shapes.length]!(digits), country]);
      }
    }
    let sent = 0;
    for (const [raw, country] of cases) {
      const lib = library(raw.replace(/\D/g, ''), country);
      if (!lib?.isValid()) continue;
      sent++;
      const types: Record<string, string> = { MOBILE: 'mobile', FIXED_LINE: 'fixed_line', FIXED_LINE_OR_MOBILE: 'fixed_line_or_mobile', TOLL_FREE: 'toll_free' };
      expect({ raw, country, read: parseRecipientNumber(raw, country) })
        .toEqual({ raw, country, read: { ok: true, dst: lib.number.slice(1), country: lib.country, type: types[lib.getType() ?? ''] ?? expect.any(String) } });
    }
    expect(sent).toBeGreaterThan(cases.length / 2);
  });
});
