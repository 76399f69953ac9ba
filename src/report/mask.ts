/**
 * `--mask`: destination numbers hidden the way Plivo hides them for `log=false` (`+141XXXXX528`): the first
 * three and last three digits stay, every other letter or digit becomes `X`, punctuation stays. Shorter
 * values keep only their last two digits, and values of three characters or fewer are masked whole.
 */

const KEPT_HEAD = 3;
const KEPT_TAIL = 3;
/** Numbers with fewer digits than this keep only their last two. */
const FULL_NUMBER_DIGITS = 8;

export function maskNumber(value: string): string {
  const digits = value.replace(/\D/g, '').length;
  const head = digits >= FULL_NUMBER_DIGITS ? KEPT_HEAD : 0;
  const tail = digits >= FULL_NUMBER_DIGITS ? KEPT_TAIL : digits > 3 ? 2 : 0;
  let seen = 0;
  let out = '';
  for (const ch of value) {
    if (/\d/.test(ch)) {
      seen++;
      out += seen <= head || seen > digits - tail ? ch : 'X';
    } else {
      out += /[\p{L}\p{N}]/u.test(ch) ? 'X' : ch;
    }
  }
  return out;
}

/**
 * A reason with numbers in it (smsrun quotes the value it could not use; Plivo's refusals quote a number of
 * the batch): the row's own value wherever it appears, and any run of 8 or more digits (with the usual
 * phone punctuation inside), are masked.
 */
export function maskReason(reason: string, rawDst: string | null): string {
  let out = rawDst && rawDst.length > 3 ? reason.split(rawDst).join(maskNumber(rawDst)) : reason;
  out = out.replace(/\+?\d[\d ().-]*\d/g, (m) => (m.replace(/\D/g, '').length >= FULL_NUMBER_DIGITS ? maskNumber(m) : m));
  return out;
}
