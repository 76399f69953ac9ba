/**
 * startSimulator's options, their defaults, and their validation.
 */

import { randomInt } from 'node:crypto';
import { SimOptionsError } from './errors.js';
import { parseOffset } from './clock.js';
import { forkRng } from './rng.js';
import { UNALLOCATED_PREFIX } from './create.js';

/** Misbehaviour to inject, each a probability per request (0 = never), drawn from the seeded stream. */
export interface Faults {
  /** Answer 429 `too many requests` without processing. Create and read requests. */
  rate429: number;
  /** Answer 500/502/503 with an HTML (non-JSON) body without processing. Create and read requests. */
  rate5xx: number;
  /** Destroy the socket before processing: nothing was recorded. Create requests only. */
  dropBeforeAccept: number;
  /** Record the messages, then destroy the socket without answering. Create requests only. */
  dropAfterAccept: number;
  /**
   * Record the messages, then answer 500 or 503 with Plivo's JSON error body (`{"api_id", "error"}`) instead
   * of the 202: Plivo's API itself answered, and still queued them. Create requests only.
   */
  rate5xxAfterAccept: number;
  /** Delay a List answer (`GET /Message/`) by `slowListMs`, on top of `latencyMs`. List requests only. */
  slowList: number;
  /** The delay of a slow List answer, uniform in [min, max] ms. */
  slowListMs: [number, number];
  /** Uniform delay [min, max] ms before answering any API request; for a create, after the messages were recorded. */
  latencyMs: [number, number];
}

/** Plivo's account limits. */
export interface Limits {
  /** Requests admitted in any sliding 5 s; the next one gets 429. Plivo: 300. */
  requestsPer5s: number;
  /** Requests in flight at once; one more gets 429. Plivo: 100. */
  concurrent: number;
  /** List requests admitted in any sliding 60 s; the next one gets 429. Plivo: 20. */
  listPerMinute: number;
}

export interface SimOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 0 (any free port) */
  port?: number;
  /** @default made up from the seed: 'MA' + 18 upper-case letters and digits */
  authId?: string;
  /** @default made up from the seed: 40 letters and digits */
  authToken?: string;
  /** Per-sender queue drain rate (what is counted: see `mpsCounts`) per second. @default 1 */
  mps?: number;
  /** Per-sender overrides of `mps`, keyed by sanitised src (or powerpack uuid). */
  mpsBySrc?: Record<string, number>;
  /** Whether the queue drain counts segments (`units`, what US carriers count) or messages. @default 'units' */
  mpsCounts?: 'units' | 'messages';
  /** From `sent` to the delivery receipt, uniform in [min, max] ms. @default [200, 1500] */
  deliveryDelayMs?: [number, number];
  /** Account limits; `false` disables them. @default Plivo's { requestsPer5s: 300, concurrent: 100, listPerMinute: 20 } */
  limits?: Limits | false;
  /** @default all probabilities 0, latency [0, 0], slowListMs [2000, 5000] */
  faults?: Partial<Faults>;
  /** The account zone's offset in MDR times (`+HH:MM`). @default '+05:30' */
  timezoneOffset?: string;
  /** Waits before each callback retry after a failed attempt. @default [60000, 120000, 240000] */
  callbackRetryDelaysMs?: number[];
  /** How long a callback receiver may take to answer before the attempt counts as failed. @default 8000 */
  callbackTimeoutMs?: number;
  /** Seed of every random choice. @default random */
  seed?: number;
  /**
   * Prefixes (sanitised digits) of numbers the simulated provider refuses as invalid although smsrun finds them
   * valid (they come back in `invalid_number`, or as a 400 when alone): how tests reach Plivo's own refusals.
   * @default ['999'] (no country has that code)
   */
  unallocated?: string[];
  /**
   * A file that keeps the accepted messages and their states across simulator runs (sim/journal.ts): the
   * sandbox's memory, beside the ledger. @default none (the simulator forgets everything when it stops)
   */
  journal?: string;
  /**
   * Numbers (sanitised digits) that opted out: their messages are accepted, then fail with error 200 when they
   * leave the queue, as Plivo reports a recipient who replied STOP. `reply` with STOP / START changes the set.
   * @default []
   */
  optedOut?: string[];
  /**
   * The url inbound messages are posted to (the message url of the application of the account's numbers),
   * for `reply`. @default none: `reply` must be given a url
   */
  inboundUrl?: string;
}

export interface ResolvedOptions {
  host: string;
  port: number;
  authId: string;
  authToken: string;
  mps: number;
  mpsBySrc: Record<string, number>;
  mpsCounts: 'units' | 'messages';
  deliveryDelayMs: [number, number];
  limits: Limits | false;
  faults: Faults;
  timezoneOffset: string;
  callbackRetryDelaysMs: number[];
  callbackTimeoutMs: number;
  seed: number;
  unallocated: string[];
  optedOut: string[];
  inboundUrl: string | null;
}

export const PLIVO_LIMITS: Readonly<Limits> = { requestsPer5s: 300, concurrent: 100, listPerMinute: 20 };
export const NO_FAULTS: Readonly<Faults> = {
  rate429: 0,
  rate5xx: 0,
  dropBeforeAccept: 0,
  dropAfterAccept: 0,
  rate5xxAfterAccept: 0,
  slowList: 0,
  slowListMs: [2000, 5000],
  latencyMs: [0, 0],
};

const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const ALNUM = UPPER_ALNUM + 'abcdefghijklmnopqrstuvwxyz';

export function resolveOptions(opts: SimOptions = {}): ResolvedOptions {
  const seed = opts.seed ?? randomInt(0, 2 ** 31);
  if (!Number.isInteger(seed)) throw new SimOptionsError('seed', `must be an integer, got ${seed}`);
  const credentials = forkRng(seed, 'credentials');
  const authId = opts.authId ?? 'MA' + credentials.chars(UPPER_ALNUM, 18);
  const authToken = opts.authToken ?? credentials.chars(ALNUM, 40);
  if (!/^[A-Za-z0-9]+$/.test(authId)) throw new SimOptionsError('authId', `must be letters and digits, got '${authId}'`);
  if (authToken === '') throw new SimOptionsError('authToken', 'must not be empty');

  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SimOptionsError('port', `must be an integer in 0..65535, got ${port}`);
  }
  const mps = positive('mps', opts.mps ?? 1);
  const mpsBySrc: Record<string, number> = {};
  for (const [src, rate] of Object.entries(opts.mpsBySrc ?? {})) mpsBySrc[src] = positive(`mpsBySrc.${src}`, rate);
  const mpsCounts = opts.mpsCounts ?? 'units';
  if (mpsCounts !== 'units' && mpsCounts !== 'messages') {
    throw new SimOptionsError('mpsCounts', `must be 'units' or 'messages', got '${String(mpsCounts)}'`);
  }
  const timezoneOffset = opts.timezoneOffset ?? '+05:30';
  if (parseOffset(timezoneOffset) === null) {
    throw new SimOptionsError('timezoneOffset', `must look like +05:30 or -04:00, got '${timezoneOffset}'`);
  }
  const callbackRetryDelaysMs = opts.callbackRetryDelaysMs ?? [60_000, 120_000, 240_000];
  callbackRetryDelaysMs.forEach((d, i) => nonNegative(`callbackRetryDelaysMs[${i}]`, d));

  return {
    host: opts.host ?? '127.0.0.1',
    port,
    authId,
    authToken,
    mps,
    mpsBySrc,
    mpsCounts,
    deliveryDelayMs: range('deliveryDelayMs', opts.deliveryDelayMs ?? [200, 1500]),
    limits: opts.limits === undefined ? { ...PLIVO_LIMITS } : checkLimits(opts.limits),
    faults: mergeFaults(NO_FAULTS, opts.faults ?? {}),
    timezoneOffset,
    callbackRetryDelaysMs: [...callbackRetryDelaysMs],
    callbackTimeoutMs: positive('callbackTimeoutMs', opts.callbackTimeoutMs ?? 8000),
    seed,
    unallocated: [...(opts.unallocated ?? [UNALLOCATED_PREFIX])],
    optedOut: (opts.optedOut ?? []).map((n, i) => digits(`optedOut[${i}]`, n)),
    inboundUrl: opts.inboundUrl === undefined ? null : httpUrl('inboundUrl', opts.inboundUrl),
  };
}

/** `base` with the given faults replaced, validated. */
export function mergeFaults(base: Faults, change: Partial<Faults>): Faults {
  const merged = { ...base, ...stripUndefined(change) };
  for (const key of ['rate429', 'rate5xx', 'dropBeforeAccept', 'dropAfterAccept', 'rate5xxAfterAccept', 'slowList'] as const) {
    const p = merged[key];
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
      throw new SimOptionsError(`faults.${key}`, `must be a probability in [0, 1], got ${String(p)}`);
    }
  }
  merged.latencyMs = range('faults.latencyMs', merged.latencyMs);
  merged.slowListMs = range('faults.slowListMs', merged.slowListMs);
  return merged;
}

export function checkLimits(limits: Limits | false): Limits | false {
  if (limits === false) return false;
  return {
    requestsPer5s: positiveInt('limits.requestsPer5s', limits.requestsPer5s),
    concurrent: positiveInt('limits.concurrent', limits.concurrent),
    listPerMinute: positiveInt('limits.listPerMinute', limits.listPerMinute),
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function digits(name: string, n: string): string {
  const d = String(n).replace(/^\+/, '');
  if (!/^\d{5,15}$/.test(d)) throw new SimOptionsError(name, `must be a phone number in digits (E.164, '+' optional), got '${String(n)}'`);
  return d;
}

function httpUrl(name: string, url: string): string {
  if (!/^https?:\/\//.test(url)) throw new SimOptionsError(name, `must be an http(s) url, got '${url}'`);
  return url;
}

function positive(name: string, n: number): number {
  if (typeof n !== 'number' || !(n > 0) || !Number.isFinite(n)) {
    throw new SimOptionsError(name, `must be a positive number, got ${String(n)}`);
  }
  return n;
}

function positiveInt(name: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new SimOptionsError(name, `must be a positive integer, got ${String(n)}`);
  return n;
}

function nonNegative(name: string, n: number): number {
  if (typeof n !== 'number' || !(n >= 0) || !Number.isFinite(n)) {
    throw new SimOptionsError(name, `must be a non-negative number, got ${String(n)}`);
  }
  return n;
}

function range(name: string, r: [number, number]): [number, number] {
  if (!Array.isArray(r) || r.length !== 2) throw new SimOptionsError(name, 'must be [min, max]');
  const [min, max] = r;
  nonNegative(`${name}[0]`, min);
  nonNegative(`${name}[1]`, max);
  if (min > max) throw new SimOptionsError(name, `min ${min} is above max ${max}`);
  return [min, max];
}
