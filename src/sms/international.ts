/**
 * A fast path for the commonest recipient number, digits with their country code first (`+14155550100`,
 * or Plivo's own `14155550100`): the same reading as libphonenumber-js's `parsePhoneNumberFromString('+' +
 * digits)`, with each pattern compiled once, for the numbers where that reading is plain.
 *
 * Why: the library builds a RegExp for every pattern it tries on every call (`helpers/matchesEntirely.js`),
 * and for a calling code shared by several countries (+1: the US, Canada and 23 others) it tries each
 * country's type patterns in turn to find the number's country; with its argument copying, that was a quarter
 * of the load's per-row CPU on a 200 000-row list (profile of 2026-12-03, docs/decisions.md).
 *
 * The steps are the library's own (version 1.13.16, pinned in package.json; `parse.js`, `parsePhoneNumber`):
 *   1. the calling code is the shortest prefix of 1 to 3 digits that the metadata knows (extractCountryCallingCode);
 *   2. the rest is the national number, unless the calling code's main plan has a national prefix for
 *      parsing that the rest starts with: then the library's own rules decide (undefined here);
 *   3. the country is the only one of the calling code, or the first of its countries whose leading digits
 *      match the start of the national number, or, for a country without leading digits, whose type patterns
 *      give the number a type (getCountryByCallingCode, getCountryByNationalNumber).
 * Anything else (a leading 0, a length outside 8 to 15 digits, no known calling code) is left to the library.
 * test/sms.international.test.ts compares this with the library on many numbers of every calling code.
 */
import { Metadata } from 'libphonenumber-js/max';
import { numberType, type NumberParts } from './number-type.js';

/** The parts of the library's `Metadata` its own parse uses (not in its typings). */
interface CallingMetadata {
  hasCallingCode(code: string): boolean;
  getCountryCodesForCallingCode(code: string): string[] | undefined;
  selectNumberingPlan(countryOrCallingCode: string): void;
  numberingPlan: { nationalPrefixForParsing(): string | undefined };
  leadingDigits(): string | undefined;
}

export interface CallingPlan {
  /** `^(?:national_prefix_for_parsing)` of the calling code's main country, when it has one. */
  prefix: RegExp | undefined;
  countries: ReadonlyArray<{ country: string; leading: RegExp | undefined }>;
}

const metadata = new Metadata() as unknown as CallingMetadata;
/** By calling code; null when the metadata does not know it. */
const callingPlans = new Map<string, CallingPlan | null>();

/** The calling code's plan (compiled once), or null when the metadata does not know the code. */
export function callingPlan(code: string): CallingPlan | null {
  const known = callingPlans.get(code);
  if (known !== undefined) return known;
  let plan: CallingPlan | null = null;
  if (metadata.hasCallingCode(code)) {
    metadata.selectNumberingPlan(code);
    const prefix = metadata.numberingPlan.nationalPrefixForParsing();
    const countries = (metadata.getCountryCodesForCallingCode(code) ?? []).map((country) => {
      metadata.selectNumberingPlan(country);
      const leading = metadata.leadingDigits();
      return { country, leading: leading ? new RegExp(leading) : undefined };
    });
    plan = { prefix: prefix ? new RegExp(`^(?:${prefix})`) : undefined, countries };
  }
  callingPlans.set(code, plan);
  return plan;
}

const PLAIN = /^[1-9]\d{7,14}$/;

/**
 * `digits` (ASCII digits, country code first) read as `+digits` is, or undefined when the library must read
 * it. The number may still be invalid: the caller checks, as it does the library's numbers.
 */
export function readInternational(digits: string): NumberParts | undefined {
  if (!PLAIN.test(digits)) return undefined;
  for (let length = 1; length <= 3; length++) {
    const code = digits.slice(0, length);
    const plan = callingPlan(code);
    if (plan === null) continue;
    const national = digits.slice(length);
    if (plan.prefix?.test(national)) return undefined;
    return { number: `+${digits}`, countryCallingCode: code, nationalNumber: national, country: countryOf(plan, code, national) };
  }
  return undefined;
}

/**
 * The library's getCountryByCallingCode: the only country of the code, or the first whose leading digits
 * match the start of `national`, or, for a country without leading digits, whose type patterns give it a type.
 */
export function countryOf(plan: CallingPlan, code: string, national: string): string | undefined {
  if (plan.countries.length === 0) return undefined; // a non-geographic code (+800, +882…)
  if (plan.countries.length === 1) return plan.countries[0]!.country;
  for (const { country, leading } of plan.countries) {
    if (leading) {
      if (national.search(leading) === 0) return country;
    } else if (numberType({ country, countryCallingCode: code, nationalNumber: national }) !== undefined) {
      return country;
    }
  }
  return undefined;
}
