/**
 * The run's off switch, shared by every loop: Ctrl-C, SIGTERM or a fatal error sets it, every sleep is
 * cut short at once, and loops stop taking new work (requests in flight still finish and are recorded).
 */
import { setMaxListeners } from 'node:events';

export class Stopper {
  readonly #controller = new AbortController();

  constructor() {
    // Every sleeping loop (one per sender, plus tracking, reconciliation, the cancel watch…) listens while it
    // sleeps and removes its listener on waking, so many listeners at once are expected, not a leak: without
    // this, Node prints a MaxListenersExceededWarning on the user's terminal past 10.
    setMaxListeners(0, this.#controller.signal);
  }
  #error: unknown;
  #reason: string | undefined;

  get stopped(): boolean {
    return this.#controller.signal.aborted;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The first fatal error, if the run stopped because of one. */
  get error(): unknown {
    return this.#error;
  }

  get reason(): string | undefined {
    return this.#reason;
  }

  stop(reason: string): void {
    this.#reason ??= reason;
    this.#controller.abort();
  }

  fail(err: unknown): void {
    if (this.#error === undefined) this.#error = err;
    this.stop('error');
  }

  /** Sleeps `ms`, or less if the run is stopped meanwhile. Never rejects. */
  sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.signal.addEventListener('abort', done, { once: true });
    });
  }
}
