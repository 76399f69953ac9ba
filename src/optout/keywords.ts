/**
 * Opt-out and opt-in keywords of inbound messages (CTIA's standard set, as carriers and Plivo use them).
 * A message is a keyword when its whole text is one, ignoring case, surrounding white space and
 * punctuation ("Stop", " STOP! "); "please stop texting me" is not, because a person writing a sentence may
 * mean anything, and a keyword is what the campaign's footer tells people to send.
 */
const OPT_OUT = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT']);
const OPT_IN = new Set(['START', 'UNSTOP']);

export type Intent = 'opt_out' | 'opt_in' | null;

export function keywordIntent(text: string): Intent {
  const word = text.normalize('NFKC').replace(/^[\s\p{P}]+|[\s\p{P}]+$/gu, '').toUpperCase();
  if (OPT_OUT.has(word)) return 'opt_out';
  if (OPT_IN.has(word)) return 'opt_in';
  return null;
}

export const OPT_OUT_KEYWORDS = [...OPT_OUT];
export const OPT_IN_KEYWORDS = [...OPT_IN];
