/**
 * The simulator's named errors.
 *
 * ApiError is an answer, not a bug: a route throws it and the router turns it
 * into Plivo's error body `{"api_id", "error": "<sentence>"}` with its status.
 * SimOptionsError is a programming mistake in the options given to
 * startSimulator (or setFaults / setLimits) and is thrown to the caller.
 */

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    /** The sentence Plivo puts in `error`. */
    readonly sentence: string,
  ) {
    super(`${status} ${sentence}`);
  }
}

export class SimOptionsError extends TypeError {
  override readonly name = 'SimOptionsError';
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`simulator option ${option}: ${message}`);
  }
}
