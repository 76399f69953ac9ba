/**
 * Validation of a send (`POST /Message/`), the way Plivo answers it.
 *
 * - exactly one of src / powerpack_uuid; src keeps only letters and digits;
 * - dst split on '<', each number sanitised, duplicates removed, at most 1000
 *   unique; invalid numbers are listed in `invalid_number` and the rest sent,
 *   unless none is valid (400). A number is invalid if smsrun's own dstProblem
 *   says so, or if it starts with one of the `unallocated` prefixes (999 by
 *   default: not an allocated country code), which lets tests produce numbers
 *   only the provider refuses;
 * - text required for sms, at most 1600 GSM / 737 UCS-2 characters;
 * - mms needs 1–10 media_urls (or media_ids);
 * - message_expiry 5–10799 s (default 10800); url must be http(s); method GET/POST.
 *
 * `invalid_number` lists the sanitised numbers.
 */

import { analyzeText, MAX_GSM_LENGTH, MAX_UCS2_LENGTH } from '../sms/encoding.js';
import { dstProblem, sanitizeDst, sanitizeSrc, srcProblem } from '../sms/numbers.js';
import { ApiError } from './errors.js';
import { listParam, stringParam, type Params } from './params.js';
import type { LogMode, MessageType } from './message.js';

export const MAX_DESTINATIONS = 1000;
const MAX_MEDIA = 10;
const EXPIRY_MIN = 5;
const EXPIRY_MAX = 10_799;
const EXPIRY_DEFAULT = 10_800;
/** The prefix of numbers the simulated provider refuses although they look valid. */
export const UNALLOCATED_PREFIX = '999';

export interface SendRequest {
  /** Queue key: sanitised src, or the powerpack uuid. */
  sender: string;
  from: string;
  powerpackUuid: string | null;
  /** Valid, unique, sanitised numbers, in the order given. */
  destinations: string[];
  invalid: string[];
  type: MessageType;
  text: string;
  units: number;
  mediaUrls: string[];
  url: string | null;
  method: 'GET' | 'POST';
  log: LogMode;
  trackable: boolean;
  expirySec: number;
}

export function parseSendRequest(params: Params, unallocated: readonly string[] = [UNALLOCATED_PREFIX]): SendRequest {
  const { sender, from, powerpackUuid } = parseSender(params);
  const type = parseType(params);
  const text = stringParam(params, 'text') ?? '';
  const units = type === 'mms' ? 1 : smsUnits(text);
  const mediaUrls = type === 'mms' ? parseMedia(params) : [];
  const { url, method } = parseCallback(params);
  const { destinations, invalid } = parseDestinations(params, unallocated);
  return {
    sender,
    from,
    powerpackUuid,
    destinations,
    invalid,
    type,
    text,
    units,
    mediaUrls,
    url,
    method,
    log: parseLog(params),
    trackable: parseBoolean(params, 'trackable', false),
    expirySec: parseExpiry(params),
  };
}

function parseSender(params: Params): { sender: string; from: string; powerpackUuid: string | null } {
  const rawSrc = stringParam(params, 'src');
  const powerpack = stringParam(params, 'powerpack_uuid');
  if (rawSrc && powerpack) throw new ApiError(400, 'specify either src or powerpack_uuid, not both');
  if (powerpack) return { sender: powerpack, from: powerpackNumber(powerpack), powerpackUuid: powerpack };
  if (!rawSrc) throw new ApiError(400, 'either src or powerpack_uuid is required');
  const src = sanitizeSrc(rawSrc);
  if (srcProblem(src, rawSrc) !== null) throw new ApiError(400, `'${rawSrc}' is not a valid source number.`);
  return { sender: src, from: src, powerpackUuid: null };
}

/** The number a powerpack "picks": a fixed US-style number derived from its uuid. */
function powerpackNumber(uuid: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < uuid.length; i++) h = Math.imul(h ^ uuid.charCodeAt(i), 0x01000193);
  return '1415' + String(h >>> 0).padStart(10, '0').slice(-7);
}

function parseType(params: Params): MessageType {
  const type = (stringParam(params, 'type') ?? 'sms').toLowerCase();
  if (type !== 'sms' && type !== 'mms') throw new ApiError(400, `type parameter must be sms or mms, got '${type}'`);
  return type;
}

function smsUnits(text: string): number {
  if (text === '') throw new ApiError(400, 'text parameter is required for sms');
  const info = analyzeText(text);
  if (info.encoding === 'UCS-2' && info.length > MAX_UCS2_LENGTH) {
    throw new ApiError(400, `text parameter length exceeds ${MAX_UCS2_LENGTH} unicode characters`);
  }
  if (info.encoding === 'GSM' && info.length > MAX_GSM_LENGTH) {
    throw new ApiError(400, `text parameter length exceeds ${MAX_GSM_LENGTH} characters`);
  }
  return info.units;
}

function parseMedia(params: Params): string[] {
  const urls = listParam(params, 'media_urls') ?? [];
  const ids = listParam(params, 'media_ids') ?? [];
  if (urls.length === 0 && ids.length === 0) throw new ApiError(400, 'media_urls is required for mms');
  if (urls.length + ids.length > MAX_MEDIA) throw new ApiError(400, `mms can carry at most ${MAX_MEDIA} media`);
  for (const u of urls) {
    if (!isHttpUrl(u)) throw new ApiError(400, `'${u}' in media_urls is not a valid url`);
  }
  return urls;
}

function parseCallback(params: Params): { url: string | null; method: 'GET' | 'POST' } {
  const url = stringParam(params, 'url') || null;
  if (url !== null && !isHttpUrl(url)) throw new ApiError(400, 'url parameter is not a valid url');
  const method = (stringParam(params, 'method') || 'POST').toUpperCase();
  if (method !== 'GET' && method !== 'POST') throw new ApiError(400, 'method parameter must be GET or POST');
  return { url, method };
}

function parseDestinations(params: Params, unallocated: readonly string[]): { destinations: string[]; invalid: string[] } {
  const value = params.dst;
  const raw = Array.isArray(value) ? value.map(String).join('<') : stringParam(params, 'dst');
  // Empty entries ('a<<b', a trailing '<') are ignored rather than reported as invalid numbers.
  const unique = [...new Set((raw ?? '').split('<').map(sanitizeDst))].filter((n) => n !== '');
  if (unique.length === 0) throw new ApiError(400, 'dst parameter is required');
  if (unique.length > MAX_DESTINATIONS) {
    throw new ApiError(
      400,
      `dst parameter has ${unique.length} unique numbers; at most ${MAX_DESTINATIONS} are allowed in one request`,
    );
  }
  const destinations: string[] = [];
  const invalid: string[] = [];
  for (const n of unique) {
    if (dstProblem(n) === null && !unallocated.some((p) => n.startsWith(p))) destinations.push(n);
    else invalid.push(n);
  }
  if (destinations.length === 0) {
    throw new ApiError(400, unique.length === 1 ? `'${unique[0]}' is not a valid phone number.` : 'invalid phone numbers.');
  }
  return { destinations, invalid };
}

function parseLog(params: Params): LogMode {
  const log = (stringParam(params, 'log') ?? 'true').toLowerCase();
  if (log === 'true' || log === 'false' || log === 'number_only' || log === 'content_only') return log;
  throw new ApiError(400, 'log parameter must be true, false, number_only or content_only');
}

function parseBoolean(params: Params, key: string, fallback: boolean): boolean {
  const v = stringParam(params, key)?.toLowerCase();
  if (v === undefined || v === '') return fallback;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new ApiError(400, `${key} parameter must be true or false`);
}

function parseExpiry(params: Params): number {
  const raw = stringParam(params, 'message_expiry');
  if (raw === undefined || raw === '') return EXPIRY_DEFAULT;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < EXPIRY_MIN || n > EXPIRY_MAX) {
    throw new ApiError(400, `message_expiry must be an integer between ${EXPIRY_MIN} and ${EXPIRY_MAX} seconds`);
  }
  return n;
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}
