/**
 * What kind of sender a sanitised src is, which decides how Plivo's List API is asked for it
 * (plivo-api.md: from_number/to_number are exact; a number in E.164 with '+', a short code or an
 * alphanumeric sender ID exactly as it is).
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

export type SenderKind = 'long_code' | 'short_code' | 'alphanumeric';

/** Short codes run to 8 digits at most (5–6 in the US, 5 in the UK, up to 8 elsewhere). */
const MAX_SHORT_CODE_DIGITS = 8;

/** A sanitised src (letters and digits only). */
export function senderKind(src: string): SenderKind {
  if (/[A-Za-z]/.test(src)) return 'alphanumeric';
  if (src.length > MAX_SHORT_CODE_DIGITS) return 'long_code';
  // A few countries have E.164 numbers of 8 digits or fewer: those that are valid numbers are long codes.
  return parsePhoneNumberFromString(`+${src}`)?.isValid() ? 'long_code' : 'short_code';
}

/** The form Plivo's List filters ask for: '+digits' for a long code, the sender exactly otherwise. */
export function listFilterForm(src: string): string {
  return senderKind(src) === 'long_code' ? `+${src}` : src;
}
