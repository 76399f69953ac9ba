/** What went wrong, as far as a caller's next move is concerned. */
export type PlivoErrorKind = 'retryable' | 'throttled' | 'permanent' | 'auth';

/**
 * Thrown by the read calls (getMessage, listMessages, listNext). Reads are
 * idempotent, so a timeout or a broken connection is simply `retryable`.
 * Never carries request headers: the auth token stays out of logs.
 */
export class PlivoApiError extends Error {
  override readonly name = 'PlivoApiError';
  readonly kind: PlivoErrorKind;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(
    kind: PlivoErrorKind,
    message: string,
    details: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = kind;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
  }
}
