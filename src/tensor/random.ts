// Seeded, reproducible host-side random numbers (parameter init, data shuffling, dropout seeds).
//
// xoshiro128** seeded through splitmix32; normals by Box-Muller in float64. Device-side noise
// (dropout masks) does not use this generator's stream directly: a dropout call draws one 32-bit
// seed from it and the device computes `hashUniform(seed, i)`, which every backend implements
// bit-exactly, so a seed gives the same mask on every device.

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Generator {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | null = null;

  constructor(seed = 0) {
    this.seed(seed);
  }

  seed(seed: number): this {
    const st = { s: seed | 0 };
    this.s0 = splitmix32(st);
    this.s1 = splitmix32(st);
    this.s2 = splitmix32(st);
    this.s3 = splitmix32(st);
    this.spare = null;
    return this;
  }

  /** The full state (for checkpoints): four 32-bit words and the cached second normal. */
  getState(): { s: [number, number, number, number]; spare: number | null } {
    return { s: [this.s0, this.s1, this.s2, this.s3], spare: this.spare };
  }

  setState(state: { s: readonly number[]; spare: number | null }): this {
    if (state.s.length !== 4 || state.s.every((w) => w === 0))
      throw new Error('Generator.setState: need four words, not all zero');
    [this.s0, this.s1, this.s2, this.s3] = state.s.map((w) => w | 0);
    this.spare = state.spare;
    return this;
  }

  /** Next 32-bit unsigned integer (xoshiro128**). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal (Box-Muller, both outputs used). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

let globalGenerator = new Generator(0);

export function defaultGenerator(): Generator {
  return globalGenerator;
}

/** Reseed the global generator (parameter init, dropout seeds, shuffles that use the default). */
export function manualSeed(seed: number): void {
  globalGenerator = new Generator(seed);
}
