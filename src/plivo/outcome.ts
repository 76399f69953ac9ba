/**
 * The answer to a send, classified by what the caller may safely do next.
 * The line that matters is between `retryable` (provably not accepted: resend)
 * and `ambiguous` (may have been accepted: resending risks a duplicate, so
 * reconcile through the List API first).
 */
export type SendOutcome =
  | { kind: 'accepted'; apiId: string; messageUuids: string[]; invalidNumbers: string[] }
  /** Provably not accepted: refused connection, failed DNS, a 5xx with Plivo's JSON error body. Safe to resend. */
  | { kind: 'retryable'; status?: number; reason: string }
  /** 429: not accepted; wait retryAfterMs when Plivo says, else back off. */
  | { kind: 'throttled'; status: 429; reason: string; retryAfterMs?: number }
  /** 400, 403, 404, 413…: Plivo's `error` sentence as reason; resending will not help. */
  | { kind: 'permanent'; status: number; reason: string }
  /** 401: the credentials are wrong; the whole run must stop. */
  | { kind: 'auth'; status: 401; reason: string }
  /**
   * May have been accepted: timeout, connection lost after connecting, a 5xx or 2xx body that is not Plivo's.
   * `apiId` when the answer's JSON carries Plivo's api_id: Plivo's API itself answered (not a proxy, not a cut
   * connection), so whatever it did with the request was done when the answer arrived; its reconciliation
   * window ends there instead of a request timeout later (src/send/window.ts).
   */
  | { kind: 'ambiguous'; status?: number; reason: string; apiId?: string };
