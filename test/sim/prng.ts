/** Seeded PRNG for the simulator: xoshiro128** seeded through splitmix32. Everything random in a run comes from here. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next(); this.#b = next(); this.#c = next(); this.#d = next();
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1;
  }

  u32(): number {
    const r = Math.imul(rotl(Math.imul(this.#b, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.#b << 9) >>> 0;
    this.#c ^= this.#a; this.#d ^= this.#b; this.#b ^= this.#c; this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = rotl(this.#d, 11);
    this.#a >>>= 0; this.#b >>>= 0; this.#c >>>= 0; this.#d >>>= 0;
    return r;
  }

  /** [0, 1) */
  float(): number { return this.u32() / 4294967296; }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number { return lo + Math.floor(this.float() * (hi - lo + 1)); }
  chance(p: number): boolean { return this.float() < p; }
  pick<T>(a: readonly T[]): T {
    if (a.length === 0) throw new Error('pick from empty');
    return a[Math.floor(this.float() * a.length)]!;
  }
  /** Picks a key by weight. */
  weighted<K extends string>(w: Record<K, number>): K {
    const keys = Object.keys(w) as K[];
    const total = keys.reduce((s, k) => s + w[k], 0);
    let x = this.float() * total;
    for (const k of keys) { x -= w[k]; if (x < 0) return k; }
    return keys[keys.length - 1]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
  /** An independent stream (so one part's draws do not shift another's). */
  fork(): Rng { return new Rng(this.u32() ^ 0x5bd1e995); }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
