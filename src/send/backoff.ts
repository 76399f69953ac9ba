/** Exponential backoff with "equal jitter": a random delay in [c/2, c], c = min(cap, base·2^(attempt-1)), so retries spread out but never come back at once. */
export function backoffMs(attempt: number, baseMs = 1000, capMs = 60_000, random = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
