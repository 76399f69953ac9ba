/**
 * Plivo's message error codes (the `error_code` of an MDR or a status callback) and what each means to
 * someone deciding what to do next: shown as `error_meaning` in the report, and in `status` and the HTML
 * report. Source: Plivo's "Error Codes" page for messaging (codes 10 to 1000), summarised in our words.
 * `retryLater` marks the codes where sending the same message again later may succeed.
 */

export interface ErrorCodeInfo {
  /** Plivo's name for it (the MDR's `error_message`). */
  title: string;
  /** What it means and what to do, in one sentence. */
  meaning: string;
  retryLater: boolean;
}

const CODES: Readonly<Record<string, ErrorCodeInfo>> = {
  '000': { title: 'Delivered', meaning: 'no error: the carrier confirmed delivery', retryLater: false },
  '10': { title: 'Invalid Message', meaning: 'a carrier refused the content as invalid; tell Plivo support if it keeps happening', retryLater: false },
  '20': { title: 'Network Error', meaning: "the carrier's network had a temporary problem; sending again later may work", retryLater: true },
  '30': { title: 'Spam Detected', meaning: "a carrier's spam filter blocked it (its content, or too much volume from a long code number)", retryLater: false },
  '40': { title: 'Invalid Source Number', meaning: 'the sender number is malformed, cannot send SMS, or is not on this Plivo account', retryLater: false },
  '50': { title: 'Invalid Destination Number', meaning: 'the destination is not a valid mobile number', retryLater: false },
  '60': { title: 'Loop Detected', meaning: 'the same message kept going back and forth between the same two numbers', retryLater: false },
  '70': { title: 'Destination Permanently Unavailable', meaning: 'the number is out of service or cannot receive texts', retryLater: false },
  '80': { title: 'Destination Temporarily Unavailable', meaning: 'the phone was off or out of coverage; sending again later may work', retryLater: true },
  '90': { title: 'No Route Available', meaning: 'Plivo has no carrier route to this destination', retryLater: false },
  '100': { title: 'Prohibited by Carrier', meaning: 'the carrier does not accept this traffic (sender, content or destination)', retryLater: false },
  '110': { title: 'Message Too Long', meaning: 'the text is longer than the carrier accepts', retryLater: false },
  '120': { title: 'MMS Too Large', meaning: 'the media of the MMS add up to more than 5 MB', retryLater: false },
  '200': { title: 'Source Number Blocked by STOP from Destination Number', meaning: 'the recipient opted out (replied STOP to this sender): do not text them again', retryLater: false },
  '201': { title: 'US Toll-Free to Canada Blocked', meaning: 'a US toll-free number cannot text Canadian numbers', retryLater: false },
  '420': { title: 'Message Expired', meaning: "it waited in Plivo's queue longer than its message_expiry; sending again, slower, may work", retryLater: true },
  '450': { title: 'Destination Country Barred', meaning: "texts to this country are not enabled on the account (Plivo console: geo permissions)", retryLater: false },
  '900': { title: 'Insufficient Credit', meaning: 'the Plivo account ran out of credit; top it up, then send again', retryLater: true },
  '1000': { title: 'Unknown Error', meaning: 'Plivo did not say why; ask Plivo support with the message_uuid', retryLater: false },
};

/** What an error code means, or null for no code; an unlisted code still gets a sentence. */
export function errorMeaning(code: string | null | undefined): string | null {
  if (code === null || code === undefined || code === '') return null;
  return CODES[code]?.meaning ?? `${UNLISTED[0]}${code}${UNLISTED[1]}`;
}

/** The meaning of a code not in the list: the text before the code and after it. */
export const UNLISTED = ['Plivo error ', ", not in smsrun's list: see Plivo's error code reference"] as const;

/** Every listed code's meaning (for the report computed in SQL). */
export function errorMeanings(): Record<string, string> {
  return Object.fromEntries(Object.entries(CODES).map(([code, info]) => [code, info.meaning]));
}

export function errorCodeInfo(code: string): ErrorCodeInfo | undefined {
  return CODES[code];
}
