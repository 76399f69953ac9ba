/**
 * The arithmetic of a reconciliation window, in one place (it used to be spread over three files).
 *
 * An attempt was claimed at S and found ambiguous at E (both ledger times), and ran under a request
 * timeout T (stored with the attempt). Plivo stamps message_time with its own clock, k = Plivo − ledger, and
 * |k| ≤ K where K is measured (skew.ts); MDR times may be cut to whole seconds, so the lower edge loses one
 * more second. Plivo cannot have queued the attempt's messages before S. After E it can, and no time bounds
 * that: a server may take a request whose client gave up long before (a starved process reads it from its
 * socket when it runs again, src/sim/core.ts stamps message_time then), and nothing tells it our timeout.
 * So two listings, with two upper edges:
 *
 *   first   (Plivo's time):  [S − K − 1 s, E + T' + K]          taken once closed: ledger now ≥ E + T' + 2K
 *   confirm (Plivo's time):  [S − K − 1 s, max(E + T' + K, L + K)]   L: ledger time the confirming listing began,
 *                                                               at least CONFIRM_ABSENT_MS after the first
 *
 * The first can only find: a miss there sends nothing. The confirming listing is the one whose miss sends
 * again, so it reaches up to when it began: Plivo's clock then read at most L + K, so every message Plivo
 * had queued (and indexed) before the confirmation is inside it, however late after E. What it can still
 * miss is a request Plivo takes only after the confirmation began (more than CONFIRM_ABSENT_MS + T' + 2K
 * after E): the one bet left, where the narrow window bet on T' + K.
 *
 * The typical acceptance lies in E + T' + K: the first listing, narrow, pages through as little of the
 * sender's traffic as possible. T' is T, except for an attempt that Plivo's API itself answered (a 5xx or
 * an odd 2xx whose JSON body carries its api_id, stored with the attempt): the API was done with the request
 * when it answered, before E, so T' = 0. A cut connection, a timeout, a proxy's page or a dead process proves
 * no such thing: T' = T. At 20 msg/s per sender and T = 30 s that is ~100 records to page through instead of
 * ~700. The confirming window is wider (a minute or more of the sender's traffic), but it is listed only for
 * batches the first listing missed messages of, and a busy sender is listed per number (reconciler.ts).
 *
 * Paging: Plivo lists newest first, by offset. A record entering a listing while it is paged (the confirming
 * window is not closed: its top is about "now") moves the records below it down a place, so a page reads one
 * again and none is skipped; only a record leaving the listing could make offset paging skip one, and none
 * leaves a window with a fixed lower edge. The first listing still waits until its window is closed, so that
 * it sees the typical acceptance whole rather than record a first miss for a request still in progress.
 *
 * A record of the sender to the number found after E + T' + K may be another batch's (a later send to the same
 * number): records carry no text. A batch still in flight or ambiguous (ledger/reconcile.ts, rivalBatches)
 * could own any record of the number from its S − K − 1 s on, since it too may have been taken late; such a
 * record is attributed to nobody until one of them settles, or an operator decides (`smsrun resolve`).
 *
 * K is the last measured bound plus SKEW_HEADROOM_MS (capped at MAX_SKEW_MS), so windows are as narrow as
 * the measurement allows; a listing whose own measurement exceeds the K its window used gives no verdict,
 * and while the measurement exceeds MAX_SKEW_MS nothing is reconciled (the operator must fix a clock).
 * Like the due test, L is read from the run's clock, taken to agree with the ledger's.
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
  /** When a first listing missed some of its messages (null if none has): the next listing confirms. */
  absentSeenAt: Date | null;
}

export function windowStart(a: AttemptTimes, skewMs: number): number {
  return a.startedAt.getTime() - skewMs - MDR_TIME_RESOLUTION_MS;
}

export function windowEnd(a: AttemptTimes, skewMs: number): number {
  return a.endedAt.getTime() + (a.answered ? 0 : a.requestTimeoutMs) + skewMs;
}

/**
 * The upper edge (Plivo's time) of a listing begun at ledger time `listedAtMs`: the narrow window's for a first
 * listing, up to when it began for the confirming one (its miss sends again).
 */
export function searchEnd(a: AttemptTimes, skewMs: number, listedAtMs: number): number {
  const narrow = windowEnd(a, skewMs);
  return a.absentSeenAt === null ? narrow : Math.max(narrow, listedAtMs + skewMs);
}

/** Ledger time from which the attempt's window is closed: its first listing may begin. */
export function closedAt(a: AttemptTimes, skewMs: number): number {
  return windowEnd(a, skewMs) + skewMs;
}
