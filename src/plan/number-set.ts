/**
 * A set of E.164 numbers for `plan`'s duplicate check, 16 bytes a number: an open-addressing hash table of
 * float64 (every E.164 number, at most 15 digits, is an exact double). A Set of strings takes about five
 * times as much, which a million-row plan would feel.
 */
export class NumberSet {
  #slots = new Float64Array(1 << 16);
  #size = 0;

  /** Adds the number (digits); false when it was already there. */
  add(digits: string): boolean {
    const value = Number(digits);
    if (this.#size * 2 >= this.#slots.length) this.#grow();
    return this.#insert(value);
  }

  #insert(value: number): boolean {
    const mask = this.#slots.length - 1;
    // 0 marks an empty slot; a number is never 0, so no sentinel clash.
    for (let i = hash(value) & mask; ; i = (i + 1) & mask) {
      const at = this.#slots[i]!;
      if (at === 0) {
        this.#slots[i] = value;
        this.#size++;
        return true;
      }
      if (at === value) return false;
    }
  }

  #grow(): void {
    const old = this.#slots;
    this.#slots = new Float64Array(old.length * 2);
    this.#size = 0;
    for (const v of old) if (v !== 0) this.#insert(v);
  }
}

function hash(value: number): number {
  const lo = value % 4294967296;
  const hi = Math.floor(value / 4294967296);
  return Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b) >>> 0;
}
