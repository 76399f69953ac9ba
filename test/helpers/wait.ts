/**
 * The one way tests wait: on a condition, never on the clock. The deadline is only a last resort so that a
 * hung test fails with a message instead of hitting vitest's timeout; it is generous on purpose (a busy
 * machine may be many times slower than an idle one) and is never what a test asserts.
 */
export interface WaitOptions {
  /** Give up after this long. A safety net, not a performance bound. Default 120 s. */
  timeoutMs?: number;
  /** How often the condition is checked. Default 20 ms. */
  intervalMs?: number;
}

/** Resolves once `condition` holds (it may be async); rejects naming `what` if it never does. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  { timeoutMs = 120_000, intervalMs = 20 }: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
