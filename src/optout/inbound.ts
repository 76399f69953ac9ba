/**
 * Plivo's inbound-message callback: someone texted one of the account's numbers. Plivo calls the
 * number's application's message url, form-encoded on POST, signed as status callbacks are (V3, V2):
 *
 *   From=14155550123&To=14155550100&Type=sms&Text=STOP&MessageUUID=2a7c…&Units=1&TotalRate=0.00000
 *   &TotalAmount=0.00000&MessageIntent=optout&PowerpackUUID=
 *
 * `From` is the person (the number smsrun texted), `To` our sender. It has `Text` and no `Status`, which is
 * how the receiver tells it from a status callback. smsrun acts on opt-out and opt-in keywords only
 * (keywords.ts); other messages are answered 200 and forgotten (smsrun is not an inbox).
 */
import type { Db } from '../ledger/db.js';
import { addSuppressions, removeSuppressions } from '../ledger/suppressions.js';
import { keywordIntent, type Intent } from './keywords.js';

export interface InboundMessage {
  /** The sender of the inbound text, E.164 without '+'. */
  from: string;
  /** Our number it was sent to. */
  to: string;
  text: string;
  uuid: string;
}

type Fields = Readonly<Record<string, string | readonly string[]>>;

/** True for an inbound-message callback (Text, no Status). */
export function isInboundCallback(fields: Fields): boolean {
  return field(fields, 'Text') !== undefined && field(fields, 'Status') === undefined;
}

export function parseInbound(fields: Fields): InboundMessage | { invalid: string } {
  const from = (field(fields, 'From') ?? '').trim().replace(/^\+/, '');
  const to = (field(fields, 'To') ?? '').trim().replace(/^\+/, '');
  if (!/^\d{5,15}$/.test(from)) return { invalid: 'an inbound message needs From, a phone number' };
  return { from, to, text: field(fields, 'Text') ?? '', uuid: (field(fields, 'MessageUUID') ?? '').slice(0, 64) };
}

export interface InboundResult {
  intent: Intent;
  /** Whether the list changed (a repeated STOP, or START for a number not listed, changes nothing). */
  changed: boolean;
}

/** STOP & co. suppress `from` for the account; START / UNSTOP lift it. Idempotent (Plivo retries callbacks). */
export async function applyInbound(db: Db, account: string, m: InboundMessage): Promise<InboundResult> {
  const intent = keywordIntent(m.text);
  if (intent === null) return { intent, changed: false };
  return db.transaction(async (tx) => {
    const changed = intent === 'opt_out'
      ? await addSuppressions(tx, account, [{ number: m.from, reason: `texted '${m.text.trim().slice(0, 40)}' to ${m.to || 'our number'}`, source: 'inbound' }])
      : await removeSuppressions(tx, account, [m.from]);
    if (changed > 0) {
      await tx.query('INSERT INTO events (campaign_id, kind, detail) VALUES (NULL, $1, $2)',
        [intent === 'opt_out' ? 'inbound_opt_out' : 'inbound_opt_in', JSON.stringify({ account, number: m.from, to: m.to, message_uuid: m.uuid })]);
    }
    return { intent, changed: changed > 0 };
  });
}

function field(fields: Fields, key: string): string | undefined {
  const v = fields[key];
  return typeof v === 'string' ? v : v?.[0];
}
