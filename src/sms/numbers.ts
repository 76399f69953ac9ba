/**
 * Phone number and sender rules, applied the way Plivo applies them, so a
 * campaign can reject a bad row before it costs a request.
 *
 * Plivo sanitises `dst` by dropping `/ - . + ( )` and white space, and `src`
 * by keeping only A–Z a–z 0–9. Numbers are written with the country code first
 * and no international prefix: 61412345678, not +61 412 345 678 or 0412 345 678.
 */

const MIN_DST_DIGITS = 8;
const MAX_DST_DIGITS = 14;
const MAX_NUMERIC_SRC = 14;
const MAX_ALPHANUMERIC_SRC = 11;
const EXAMPLE = 'e.g. 14155550100';

/** Drops `/ - . + ( )` and all white space; anything else is kept for dstProblem to name. */
export function sanitizeDst(raw: string): string {
  return raw.replace(/[/\-.+()\s]/g, '');
}

/**
 * Null if `sanitized` (the output of sanitizeDst) is a number Plivo will send
 * to, else a sentence naming the fix. Pass the raw value too so the sentence
 * quotes what the user wrote.
 *
 * 8 to 14 digits: the shortest mobile numbers with their country code have 8,
 * and Plivo refuses more than 14.
 */
export function dstProblem(sanitized: string, raw: string = sanitized): string | null {
  const shown = `'${raw}'`;
  if (sanitized === '') return `${shown} is empty: write a number with the country code first, ${EXAMPLE}`;
  if (/[A-Za-z]/.test(sanitized)) {
    return `${shown} contains letters: a destination is digits only, with the country code first, ${EXAMPLE}`;
  }
  const stray = /\D/.exec(sanitized);
  if (stray) {
    return `${shown} contains '${stray[0]}': a destination is digits only, with the country code first, ${EXAMPLE}`;
  }
  if (sanitized.startsWith('00')) {
    const fixed = sanitized.slice(2);
    return `${shown} starts with the international prefix 00: drop it and keep the country code, e.g. ${fixed}`;
  }
  if (sanitized.startsWith('0')) {
    return (
      `${shown} has no country code: write it with the country code first and without the leading 0, ` +
      `e.g. 61412345678 for the Australian 0412 345 678`
    );
  }
  if (sanitized.length < MIN_DST_DIGITS) {
    return (
      `${shown} is too short (${sanitized.length} digits): with its country code a number has ` +
      `${MIN_DST_DIGITS} to ${MAX_DST_DIGITS} digits, ${EXAMPLE}`
    );
  }
  if (sanitized.length > MAX_DST_DIGITS) {
    return (
      `${shown} is too long (${sanitized.length} digits): Plivo allows at most ${MAX_DST_DIGITS}; ` +
      'check for a doubled country code or extra digits'
    );
  }
  return null;
}

/** Keeps only A–Z a–z 0–9, as Plivo does. */
export function sanitizeSrc(raw: string): string {
  return raw.replace(/[^A-Za-z0-9]/g, '');
}

/**
 * Null if `sanitized` (the output of sanitizeSrc) is a usable sender, else a
 * sentence naming the fix. A sender with a letter is an alphanumeric sender ID
 * (1–11 characters); otherwise it is a number (country code first, at most 14
 * digits) or a short code.
 */
export function srcProblem(sanitized: string, raw: string = sanitized): string | null {
  const shown = `'${raw}'`;
  if (sanitized === '') {
    return (
      `sender ${shown} is empty once reduced to letters and digits: ` +
      `use a phone number, ${EXAMPLE}, or a sender ID such as ACME`
    );
  }
  if (/[A-Za-z]/.test(sanitized)) {
    if (sanitized.length <= MAX_ALPHANUMERIC_SRC) return null;
    return (
      `sender ID ${shown} has ${sanitized.length} characters; ` +
      `Plivo allows at most ${MAX_ALPHANUMERIC_SRC} letters and digits (shorten it)`
    );
  }
  if (sanitized.startsWith('0')) {
    return `sender ${shown} has no country code: write it with the country code first, ${EXAMPLE}`;
  }
  if (sanitized.length > MAX_NUMERIC_SRC) {
    return `sender ${shown} is too long (${sanitized.length} digits): Plivo allows at most ${MAX_NUMERIC_SRC}`;
  }
  return null;
}

/**
 * '+' and the digits: the List API's from_number/to_number filters match E.164.
 * Throws a TypeError for something that is not a phone number: an alphanumeric
 * sender ID has no E.164 form.
 */
export function toE164(number: string): string {
  const digits = number.replace(/[^0-9A-Za-z]/g, '');
  if (!/^\d+$/.test(digits)) {
    throw new TypeError(`toE164: '${number}' is not a phone number (an alphanumeric sender ID has no E.164 form)`);
  }
  return `+${digits}`;
}
