/**
 * Rate limits, as Bottleneck limiters fed by reservoirs (token buckets):
 *
 * - one limiter per sender (a Bottleneck.Group keyed by src): a batch weighs its cost (destinations ×
 *   units, or destinations with `rate_counts: "messages"`). The reservoir starts at, and never exceeds,
 *   the largest batch's cost and gains `rate` per second, so over any interval T a sender is given at
 *   most rate·T + one batch's cost: one batch of burst, never more. (Bottleneck's `minTime` would ignore
 *   the weight, which is why the reservoir does the pacing.)
 * - optionally one account-wide message limiter (`account_rate`), built the same way;
 * - one account-wide request limiter under Plivo's 300 requests / 5 s and 100 concurrent requests,
 *   shared by sending (high priority) and tracking (low priority).
 *
 * The reservoir grows on Bottleneck's heartbeat. Each tick adds rate × tick, and the increase interval is
 * set below the tick so that every tick adds (a tick never adds twice); timer drift can only make the
 * rate a little slower, never faster. A tick never adds more than the bucket holds, or a sender with a
 * small bucket could not reach its rate. One subtlety: a job scheduled on a full bucket runs at once, and
 * the next tick then credits a whole tick although part of it passed while the bucket was full (a
 * continuous bucket loses that time to its cap). `scheduleOnBucket` takes that tick back for such jobs
 * only, so the bound rate·T + one batch holds exactly, and a job that waited for its tokens pays nothing.
 */
import Bottleneck from 'bottleneck';

export interface BucketOptions {
  /** Tokens per second. */
  rate: number;
  /** Bucket size: the largest single job's weight (the burst allowed). */
  burst: number;
  maxConcurrent?: number | null;
}

/**
 * A tick of about one token, between 50 ms (fine pacing for fast senders) and 1 s (few timers for slow
 * ones), and short enough that one tick's credit fits in the bucket (down to 5 ms).
 */
function tickFor(rate: number, burst: number): number {
  const aboutOneToken = Math.min(1000, Math.max(50, 1000 / rate));
  return Math.max(5, Math.round(Math.min(aboutOneToken, (1000 * burst) / rate)));
}

export function bucketSettings({ rate, burst, maxConcurrent = null }: BucketOptions): Bottleneck.ConstructorOptions {
  const tickMs = tickFor(rate, burst);
  return {
    reservoir: burst,
    reservoirIncreaseInterval: tickMs - 1,
    reservoirIncreaseAmount: (rate * tickMs) / 1000,
    reservoirIncreaseMaximum: burst,
    maxConcurrent,
    heartbeatInterval: tickMs,
  } as Bottleneck.ConstructorOptions;
}

export function tokenBucket(opts: BucketOptions): Bottleneck {
  return new Bottleneck(bucketSettings(opts));
}

/** Plivo's account REST limit is 300 requests in 5 s; spread evenly that is 60/s. We keep below it in any sliding window: burst + rate·5 s ≤ 300. */
export const ACCOUNT_REQUESTS = { rate: 50, burst: 50, maxConcurrent: 100 } as const;
/** Plivo's List API limit, per minute, unless Plivo raised the account's. */
export const LIST_PER_MINUTE = 20;

/**
 * A bucket that never exceeds `perMinute` (2 or more) in any sliding minute: burst + rate·60 s = perMinute
 * (20 → 2 + 0.3/s). A small burst leaves the most for the steady rate that tracking lives on.
 */
export function listBucket(perMinute: number): BucketOptions {
  const burst = Math.max(1, Math.floor(perMinute / 10));
  return { rate: (perMinute - burst) / 60, burst };
}

export const PRIORITY = { send: 1, reconcile: 2, track: 6 } as const;

/**
 * Schedules `fn` with `weight` on a bucket limiter built from `o`. If the bucket is full when the job is
 * scheduled, the job runs at once and the next tick's credit is taken back (see the file's comment).
 */
export async function scheduleOnBucket<T>(limiter: Bottleneck, o: BucketOptions, weight: number, priority: number, fn: () => Promise<T>): Promise<T> {
  const full = ((await limiter.currentReservoir()) ?? 0) >= o.burst - 1e-9;
  return limiter.schedule({ weight, priority }, async () => {
    if (full) await limiter.incrementReservoir(-(o.rate * tickFor(o.rate, o.burst)) / 1000);
    return fn();
  });
}

export interface Limiters {
  senders: Bottleneck.Group;
  senderBucket: BucketOptions;
  accountMessages: Bottleneck | null;
  requests: Bottleneck;
  listRequests: Bottleneck;
  stop(): Promise<void>;
}

export interface LimiterOptions {
  rate: number;
  maxBatchCost: number;
  maxBatchSize: number;
  accountRate?: number | undefined;
  /** @default LIST_PER_MINUTE */
  listPerMinute?: number | undefined;
}

export function createLimiters(o: LimiterOptions): Limiters {
  // Idle limiters are kept for a day: deleting one would reset its reservoir to a full burst.
  const senderBucket = { rate: o.rate, burst: o.maxBatchCost };
  const senders = new Bottleneck.Group({ ...bucketSettings(senderBucket), timeout: 86_400_000 });
  const accountMessages = o.accountRate ? tokenBucket({ rate: o.accountRate, burst: Math.max(o.maxBatchSize, o.accountRate) }) : null;
  const requests = tokenBucket(ACCOUNT_REQUESTS);
  const listRequests = tokenBucket(listBucket(o.listPerMinute ?? LIST_PER_MINUTE));
  const all = () => [...senders.limiters().map((l) => l.limiter), accountMessages, requests, listRequests];
  for (const limiter of [accountMessages, requests, listRequests]) limiter?.on('error', () => undefined);
  senders.on('created', (limiter) => limiter.on('error', () => undefined));
  return {
    senders,
    senderBucket,
    accountMessages,
    requests,
    listRequests,
    async stop() {
      await Promise.all(all().map((l) => l?.disconnect()));
    },
  };
}
