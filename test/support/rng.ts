// Test-only: the one seeded PRNG of the tests (mulberry32; test/fuzz/rng.ts wraps it for the fuzzers).

/** The same cases every run, different cases per seed. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)); // inclusive
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const shuffle = <T>(xs: readonly T[]): T[] => {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = int(0, i);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  };
  /** a uniform 32-bit word */
  const u32 = () => Math.floor(next() * 4294967296);
  return { next, int, pick, shuffle, chance: (p: number) => next() < p, u32 };
}
export type Rng = ReturnType<typeof rng>;
