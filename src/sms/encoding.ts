/**
 * How Plivo encodes and bills a text: GSM 03.38 when every character is in the
 * GSM alphabet (basic table plus extension table), otherwise UCS-2.
 *
 * Vocabulary:
 * - length: what Plivo's limits are measured in. For GSM, septets: extension
 *   characters are sent as ESC + character, so they take two. For UCS-2, UTF-16
 *   code units: a character outside the BMP (most emoji) takes two.
 * - units: the segments a message is split into, which is what Plivo bills
 *   (an MDR's `total_amount` is `total_rate × units`).
 */

export type Encoding = 'GSM' | 'UCS-2';

export interface TextInfo {
  encoding: Encoding;
  length: number;
  units: number;
  /**
   * Up to five distinct characters that forced UCS-2, in order of appearance,
   * so a message can name them (a smart quote pasted from a word processor is
   * the usual culprit). Absent for GSM text.
   */
  nonGsm?: string[];
}

export const MAX_GSM_LENGTH = 1600;
export const MAX_UCS2_LENGTH = 737;

const GSM_SINGLE_UNIT = 160;
const GSM_PER_UNIT = 153;
const UCS2_SINGLE_UNIT = 70;
const UCS2_PER_UNIT = 67;
const NON_GSM_SAMPLE = 5;

// GSM 03.38 basic table, row by row (0x00–0x7F). ESC (0x1B) introduces the
// extension table and is not a character of its own. Position 0x09 is
// upper-case Ç; lower-case ç and the back-tick are not in the alphabet.
const GSM_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅå' +
    'Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ' +
    ' !"#¤%&\'()*+,-./' +
    '0123456789:;<=>?' +
    '¡ABCDEFGHIJKLMNO' +
    'PQRSTUVWXYZÄÖÑÜ§' +
    '¿abcdefghijklmno' +
    'pqrstuvwxyzäöñüà',
);

// Extension table: each is sent as ESC + character, so it counts two septets.
const GSM_EXTENSION = new Set('\f^{}\\[~]|€');

/**
 * Encoding, length and units of `text`.
 *
 * The empty text is GSM, length 0, 1 unit: a message is at least one segment.
 * Whether empty text is allowed at all depends on the message type (an SMS
 * requires text, an MMS does not), so that check belongs to the caller.
 *
 * Units follow Plivo's published arithmetic (160/153, 70/67). A carrier that
 * refuses to split an escape pair or a surrogate pair across segments may
 * occasionally bill one unit more; the MDR's `units` is the authority.
 */
export function analyzeText(text: string): TextInfo {
  let septets = 0;
  const nonGsm: string[] = [];
  for (const char of text) {
    if (GSM_BASIC.has(char)) septets += 1;
    else if (GSM_EXTENSION.has(char)) septets += 2;
    else if (!nonGsm.includes(char)) nonGsm.push(char);
  }
  if (nonGsm.length === 0) {
    return { encoding: 'GSM', length: septets, units: unitsFor(septets, GSM_SINGLE_UNIT, GSM_PER_UNIT) };
  }
  // String length is already in UTF-16 code units, which is what UCS-2 counts.
  const length = text.length;
  return {
    encoding: 'UCS-2',
    length,
    units: unitsFor(length, UCS2_SINGLE_UNIT, UCS2_PER_UNIT),
    nonGsm: nonGsm.slice(0, NON_GSM_SAMPLE),
  };
}

function unitsFor(length: number, singleUnit: number, perUnit: number): number {
  return length <= singleUnit ? 1 : Math.ceil(length / perUnit);
}

/** Null if Plivo accepts a text this long, else a sentence saying what to do. */
export function textLengthProblem(info: TextInfo): string | null {
  if (info.encoding === 'GSM') {
    if (info.length <= MAX_GSM_LENGTH) return null;
    return `text is ${info.length} GSM characters; Plivo allows at most ${MAX_GSM_LENGTH} (shorten it)`;
  }
  if (info.length <= MAX_UCS2_LENGTH) return null;
  const culprits = info.nonGsm?.length ? `: ${info.nonGsm.map((c) => `'${c}'`).join(', ')}` : '';
  return (
    `text is ${info.length} UCS-2 characters; Plivo allows at most ${MAX_UCS2_LENGTH} ` +
    `(shorten it or remove the non-GSM characters that force UCS-2${culprits}; ` +
    `in GSM it could be up to ${MAX_GSM_LENGTH})`
  );
}

/**
 * Look-alikes that a word processor or phone keyboard puts in a text, and the GSM characters Plivo's own
 * "smart encoding" setting sends instead: one curly apostrophe would otherwise make the whole message
 * UCS-2 (70 characters a unit instead of 160).
 */
const LOOK_ALIKES: ReadonlyMap<string, string> = new Map([
  ...[...'‘’‚‛′`´'].map((c) => [c, "'"] as const),
  ...[...'“”„‟″«»'].map((c) => [c, '"'] as const),
  ...[...'‐‑‒–—―−'].map((c) => [c, '-'] as const),
  ...[...'\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000'].map((c) => [c, ' '] as const),
  ['…', '...'], ['•', '-'], ['ˆ', '^'], ['˜', '~'], ['‹', '<'], ['›', '>'], ['ç', 'Ç'],
  ['\u200b', ''], ['\u200c', ''], ['\u2060', ''], ['\ufeff', ''],
]);

const LOOK_ALIKE_CHARS = new RegExp(`[${[...LOOK_ALIKES.keys()].join('').replace(/[\]\\^-]/g, '\\$&')}]`, 'gu');

/** `text` with its look-alikes replaced by GSM characters (the job's `gsm_replace`). */
export function gsmReplace(text: string): string {
  return text.replace(LOOK_ALIKE_CHARS, (c) => LOOK_ALIKES.get(c) ?? c);
}
