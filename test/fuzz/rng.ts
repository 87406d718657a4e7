// The fuzzers' view of the tests' seeded PRNG (test/support/rng.ts), so every fuzz input can be re-created
// from (seed, index).
import { rng } from '../support/rng.js';

export class Rng {
  private readonly r: ReturnType<typeof rng>;
  constructor(seed: number) {
    this.r = rng(seed >>> 0 || 0x9e3779b9);
  }
  /** uniform in [0, 1) */
  next(): number {
    return this.r.next();
  }
  /** integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from an empty list');
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** Values that sit on boundaries readers get wrong: zero, one, sign bits, 2^32-1, lengths just past the end. */
export function interestingInt(rng: Rng, around: number): number {
  return rng.pick([0, 1, 2, 7, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, around - 1, around + 1, around * 2, Math.max(0, around - 64)]);
}
