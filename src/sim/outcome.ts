/**
 * How each message ends, decided by the last two digits of its number so that
 * tests can ask for every outcome:
 *
 *   …97  undelivered, error 80 (destination temporarily unavailable)
 *   …98  failed, error 90 (no route): at its drain slot, straight from `queued`,
 *        since `failed` means it never reached the carrier; not charged
 *   …99  `sent` for ever: no receipt, as often in the US and Canada
 *   else delivered, error 000
 *
 * Numbers starting with 999 (not an allocated country code) are refused at
 * send time instead: see create.ts. A number that opted out (the `optedOut`
 * option, or a STOP sent with `reply`) fails with error 200 at its drain slot,
 * whatever its digits.
 */

export type Outcome =
  | { kind: 'receipt'; state: 'delivered' | 'undelivered'; errorCode: string }
  | { kind: 'fail-at-handoff'; state: 'failed'; errorCode: string }
  | { kind: 'no-receipt' };

/** Plivo's error for a recipient who opted out (replied STOP). */
export const OPTED_OUT = '200';

export function outcomeFor(to: string, optedOut = false): Outcome {
  if (optedOut) return { kind: 'fail-at-handoff', state: 'failed', errorCode: OPTED_OUT };
  switch (to.slice(-2)) {
    case '97':
      return { kind: 'receipt', state: 'undelivered', errorCode: '80' };
    case '98':
      return { kind: 'fail-at-handoff', state: 'failed', errorCode: '90' };
    case '99':
      return { kind: 'no-receipt' };
    default:
      return { kind: 'receipt', state: 'delivered', errorCode: '000' };
  }
}

/** error code of a message that waited in its queue longer than its message_expiry. */
export const EXPIRED = '420';

const ERROR_MESSAGES: Readonly<Record<string, string>> = {
  '000': '',
  '10': 'Invalid Message',
  '20': 'Network Error',
  '30': 'Spam Detected',
  '40': 'Invalid Source Number',
  '50': 'Invalid Destination Number',
  '60': 'Loop Detected',
  '70': 'Destination Permanently Unavailable',
  '80': 'Destination Temporarily Unavailable',
  '90': 'No Route Available',
  '100': 'Prohibited by Carrier',
  '110': 'Message Too Long',
  '200': 'Source Number Blocked by STOP from Destination Number',
  '420': 'Message Expired',
  '450': 'Destination Country Barred',
  '900': 'Insufficient Credit',
  '1000': 'Unknown Error',
};

/** error_message for an error_code; '' before an outcome and on delivery. */
export function errorMessage(code: string | null): string {
  return code === null ? '' : (ERROR_MESSAGES[code] ?? 'Unknown Error');
}
