/** Deterministic inputs for the number tests that compare smsrun's readings with libphonenumber-js. */

/** mulberry32: the same numbers on every run. */
export function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Calling codes with no country (+800 freephone, +882 networks…): the metadata's non-geographic entities. */
export const NON_GEOGRAPHIC = ['800', '808', '870', '878', '881', '882', '883', '888', '979'];
