/**
 * Inbound messages: someone texts one of the account's numbers, and Plivo posts it to the message url of
 * that number's application, form-encoded and signed like a status callback (V3 and V2 headers):
 *
 *   From=14155550123&To=14155550100&Type=sms&Text=STOP&MessageUUID=…&Units=1&TotalRate=0.00000
 *   &TotalAmount=0.00000&MessageIntent=optout&PowerpackUUID=
 *
 * A STOP-like text also opts the number out at the carrier, here as in reality: later messages to it fail
 * with error 200; START lifts it. One attempt, no retries (tests call `reply` again if they want one).
 */
import { randomUUID } from 'node:crypto';
import type { Rng } from './rng.js';
import { signatureHeaders } from './signing.js';

const OPT_OUT = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT']);
const OPT_IN = new Set(['START', 'UNSTOP']);
const HELP = new Set(['HELP', 'INFO']);

export interface ReplyOptions {
  /** Our number it is sent to. @default the sender of the last message to `from`, else '' */
  to?: string;
  /** @default the simulator's inboundUrl */
  url?: string;
  /** @default 8000 */
  timeoutMs?: number;
}

export interface InboundAttempt {
  from: string;
  to: string;
  text: string;
  uuid: string;
  url: string;
  /** The receiver's status code, or null when it could not be reached in time. */
  httpStatus: number | null;
  ok: boolean;
  error?: string;
}

/** 'optout' / 'optin' / 'help' for a keyword text (Plivo's MessageIntent), else ''. */
export function messageIntent(text: string): string {
  const word = text.trim().replace(/[.!]+$/, '').toUpperCase();
  return OPT_OUT.has(word) ? 'optout' : OPT_IN.has(word) ? 'optin' : HELP.has(word) ? 'help' : '';
}

export async function postInbound(o: { from: string; to: string; text: string; url: string; authToken: string; rng: Rng; timeoutMs: number }): Promise<InboundAttempt> {
  const uuid = randomUUID();
  const fields: Record<string, string> = {
    From: o.from, To: o.to, Type: 'sms', Text: o.text, MessageUUID: uuid, Units: '1', TotalRate: '0.00000', TotalAmount: '0.00000',
    MessageIntent: messageIntent(o.text), PowerpackUUID: '',
  };
  const attempt: InboundAttempt = { from: o.from, to: o.to, text: o.text, uuid, url: o.url, httpStatus: null, ok: false };
  try {
    const res = await fetch(o.url, {
      method: 'POST',
      headers: {
        ...signatureHeaders('POST', o.url, fields, o.authToken, o.rng),
        'User-Agent': 'PlivoHTTP/1.0 (smsrun simulator)',
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams(fields).toString(),
      redirect: 'manual',
      signal: AbortSignal.timeout(o.timeoutMs),
    });
    attempt.httpStatus = res.status;
    await res.arrayBuffer();
    attempt.ok = res.status >= 200 && res.status < 300;
  } catch (error) {
    attempt.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
  return attempt;
}
