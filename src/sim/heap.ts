/**
 * A binary min-heap ordered by `key`, ties broken by insertion order so events
 * due at the same instant run first-in first-out.
 */

interface Entry<T> {
  key: number;
  seq: number;
  value: T;
}

export class MinHeap<T> {
  #items: Entry<T>[] = [];
  #seq = 0;

  get size(): number {
    return this.#items.length;
  }

  push(key: number, value: T): void {
    this.#items.push({ key, seq: this.#seq++, value });
    this.#up(this.#items.length - 1);
  }

  peekKey(): number | undefined {
    return this.#items[0]?.key;
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined) return undefined;
    if (items.length > 0) {
      items[0] = last;
      this.#down(0);
    }
    return top.value;
  }

  clear(): void {
    this.#items = [];
  }

  #less(i: number, j: number): boolean {
    const a = this.#items[i] as Entry<T>;
    const b = this.#items[j] as Entry<T>;
    return a.key < b.key || (a.key === b.key && a.seq < b.seq);
  }

  #swap(i: number, j: number): void {
    const items = this.#items;
    const a = items[i] as Entry<T>;
    items[i] = items[j] as Entry<T>;
    items[j] = a;
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const n = this.#items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < n && this.#less(l, smallest)) smallest = l;
      if (r < n && this.#less(r, smallest)) smallest = r;
      if (smallest === i) return;
      this.#swap(i, smallest);
      i = smallest;
    }
  }
}
