/**
 * The arithmetic of a reconciliation window, in one place (it used to be spread over three files).
 *
 * An attempt was claimed at S and found ambiguous at E (both ledger times), and ran under a request
 * timeout T (stored with the attempt). Plivo can have queued its messages, in the ledger's time, no
 * earlier than S and no later than E + T (a server may still be working on the request for up to T after
 * we gave up on it). Plivo stamps message_time with its own clock, k = Plivo − ledger, and |k| ≤ K where
 * K is measured (skew.ts); MDR times may be cut to whole seconds, so the lower edge loses one more second.
 *
 *   window (Plivo's time):   [S − K − 1 s, E + T' + K]
 *   closed (ledger's time):  now ≥ E + T' + 2K    (then Plivo's now ≥ now − K ≥ E + T' + K: no record can
 *                                                  still enter the window, so offset paging cannot skip one)
 *
 * T' is T, except for an attempt that Plivo's API itself answered (a 5xx or an odd 2xx whose JSON body
 * carries its api_id, stored with the attempt): the API was done with the request when it answered, before
 * E, so T' = 0. A cut connection, a timeout, a proxy's page or a dead process proves no such thing: T' = T.
 * At 20 msg/s per sender and T = 30 s that is ~100 records to page through instead of ~700.
 *
 * K is the last measured bound plus SKEW_HEADROOM_MS (capped at MAX_SKEW_MS), so windows are as narrow as
 * the measurement allows; a listing whose own measurement exceeds the K its window used gives no verdict,
 * and while the measurement exceeds MAX_SKEW_MS nothing is reconciled (the operator must fix a clock).
 *
 * `absent` is never the verdict of one listing: Plivo's List index lag after a 202 is undocumented, so
 * a batch with messages missing is listed again at least CONFIRM_ABSENT_MS after the first listing
 * began, and only a second miss sends anything again.
 */

/** The time the loops read: Date.now() in a run, a hand-moved clock in tests. */
export interface Clock {
  now(): number;
}

export const SYSTEM_CLOCK: Clock = { now: () => Date.now() };

/** The largest clock difference (Plivo vs ledger) reconciliation works with. */
export const MAX_SKEW_MS = 5000;
/**
 * Added to the last measured bound for the next windows: two measurements of the same clocks differ by up
 * to the Date header's second and the round trips, and a window narrower than the next measurement gives
 * no verdict.
 */
export const SKEW_HEADROOM_MS = 1000;
/** MDR times may carry whole seconds only. */
const MDR_TIME_RESOLUTION_MS = 1000;
/** The least time between two listings that both miss a message before it is sent again. */
export const CONFIRM_ABSENT_MS = 60_000;
/** Batches of one sender whose windows are further apart than this are looked up separately (neighbours only). */
export const GROUP_GAP_MS = 0;

export interface AttemptTimes {
  startedAt: Date;
  endedAt: Date;
  requestTimeoutMs: number;
  /** Plivo's API answered it (an api_id in the answer): nothing of it can have been queued after E. */
  answered: boolean;
}

export function windowStart(a: AttemptTimes, skewMs: number): number {
  return a.startedAt.getTime() - skewMs - MDR_TIME_RESOLUTION_MS;
}

export function windowEnd(a: AttemptTimes, skewMs: number): number {
  return a.endedAt.getTime() + (a.answered ? 0 : a.requestTimeoutMs) + skewMs;
}

/** Ledger time from which the attempt's window is closed. */
export function closedAt(a: AttemptTimes, skewMs: number): number {
  return windowEnd(a, skewMs) + skewMs;
}
