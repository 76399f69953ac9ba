/**
 * A fast path for a number written in national format and read with the job's `default_country` (`4155550100`,
 * `(415) 555-0100` with US, `07700 900123` with GB): the same reading as libphonenumber-js's
 * `parsePhoneNumberFromString(digits, { defaultCountry, extract: false })`, with each pattern compiled once.
 *
 * Why: as for `+digits` (sms/international.ts), the library compiles a RegExp for every pattern on every call;
 * a national number costs it the national prefix pattern, the national number pattern (twice or more), and,
 * for a country sharing its calling code (the US, Canada and the Caribbean under +1; GB, GG, IM and JE under
 * +44…), the type patterns of each country of the code in turn: 10-17 µs a number here.
 *
 * The steps are the library's own (version 1.13.16, pinned in package.json; `parse.js`, `parsePhoneNumber`),
 * for a string of ASCII digits (the caller has removed spaces and punctuation) and the default country C:
 *   1. a number that starts with C's international (IDD) prefix may be an international number: the
 *      library reads it (`stripIddPrefix`);
 *   2. a number that starts with C's calling code may be an international number without `+`: it is one
 *      when the library's test says so (`extractCountryCallingCodeFromInternationalNumberWithoutPlusSign`:
 *      the digits after the code match C's national pattern and the whole number does not, once each has
 *      had its national prefix removed, or the whole number is too long for C); it is then read as `+digits`
 *      (sms/international.ts);
 *   3. otherwise C's national prefix for parsing is removed, or C's transform rule applied (`$1` after
 *      a captured group: VI's `2345678` is `3402345678`), unless that turns a number matching C's national
 *      pattern into one that does not, or leaves a length not possible for the country the rest belongs to
 *      (`extractNationalNumber`);
 *   4. the country is the one of the calling code the national number belongs to, by leading digits or type
 *      patterns, as for `+digits` (a US number read with CA is US; a Jersey mobile read with GB is JE);
 *      C when none claims it (`getCountryByCallingCode`).
 * Anything else (a number of more than 17 digits, a result shorter than 2 or longer than 17 digits) is left to
 * the library, and so is every reading that is not valid (the caller's choice), so that a refusal says what the
 * library found. test/sms.national.test.ts compares this with the library on many numbers of every country.
 */
import { Metadata } from 'libphonenumber-js/max';
import { callingPlan, countryOf, readInternational } from './international.js';
import type { NumberParts } from './number-type.js';

/** The parts of the library's `Metadata` its own national parse uses (not in its typings). */
interface NationalMetadata {
  selectNumberingPlan(country: string): void;
  numberingPlan: {
    callingCode(): string;
    IDDPrefix(): string | undefined;
    nationalPrefixForParsing(): string | undefined;
    nationalPrefixTransformRule(): string | undefined;
    nationalNumberPattern(): string;
    possibleLengths(): number[] | undefined;
  };
}

/** One default country's rules for reading a national number, compiled. */
interface NationalPlan {
  country: string;
  callingCode: string;
  /** `^(?:IDD prefix)`. */
  idd: RegExp | undefined;
  /** `^(?:national prefix for parsing)`, as the library builds it. */
  prefix: RegExp | undefined;
  transform: string | undefined;
  /** The national number pattern, matched entirely. */
  national: RegExp;
  lengths: readonly number[] | undefined;
}

const metadata = new Metadata() as unknown as NationalMetadata;
const plans = new Map<string, NationalPlan>();

function nationalPlan(country: string): NationalPlan {
  let plan = plans.get(country);
  if (plan) return plan;
  metadata.selectNumberingPlan(country);
  const p = metadata.numberingPlan;
  const idd = p.IDDPrefix();
  const prefix = p.nationalPrefixForParsing();
  plan = {
    country,
    callingCode: p.callingCode(),
    idd: idd ? new RegExp(`^(?:${idd})`) : undefined,
    prefix: prefix ? new RegExp(`^(?:${prefix})`) : undefined,
    transform: p.nationalPrefixTransformRule() || undefined,
    national: new RegExp(`^(?:${p.nationalNumberPattern()})$`),
    lengths: p.possibleLengths(),
  };
  plans.set(country, plan);
  return plan;
}

type LengthVerdict = 'IS_POSSIBLE' | 'TOO_SHORT' | 'TOO_LONG' | 'INVALID_LENGTH';

/** The library's checkNumberLength against a plan's possible lengths (sorted, as the metadata has them). */
function lengthVerdict(length: number, lengths: readonly number[] | undefined): LengthVerdict {
  if (!lengths) return 'IS_POSSIBLE';
  if (lengths[0] === length) return 'IS_POSSIBLE';
  if (lengths[0]! > length) return 'TOO_SHORT';
  if (lengths[lengths.length - 1]! < length) return 'TOO_LONG';
  return lengths.indexOf(length, 1) >= 0 ? 'IS_POSSIBLE' : 'INVALID_LENGTH';
}

/** extractNationalNumberFromPossiblyIncompleteNumber: the national prefix removed, or the transform rule applied. */
function stripNationalPrefix(number: string, plan: NationalPlan): string {
  if (number === '' || plan.prefix === undefined) return number;
  const match = plan.prefix.exec(number);
  if (!match) return number;
  const groups = match.length - 1;
  // As the library: "captured" means the last group matched something.
  const captured = groups > 0 && Boolean(match[groups]);
  if (plan.transform !== undefined && captured) return number.replace(plan.prefix, plan.transform);
  return number.slice(match[0].length);
}

/** extractNationalNumber with the default country's plan selected and no exact country given. */
function extractNational(number: string, plan: NationalPlan): string {
  const stripped = stripNationalPrefix(number, plan);
  if (stripped === number) return number;
  // A digit that is both a national prefix and a leading digit (Russia's 8 800…): keep it if removing it
  // makes a number of the national pattern one that is not.
  if (plan.national.test(number) && !plan.national.test(stripped)) return number;
  if (plan.lengths) {
    const code = callingPlan(plan.callingCode);
    const country = code ? countryOf(code, plan.callingCode, stripped) : undefined;
    const verdict = lengthVerdict(stripped.length, country === undefined ? plan.lengths : nationalPlan(country).lengths);
    if (verdict === 'TOO_SHORT' || verdict === 'INVALID_LENGTH') return number;
  }
  return stripped;
}

/** extractCountryCallingCodeFromInternationalNumberWithoutPlusSign: do the digits start with C's calling code? */
function startsWithCallingCode(digits: string, plan: NationalPlan): boolean {
  if (!digits.startsWith(plan.callingCode)) return false;
  const shorter = extractNational(digits.slice(plan.callingCode.length), plan);
  const whole = extractNational(digits, plan);
  return (!plan.national.test(whole) && plan.national.test(shorter)) || lengthVerdict(whole.length, plan.lengths) === 'TOO_LONG';
}

const DIGITS = /^\d{2,17}$/;
/** The library's MIN_LENGTH_FOR_NSN and MAX_LENGTH_FOR_NSN. */
const MIN_NATIONAL = 2;
const MAX_NATIONAL = 17;

/**
 * `digits` (ASCII digits only) read with the default country `country` (an ISO code the metadata knows) as the
 * library reads it, or undefined when the library must read it. The number may still be invalid: the caller
 * checks, and hands an invalid one to the library.
 */
export function readNational(digits: string, country: string): NumberParts | undefined {
  if (!DIGITS.test(digits)) return undefined;
  const plan = nationalPlan(country);
  if (plan.idd?.test(digits)) return undefined;
  if (startsWithCallingCode(digits, plan)) {
    const read = readInternational(digits);
    return read?.countryCallingCode === plan.callingCode ? read : undefined;
  }
  const national = extractNational(digits, plan);
  if (national.length < MIN_NATIONAL || national.length > MAX_NATIONAL) return undefined;
  const code = callingPlan(plan.callingCode);
  const exact = code ? countryOf(code, plan.callingCode, national) : undefined;
  return { number: `+${plan.callingCode}${national}`, countryCallingCode: plan.callingCode, nationalNumber: national, country: exact ?? country };
}
