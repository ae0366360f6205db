// A seeded random source for property tests: every run draws a new seed and a failure names it, so a
// case found once can be replayed exactly (HARDER_TEST_SEED=<seed>).

export type Random = {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
};

/** mulberry32: small, fast and good enough to spread test cases. */
export function random(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return { seed, next, int, chance: (p) => next() < p, pick: (items) => items[int(0, items.length - 1)]! };
}

/** The seed of this run: HARDER_TEST_SEED when set (to replay a failure), otherwise a fresh one. */
export function runSeed(): number {
  const fixed = process.env.HARDER_TEST_SEED;
  if (fixed !== undefined && fixed !== '') return Number(fixed) >>> 0;
  return (Math.random() * 2 ** 32) >>> 0;
}
