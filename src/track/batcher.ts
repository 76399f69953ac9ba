/**
 * Collects items for at most `maxWaitMs` or `maxItems`, then hands them to `flush` in one call, so a
 * burst of callbacks costs one ledger transaction instead of one each. One flush runs at a time: what
 * arrives meanwhile goes out right after it. `add` settles only once the flush holding the item has
 * (resolved or thrown), which is what lets the receiver answer 200 only for what is recorded.
 */
export interface BatcherOptions<T> {
  maxItems: number;
  maxWaitMs: number;
  /** Items waiting beyond this are refused at once (BatcherFullError): the ledger is not keeping up. */
  maxPending: number;
  flush(items: T[]): Promise<void>;
}

export class BatcherFullError extends Error {
  constructor(pending: number) {
    super(`${pending} items are already waiting for the ledger`);
    this.name = 'BatcherFullError';
  }
}

interface Entry<T> {
  item: T;
  resolve(): void;
  reject(err: unknown): void;
}

export class MicroBatcher<T> {
  #pending: Entry<T>[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(private readonly o: BatcherOptions<T>) {}

  get pending(): number {
    return this.#pending.length;
  }

  add(item: T): Promise<void> {
    if (this.#pending.length >= this.o.maxPending) return Promise.reject(new BatcherFullError(this.#pending.length));
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (this.#pending.length >= this.o.maxItems) this.#kick();
      else this.#timer ??= setTimeout(() => this.#kick(), this.o.maxWaitMs);
    });
  }

  /** Flushes what is waiting now and resolves when nothing is waiting or being flushed. */
  async drain(): Promise<void> {
    this.#kick();
    while (this.#running) await this.#running;
  }

  #kick(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#running || this.#pending.length === 0) return;
    this.#running = this.#flushAll().finally(() => {
      this.#running = undefined;
      // Items added between the loop's last look and now would otherwise wait for a timer nobody set.
      if (this.#pending.length > 0) this.#kick();
    });
  }

  async #flushAll(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.o.maxItems);
      try {
        await this.o.flush(batch.map((e) => e.item));
        for (const e of batch) e.resolve();
      } catch (err) {
        for (const e of batch) e.reject(err);
      }
    }
  }
}
