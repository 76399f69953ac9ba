/**
 * A message as Plivo shows it: the message detail record (MDR) of
 * `GET /Message/{uuid}/` (which adds api_id) and of each List object.
 *
 * Example (the fields and formats of Plivo's own fixtures):
 *   { "error_code": null, "error_message": "", "from_number": "14155550100",
 *     "message_direction": "outbound", "message_state": "sent",
 *     "message_time": "2024-08-21 18:28:49.244057+05:30", "message_type": "sms",
 *     "message_uuid": "5b40a428-…", "resource_uri": "/v1/Account/MA…/Message/5b40a428-…/",
 *     "to_number": "14155550123", "total_amount": "0.00500", "total_rate": "0.00500",
 *     "units": 1, "powerpack_id": null, "requester_ip": "127.0.0.1",
 *     "destination_country_iso2": "US", "message_sent_time": "…", "message_updated_time": "…" }
 *
 * from_number and to_number have no '+'. With log=false (or content_only, which
 * per the SDK docs masks the number), to_number is masked like 141XXXXX528.
 */

import { formatPlivoTime } from './clock.js';
import { countryIso2 } from './country.js';
import { RATE, totalAmount, type MessageRecord } from './message.js';
import { errorMessage } from './outcome.js';

export interface MdrContext {
  authId: string;
  timezoneOffset: string;
}

export function resourceUri(authId: string, uuid: string): string {
  return `/v1/Account/${authId}/Message/${uuid}/`;
}

export function toMdr(m: MessageRecord, ctx: MdrContext): Record<string, unknown> {
  const time = (us: number): string => formatPlivoTime(us, ctx.timezoneOffset);
  return {
    error_code: m.errorCode,
    error_message: errorMessage(m.errorCode),
    from_number: m.from,
    message_direction: 'outbound',
    message_state: m.state,
    message_time: time(m.messageTimeUs),
    message_type: m.type,
    message_uuid: m.uuid,
    resource_uri: resourceUri(ctx.authId, m.uuid),
    to_number: m.log === 'false' || m.log === 'content_only' ? maskNumber(m.to) : m.to,
    total_amount: totalAmount(m),
    total_rate: RATE[m.type],
    units: m.units,
    powerpack_id: m.powerpackUuid,
    requester_ip: m.requesterIp,
    destination_country_iso2: countryIso2(m.to),
    is_domestic: countryIso2(m.to) !== '' && countryIso2(m.to) === countryIso2(m.from),
    message_sent_time: m.sentAtUs === null ? null : time(m.sentAtUs),
    message_updated_time: time(m.updatedAtUs),
  };
}

/** Keeps the first three and last three digits: 14155550123 → 141XXXXX123. */
export function maskNumber(n: string): string {
  if (n.length <= 6) return n;
  return n.slice(0, 3) + 'X'.repeat(n.length - 6) + n.slice(-3);
}
