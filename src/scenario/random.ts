// A small seeded PRNG for the traffic scenarios: sfc32 (128-bit state, passes
// PractRand) seeded through splitmix32, plus the few distributions the generator
// needs. Same seed and stream → same sequence on every platform, so scenarios
// (and the expectations tests derive from them) are reproducible.

/** 32-bit FNV-1a of a string: stable stream ids from names (`client:acme-batch`). */
export function hashString(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** A bijective 32-bit mix (murmur3 finaliser): distinct inputs give distinct outputs. */
export function mix32(x: number): number {
  let h = x >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** Eight lowercase hex digits of a 32-bit value. */
export function hex8(x: number): string {
  return HEX[(x >>> 24) & 255]! + HEX[(x >>> 16) & 255]! + HEX[(x >>> 8) & 255]! + HEX[x & 255]!
}

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0
  let z = state.s
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

const TWO_POW_32 = 4_294_967_296

export class Random {
  // Plain (not #private) fields: this is the generators' hot path, and transpiled
  // #private fields cost a function call per access.
  private a: number
  private b: number
  private c: number
  private d: number
  private spareNormal: number | null = null

  /** `stream` selects an independent sequence for the same seed (e.g. one per client). */
  constructor(seed: number, stream = 0) {
    const st = { s: (Math.imul(seed >>> 0, 0x9e3779b1) ^ mix32(stream >>> 0 || 0x51ed27)) | 0 }
    this.a = splitmix32(st)
    this.b = splitmix32(st)
    this.c = splitmix32(st)
    this.d = splitmix32(st)
    for (let i = 0; i < 12; i++) this.uint32()
  }

  /** An independent generator seeded from this one's next output, on `stream`. */
  fork(stream: number): Random {
    return new Random(this.uint32(), stream)
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / TWO_POW_32
  }

  /** Uniform in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next()
  }

  /** Integer in [min, max) (max exclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min))
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list')
    return items[Math.floor(this.next() * items.length)]!
  }

  /** An item with probability proportional to its weight (linear; see `WeightedPicker` for hot paths). */
  weighted<T>(items: readonly T[], weight: (item: T) => number): T {
    let total = 0
    for (const it of items) total += weight(it)
    if (!(total > 0)) throw new RangeError('weighted pick needs a positive total weight')
    let r = this.next() * total
    for (const it of items) {
      r -= weight(it)
      if (r < 0) return it
    }
    return items[items.length - 1]!
  }

  /** Exponential with the given rate (mean 1/rate). */
  exponential(rate: number): number {
    return -Math.log(1 - this.next()) / rate
  }

  /** Standard normal by Box–Muller (the second value is kept for the next call). */
  normal(mean = 0, sd = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal
      this.spareNormal = null
      return mean + sd * z
    }
    let u = 0
    while (u === 0) u = this.next()
    const v = this.next()
    const r = Math.sqrt(-2 * Math.log(u))
    this.spareNormal = r * Math.sin(2 * Math.PI * v)
    return mean + sd * r * Math.cos(2 * Math.PI * v)
  }

  /** Log-normal with the given median and log-space sigma: latencies, per-client volumes. */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal())
  }

  /** `value` ± up to `fraction` of it, normal-ish (clamped at ±3 sd). */
  jitter(value: number, fraction: number): number {
    const z = Math.max(-3, Math.min(3, this.normal()))
    return value * (1 + (fraction / 3) * z)
  }

  /** Poisson-distributed count: Knuth's method below 30, a rounded normal above. */
  poisson(mean: number): number {
    if (!(mean > 0)) return 0
    if (mean < 30) {
      const limit = Math.exp(-mean)
      let k = 0
      let p = this.next()
      while (p > limit) {
        k++
        p *= this.next()
      }
      return k
    }
    return Math.max(0, Math.round(this.normal(mean, Math.sqrt(mean))))
  }

  /** `n` random lowercase hex digits. */
  hex(n: number): string {
    let s = ''
    while (s.length < n) s += hex8(this.uint32())
    return s.slice(0, n)
  }

  /** `n` characters from [A-Za-z0-9]. */
  alnum(n: number): string {
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
    let s = ''
    for (let i = 0; i < n; i++) s += chars[this.uint32() % 62]
    return s
  }
}

/**
 * O(1) weighted picks (Vose's alias method) for the bulk generator's hot loop.
 * `pick(u1, u2)` takes two uniforms so callers can feed any generator.
 */
export class WeightedPicker {
  readonly size: number
  private readonly prob: Float64Array
  private readonly alias: Uint32Array

  constructor(weights: ArrayLike<number>) {
    const n = weights.length
    if (n === 0) throw new RangeError('WeightedPicker needs at least one weight')
    let total = 0
    for (let i = 0; i < n; i++) {
      const w = weights[i]!
      if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`weight ${i} is not a finite number ≥ 0`)
      total += w
    }
    if (!(total > 0)) throw new RangeError('WeightedPicker needs a positive total weight')
    this.size = n
    this.prob = new Float64Array(n)
    this.alias = new Uint32Array(n)
    const scaled = new Float64Array(n)
    const small: number[] = []
    const large: number[] = []
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i]! * n) / total
      ;(scaled[i]! < 1 ? small : large).push(i)
    }
    while (small.length > 0 && large.length > 0) {
      const s = small.pop()!
      const l = large.pop()!
      this.prob[s] = scaled[s]!
      this.alias[s] = l
      scaled[l] = scaled[l]! + scaled[s]! - 1
      ;(scaled[l]! < 1 ? small : large).push(l)
    }
    for (const i of large) this.prob[i] = 1
    for (const i of small) this.prob[i] = 1
  }

  pick(rng: Random): number {
    const x = rng.next() * this.size
    const i = Math.floor(x)
    return x - i < this.prob[i]! ? i : this.alias[i]!
  }
}
