/**
 * Plivo's message vocabulary.
 *
 * States: `queued` (accepted, in Plivo's queue) → `sent` (handed to the carrier)
 * → `delivered` / `undelivered`; or `queued` → `failed` (never reached the
 * carrier: expired 420, country barred 450, no credit 900, …). `rejected` comes
 * from older docs and SDK filters; `read` is WhatsApp only; `received` is inbound.
 *
 * `sent` is not in FINAL_STATES although it can be final: where no delivery
 * receipt comes (often the US and Canada) a message stays `sent` for ever, so a
 * tracker needs its own cut-off.
 */

export const MESSAGE_STATES = ['queued', 'sent', 'delivered', 'undelivered', 'failed', 'rejected', 'read', 'received'] as const;

export type MessageState = (typeof MESSAGE_STATES)[number];

export const FINAL_STATES: ReadonlySet<MessageState> = new Set<MessageState>([
  'delivered',
  'undelivered',
  'failed',
  'rejected',
  'read',
  'received',
]);

export function isMessageState(value: string): value is MessageState {
  return (MESSAGE_STATES as readonly string[]).includes(value);
}

/** A message detail record, from `GET /Message/{uuid}/` or a List page. */
export interface Mdr {
  messageUuid: string;
  /** When Plivo queued the message; Plivo writes it in the account's zone, parsed to an instant. */
  messageTime: Date;
  /** 'outbound' or 'inbound'. */
  direction: string;
  state: MessageState;
  /** 'sms', 'mms', 'whatsapp'. */
  type: string;
  fromNumber: string;
  toNumber: string;
  /** Billed segments. */
  units: number;
  /** Decimal strings as Plivo sends them ("0.00350"): money is not rounded through a float. */
  totalRate: string;
  totalAmount: string;
  /** null until there is an outcome; "000" when delivered. See the codes in /work/shared/plivo-api.md. */
  errorCode: string | null;
  errorMessage?: string | null;
  /** message_updated_time: when the state last changed (unconfirmed whether every record has it). */
  updatedTime?: Date | null;
  /** The record as Plivo sent it, for fields smsrun does not model. */
  raw?: Readonly<Record<string, unknown>>;
}
