/**
 * Plivo's account-wide request limit as smsrun paces it: a plain constant, apart from limits.ts so that
 * `smsrun status` (report/summary.ts, the fastest-sending bound) reads it without loading Bottleneck.
 */

/** Plivo's account REST limit is 300 requests in 5 s; spread evenly that is 60/s. We keep below it in any sliding window: burst + rate·5 s ≤ 300. */
export const ACCOUNT_REQUESTS = { rate: 50, burst: 50, maxConcurrent: 100 } as const;
