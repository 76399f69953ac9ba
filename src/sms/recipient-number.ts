/**
 * Reading a recipient's phone number as a person wrote it, and deciding the one number Plivo is sent.
 *
 * Pure and cheap: no I/O, no per-call setup (the `max` metadata is loaded once, with the module), so it can
 * run on every row of a 1 000 000-row CSV, in a worker pool if need be.
 *
 * The rules (docs/decisions.md, "Recipient numbers are read by libphonenumber, and never by guessing"):
 *   1. Clean what spreadsheets and copy-paste add: Unicode compatibility forms (full-width digits and `＋`),
 *      no-break and zero-width spaces, bidi marks, Excel's leading `'`, a `tel:` URI's scheme.
 *   2. `+…` and `00…` are international, with or without `default_country`.
 *   3. With `default_country`, anything else is first read as a number of that country (its trunk prefix
 *      and its international prefix, e.g. `011` in the US, are understood); if that is not a valid number,
 *      it is tried as international (rule 4) before it is refused.
 *   4. Digits without `+` are read as Plivo's own format, country code first (`14156920137`), only when
 *      nothing in them reads as national: no leading 0, no area code in parentheses, more than 10 digits
 *      (a US or an Indian mobile number has 10), and, when written in groups, a first group that is the
 *      country code (`44 7911 123457`). Otherwise, without `default_country`, the number is refused with a
 *      reason naming `default_country`: a country is never guessed.
 *   5. The number must be valid for its country (libphonenumber's `max` metadata), and Plivo's own rules
 *      have the last word: what is sent is the E.164 digits without `+`, at most 14 of them.
 */
import { parsePhoneNumberFromString, validatePhoneNumberLength, type CountryCode, type PhoneNumber } from 'libphonenumber-js/max';
import { readInternational } from './international.js';
import { readNational } from './national.js';
import { isValidNumber, numberType, type NumberParts } from './number-type.js';

/** libphonenumber's number types, in the spelling of the plan and the docs. */
export type NumberType =
  | 'mobile' | 'fixed_line' | 'fixed_line_or_mobile' | 'toll_free' | 'premium_rate' | 'shared_cost' | 'voip'
  | 'personal_number' | 'pager' | 'uan' | 'voicemail' | 'unknown';

export type ParsedNumber =
  | {
    ok: true;
    /** The E.164 number without `+`, as Plivo is sent it and reports it (`to_number`): the recipient's identity. */
    dst: string;
    /** ISO 3166-1 alpha-2 of the number (GB, GG, CA…), or null for a non-geographic number (+800, +882…). */
    country: string | null;
    type: NumberType;
  }
  | { ok: false; reason: string };

/** Plivo: "each number starts with the country code, ≤ 14 characters". */
const MAX_PLIVO_DIGITS = 14;
/** Without `+`, this many digits or fewer read as a national number: US/Canadian and Indian mobile numbers have 10. */
const MAX_NATIONAL_LOOKING_DIGITS = 10;

// Soft hyphen, Mongolian vowel separator, zero-width spaces and joiners, bidi marks and isolates, word
// joiner and invisible operators, byte-order mark.
const INVISIBLE = /[\u00AD\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g;
// Hyphens, dashes and the minus sign, as word processors and phones write them.
const DASHES = /[\u2010-\u2015\u2212]/g;
const EXTENSION = /^(.*\d)[\s,;]*(?:ext\.?|extension|x)\s*\d{1,7}$/i;
const SCIENTIFIC = /^[+-]?\d+(?:[.,]\d+)?e\+?\d+$/i;
const SPREADSHEET_FLOAT = /^\+?\d{6,}[.,]0+$/;
const ALLOWED = /^\+?[\d\s\-./()]*$/;

/**
 * Reads `raw` (a CSV field) as a recipient number. `defaultCountry` (an upper-case ISO code the caller has
 * validated) says how to read national numbers; without it only numbers that name their country are read.
 */
export function parseRecipientNumber(raw: string, defaultCountry?: CountryCode): ParsedNumber {
  const shown = `'${raw}'`;
  const refuse = (why: string): ParsedNumber => ({ ok: false, reason: `${shown} ${why}` });

  let text = clean(raw);
  if (/^tel:/i.test(text)) {
    const [number = '', ...params] = text.slice(4).split(';');
    if (params.some((p) => /^ext=/i.test(p))) return refuse(EXTENSION_REASON);
    text = number.trim();
  }
  if (text === '') return refuse('has no digits');
  if (SCIENTIFIC.test(text)) {
    return refuse('is in scientific notation, as Excel shows long numbers, and its last digits are lost: ' +
      'format the column as Text in the spreadsheet, fix the numbers and export the CSV again');
  }
  if (SPREADSHEET_FLOAT.test(text)) {
    return refuse('ends in a decimal point, as a spreadsheet writes a number: export the column as text, without the decimals');
  }
  if (EXTENSION.test(text)) return refuse(EXTENSION_REASON);
  if (/[A-Za-z]/.test(text)) return refuse('contains letters: write the number in digits, e.g. +1 415 555 0100');
  if (!ALLOWED.test(text)) {
    const stray = /[^\d\s\-./()]/.exec(text.slice(1))?.[0] ?? text[0];
    return refuse(`contains '${stray}': a phone number is digits, an optional leading +, spaces and - . / ( )`);
  }
  const digits = text.replace(/\D/g, '');
  if (digits === '') return refuse('has no digits');

  if (text.startsWith('+')) return accept(shown, parseInternational(digits), `+${digits}`);

  let nationally: NumberParts | undefined;
  if (defaultCountry !== undefined) {
    nationally = parseNational(digits, defaultCountry);
    if (isValidNumber(nationally)) return sent(shown, nationally);
  }
  if (digits.startsWith('00')) {
    // 00 is the international prefix nearly everywhere, and no national number starts with it.
    const international = parseInternational(digits.slice(2));
    if (isValidNumber(international) || defaultCountry === undefined) return accept(shown, international, `+${digits.slice(2)}`);
    return refuse(`${notValidIn(defaultCountry, nationally, digits)}, nor a valid international number (read as ${readAs(international, digits.slice(2))})`);
  }
  const international = parseInternational(digits);
  const cue = nationalCue(text, digits, international);
  if (defaultCountry === undefined) {
    if (cue !== null) {
      return refuse(`reads as a national number (${digits}: ${cue}), and the job has no "default_country" to say ` +
        'which country it belongs to: set "default_country" (e.g. "US" or "GB"), or write the number with + and its country code');
    }
    if (!isValidNumber(international)) {
      return refuse(`is not a valid number: read with its country code first it is ${readAs(international, digits)}; ` +
        'if it is written as a national number, set "default_country" to its country');
    }
    return sent(shown, international);
  }
  if (cue === null && isValidNumber(international)) return sent(shown, international);
  return refuse(notValidIn(defaultCountry, nationally, digits) +
    (cue === null ? `, nor a valid international number (read as ${readAs(international, digits)})` : ''));
}

const EXTENSION_REASON = 'has an extension, which cannot receive a text: give the number of a phone that can';

/**
 * NFKC turns full-width digits, `＋` and `（）` into ASCII and no-break spaces into spaces; invisible characters
 * are removed. Plain ASCII, the usual case, skips all of that.
 */
function clean(raw: string): string {
  const text = /^[\x20-\x7e]*$/.test(raw) ? raw : raw.normalize('NFKC').replace(INVISIBLE, '').replace(DASHES, '-');
  return text.trim().replace(/^'\s*/, '');
}

function parse(text: string, defaultCountry?: CountryCode): PhoneNumber | undefined {
  return parsePhoneNumberFromString(text, defaultCountry === undefined ? { extract: false } : { defaultCountry, extract: false });
}

/**
 * `+digits` as the library reads it: a valid reading of the fast path (sms/international.ts) is the library's
 * own; anything else is read by the library, so that a refusal says what the library found.
 */
function parseInternational(digits: string): NumberParts | undefined {
  const fast = readInternational(digits);
  return fast !== undefined && isValidNumber(fast) ? fast : parse(`+${digits}`);
}

/**
 * `digits` read with the default country as the library reads them: a valid reading of the fast path
 * (sms/national.ts) is the library's own; anything else is read by the library, for the refusal's sake.
 */
function parseNational(digits: string, defaultCountry: CountryCode): NumberParts | undefined {
  const fast = readNational(digits, defaultCountry);
  return fast !== undefined && isValidNumber(fast) ? fast : parse(digits, defaultCountry);
}

/**
 * Why digits written without `+` or `00` read as a national number rather than as Plivo's format (country
 * code first), or null if nothing does.
 */
function nationalCue(text: string, digits: string, international: NumberParts | undefined): string | null {
  if (digits.startsWith('0')) return 'it starts with 0, a trunk or an international prefix';
  if (text.startsWith('(')) return 'it starts with an area code in parentheses';
  if (digits.length <= MAX_NATIONAL_LOOKING_DIGITS) {
    return `only ${digits.length} digits and no +, as a national number is written`;
  }
  const firstGroup = /\d+/.exec(text)?.[0] ?? digits;
  if (firstGroup !== digits && firstGroup !== international?.countryCallingCode) {
    return `its first group, ${firstGroup}, is not a country code`;
  }
  return null;
}

function accept(shown: string, number: NumberParts | undefined, read: string): ParsedNumber {
  if (!isValidNumber(number)) {
    return { ok: false, reason: `${shown} is not a valid phone number (read as ${readAs(number, read.replace(/^\+/, ''))})` };
  }
  return sent(shown, number);
}

/** A valid number as Plivo is sent it, if Plivo's own rules allow it. */
function sent(shown: string, number: NumberParts): ParsedNumber {
  const dst = number.number.slice(1);
  if (dst.length > MAX_PLIVO_DIGITS) {
    return { ok: false, reason: `${shown} is ${number.number}, ${dst.length} digits: Plivo accepts at most ${MAX_PLIVO_DIGITS}` };
  }
  return { ok: true, dst, country: number.country ?? null, type: typeName(number) };
}

function notValidIn(country: CountryCode, nationally: NumberParts | undefined, digits: string): string {
  if (nationally !== undefined) return `is not a valid ${country} number (read as ${readAs(nationally, digits)})`;
  const length = validatePhoneNumberLength(digits, country);
  return `is not a valid ${country} number${length === 'TOO_SHORT' ? ` (too short for ${country})` : length === 'TOO_LONG' ? ` (too long for ${country})` : ''}`;
}

/** How a number was read, and why it is not valid, for a refusal: `+44 791112345, too short for +44`. */
function readAs(number: NumberParts | undefined, digits: string): string {
  if (number === undefined) return `+${digits}, and no country has that code`;
  const read = `+${number.countryCallingCode} ${number.nationalNumber}`;
  const where = number.country ?? `+${number.countryCallingCode}`;
  switch (validatePhoneNumberLength(number.number)) {
    case 'TOO_LONG': return `${read}, too long for ${where}`;
    case 'TOO_SHORT': return `${read}, too short for ${where}`;
    case 'INVALID_LENGTH': return `${read}, a length no ${where} number has`;
    default: return `${read}, not a number in use in ${where}`;
  }
}

const TYPE_NAMES: Readonly<Record<string, NumberType>> = {
  MOBILE: 'mobile', FIXED_LINE: 'fixed_line', FIXED_LINE_OR_MOBILE: 'fixed_line_or_mobile', TOLL_FREE: 'toll_free',
  PREMIUM_RATE: 'premium_rate', SHARED_COST: 'shared_cost', VOIP: 'voip', PERSONAL_NUMBER: 'personal_number',
  PAGER: 'pager', UAN: 'uan', VOICEMAIL: 'voicemail',
};

function typeName(number: NumberParts): NumberType {
  return TYPE_NAMES[numberType(number) ?? ''] ?? 'unknown';
}
