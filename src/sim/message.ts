/**
 * What the simulator remembers about each accepted message.
 *
 * States the simulator produces (Plivo's outbound vocabulary):
 *   queued  accepted, waiting in its sender's queue
 *   sent    handed to the "carrier" at its drain slot
 *   delivered / undelivered   the carrier's receipt, after the delivery delay
 *   failed  never reached the carrier (expired in the queue, 420; or no route, 90)
 * A message whose number ends in 99 stays `sent` for ever, as where no receipt comes.
 */

export type SimState = 'queued' | 'sent' | 'delivered' | 'undelivered' | 'failed';
export type MessageType = 'sms' | 'mms';
/** Plivo's `log` parameter: `false` masks the number in the MDR and drops the text. */
export type LogMode = 'true' | 'false' | 'number_only' | 'content_only';

/** Per-unit prices the simulator charges (Plivo reports them as 5-decimal strings). */
export const RATE: Readonly<Record<MessageType, string>> = { sms: '0.00500', mms: '0.02000' };

export interface StateChange {
  readonly state: SimState;
  /** Microseconds since the epoch. */
  readonly atUs: number;
}

/** A message as tests and `/__sim/messages` see it. Live: its state moves on. */
export interface SimMessage {
  readonly uuid: string;
  /** 0-based position in acceptance order. */
  readonly seq: number;
  /** The queue it waits in, and the acceptLog's `src`: the sanitised src, or the powerpack uuid. */
  readonly sender: string;
  /** from_number: the sanitised src, or the number the powerpack picked. */
  readonly from: string;
  /** to_number, sanitised, without '+'. */
  readonly to: string;
  readonly type: MessageType;
  readonly text: string;
  readonly units: number;
  readonly mediaUrls: readonly string[];
  readonly powerpackUuid: string | null;
  /** Status callback url and method, as given. */
  readonly url: string | null;
  readonly method: 'GET' | 'POST';
  readonly log: LogMode;
  readonly trackable: boolean;
  readonly expirySec: number;
  readonly requesterIp: string;
  /** The create request that carried it (its api_id). */
  readonly requestId: string;
  readonly acceptedAtUs: number;
  readonly state: SimState;
  readonly errorCode: string | null;
  readonly sentAtUs: number | null;
  readonly updatedAtUs: number;
  /** Every state it has been in, first `queued`. */
  readonly history: readonly StateChange[];
}

/** The simulator's own, mutable, view of a message. */
export interface MessageRecord extends SimMessage {
  state: SimState;
  errorCode: string | null;
  sentAtUs: number | null;
  updatedAtUs: number;
  /** message_time; only `backdate` moves it. */
  messageTimeUs: number;
  history: StateChange[];
}

/** Moves a record to `state` at `atUs`. */
export function transition(m: MessageRecord, state: SimState, atUs: number, errorCode: string | null): void {
  m.state = state;
  m.errorCode = errorCode;
  m.updatedAtUs = atUs;
  if (state === 'sent') m.sentAtUs = atUs;
  m.history.push({ state, atUs });
}

/** total_amount: rate × units, nothing when the message failed (Plivo does not charge those). */
export function totalAmount(m: SimMessage): string {
  if (m.state === 'failed') return '0.00000';
  return (Number(RATE[m.type]) * m.units).toFixed(5);
}

/** A JSON-safe copy, for `/__sim/messages`. */
export function snapshot(m: SimMessage): SimMessage {
  return { ...m, mediaUrls: [...m.mediaUrls], history: m.history.map((h) => ({ ...h })) };
}
