/**
 * Turns the JSON of a message detail record into an Mdr. Plivo's SDK fixtures
 * send `units` as a number and money as strings ("0.00350"); both are accepted
 * either way, and money stays a string so no float rounding creeps into costs.
 */
import { isMessageState, type Mdr } from './types.js';
import { parsePlivoTime } from './time.js';

/** Throws a TypeError naming the field when the record is not one smsrun understands. */
export function parseMdr(value: unknown): Mdr {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError('message record is not a JSON object');
  }
  const raw = value as Record<string, unknown>;
  const messageUuid = requireString(raw, 'message_uuid');
  const state = requireString(raw, 'message_state');
  if (!isMessageState(state)) {
    throw new TypeError(`message ${messageUuid} has an unknown message_state '${state}'`);
  }
  // null is read as "not priced yet" (unconfirmed whether Plivo ever sends it); absent is an error.
  const units = raw['units'] === null ? 0 : Number(raw['units']);
  if (!Number.isInteger(units) || units < 0) {
    throw new TypeError(`message ${messageUuid} has units ${JSON.stringify(raw['units'])}, not a whole number`);
  }
  return {
    messageUuid,
    messageTime: parsePlivoTime(requireString(raw, 'message_time')),
    direction: requireString(raw, 'message_direction'),
    state,
    type: requireString(raw, 'message_type'),
    fromNumber: requireString(raw, 'from_number'),
    toNumber: requireString(raw, 'to_number'),
    units,
    totalRate: money(raw, 'total_rate'),
    totalAmount: money(raw, 'total_amount'),
    errorCode: optionalString(raw, 'error_code'),
    errorMessage: optionalString(raw, 'error_message'),
    updatedTime: optionalTime(raw, 'message_updated_time'),
    raw,
  };
}

function requireString(raw: Record<string, unknown>, key: string): string {
  const v = raw[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  throw new TypeError(`message record has no ${key} (got ${JSON.stringify(v) ?? 'undefined'})`);
}

/** An optional time; one that does not parse is treated as absent (it only tunes the look schedule). */
function optionalTime(raw: Record<string, unknown>, key: string): Date | null {
  const v = optionalString(raw, key);
  if (v === null) return null;
  try {
    return parsePlivoTime(v);
  } catch {
    return null;
  }
}

/** null, absent and "" all mean "no value yet". */
function optionalString(raw: Record<string, unknown>, key: string): string | null {
  const v = raw[key];
  if (v === null || v === undefined || v === '') return null;
  return typeof v === 'string' ? v : String(v);
}

function money(raw: Record<string, unknown>, key: string): string {
  if (raw[key] === null) return '0.00000';
  const v = requireString(raw, key);
  if (!/^-?\d+(\.\d+)?$/.test(v)) throw new TypeError(`message record has ${key} '${v}', not a decimal amount`);
  return v;
}
