/**
 * Pacing is judged on when requests reached the in-process simulator. When this test process's event loop
 * stalls (a busy machine), requests that left the CLI well spaced are read back to back and look like a
 * burst. The tolerance given to worstWindow is therefore a fixed allowance for ordinary jitter plus the
 * longest stall actually measured during the run: on an idle machine the check keeps its full strength,
 * on a loaded one it does not fail for the machine's sake. A real pacing fault (an extra batch, a resumed
 * run's burst) is far larger than either.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Allowance for ordinary arrival jitter (the claim's commit and the request), in ms. */
export const JITTER_MS = 150;

export interface StallWatch {
  /** JITTER_MS plus the longest event-loop stall seen since the watch started, in ms. */
  toleranceMs(): number;
}

/** Starts measuring this process's event-loop stalls; read toleranceMs() once the run is over. */
export function watchStalls(jitterMs = JITTER_MS): StallWatch {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  return { toleranceMs: () => jitterMs + Math.ceil(h.max / 1e6) };
}
