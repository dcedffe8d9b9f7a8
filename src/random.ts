/** Seeded numbers for the demos (and the tests, test/generators.ts): the same on every platform. */

/** mulberry32: a tiny, well-mixed 32-bit PRNG returning doubles in [0, 1). */
export function makeRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One N(0, σ²) sample by Box–Muller (u1 in (0, 1] so the log is finite). */
export function gaussian(random: () => number, sigma: number): number {
  const u1 = 1 - random();
  const u2 = random();
  return sigma * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
