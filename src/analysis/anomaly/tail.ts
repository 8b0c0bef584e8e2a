// Turns a nonconformity statistic into a calibrated tail probability from the
// statistic's own recent history: an empirical (conformal) p-value in the body,
// and beyond the top 5% a generalised Pareto tail fitted to the exceedances
// (peaks over threshold, as in Siffer et al., "Anomaly Detection in Streams with
// Extreme Value Theory", KDD 2017), so that values larger than any seen yet still
// get graded probabilities instead of all sharing the smallest one.

/** What the statistic's tail looks like before there is history to measure it. */
export type TailPrior = (x: number) => number

export interface TailOptions {
  /** Values kept (the most recent ones); memory is 4 bytes per value held (plus a fixed ¼ KiB). */
  capacity: number
  /** The tail fit and the body points are rebuilt every this many values. */
  refreshEvery: number
  /** Share of the history above the tail threshold. */
  tailFraction: number
  /** Smallest GPD scale (in the statistic's units): a tail of identical values is not infinitely thin. */
  minSigma: number
  /** Values needed before the history replaces `prior`. */
  minHistory: number
  prior: TailPrior
  /**
   * Keep the history as 16-bit codes (2 bytes a value instead of 4): ±log(1 + |x|) in
   * steps of 1/4096, a relative precision of 1.2 · 10⁻⁴ up to |x| ≈ 2 980 (larger
   * values are kept as that). For bounded statistics (drifts, variances) where that is plenty.
   */
  compact?: boolean
}

/**
 * The fitted shape ξ stays in [-0.025, 0.5]. Slightly light tails are allowed: an
 * exponential tail (ξ = 0) fitted to Gaussian-like residuals put a 9-sigma spike near
 * 1 in 10⁶ (measured: -0.025 found 5 more of the suite's 90 anomalies, with fewer false
 * alarms; -0.1 doubled the false alarms on heavy-tailed noise). A lighter tail has an
 * end point; nothing past it is impossible, only as rare as MIN_SF says.
 */
const MAX_XI = 0.5
const MIN_XI = -0.025
/** Beyond a light tail's end point the survival function is this, not 0. */
const MIN_SF = 1e-12
const XI_PRIOR = 50

/**
 * Body points kept from a refresh (65 Float32 values, ¼ KiB): the body's p-values are
 * interpolated between them. Exact while the body holds at most this many values;
 * beyond, off by under 1/64 of the body's mass (a p-value of at least the tail
 * fraction, worth a score under 0.07: nothing alarms or learns differently).
 */
const BODY_KNOTS = 64

/** A history starts this long and doubles as it fills, up to its capacity: a young series holds little. */
const FIRST_RING = 64

/**
 * Refreshes sort here, one buffer for every calibrator (refresh is synchronous and
 * nothing reads it afterwards), so a calibrator holds no sorted copy of its history.
 */
let scratch = new Float64Array(0)

const CODE_STEPS = 4096
const CODE_ZERO = 0x8000
const CODE_MAX = 0x7fff
const encode = (x: number) => {
  const c = Math.min(CODE_MAX, Math.round(Math.log1p(Math.abs(x)) * CODE_STEPS))
  return x < 0 ? CODE_ZERO - c : CODE_ZERO + c
}
const decodeOf = (c: number) => {
  const v = Math.expm1(Math.abs(c - CODE_ZERO) / CODE_STEPS)
  return c < CODE_ZERO ? -v : v
}
/** Every code's value, shared (512 KiB once per process, built at the first compact refresh). */
let decoded: Float64Array | undefined
const decodeTable = (): Float64Array => {
  if (decoded === undefined) {
    decoded = new Float64Array(0x10000)
    for (let c = 0; c < 0x10000; c++) decoded[c] = decodeOf(c)
  }
  return decoded
}

/** Rank (in the snapshot) of body point `j` of `m`, the body's top rank being `top`. */
const knotRank = (j: number, m: number, top: number) => (m > 1 ? Math.round((j * top) / (m - 1)) : 0)

export class TailCalibrator {
  private readonly o: TailOptions
  /** Float32: the values are deviations and drifts in spread units, where 7 digits are plenty. */
  private ring: Float32Array | Uint16Array
  private count = 0
  private pos = 0
  private sinceRefresh = 0
  /** Values in the history at the last refresh (0 before the first). */
  private snapN = 0
  /** The body's values at evenly spaced ranks 0 … `top` of the last refresh (allocated at the first). */
  private knots: Float32Array = new Float32Array(0)
  /** Body points held (≤ BODY_KNOTS + 1) and the body's top rank (the tail threshold's). */
  private knotCount = 0
  private top = 0
  private threshold = Number.POSITIVE_INFINITY
  /** Probability mass above `threshold` in the snapshot. */
  private zeta = 0
  private sigma = 1
  private xi = 0
  private memoP = Number.NaN
  private memoQ = Number.NaN

  constructor(options: TailOptions) {
    this.o = options
    const room = Math.min(options.capacity, FIRST_RING)
    this.ring = options.compact ? new Uint16Array(room) : new Float32Array(room)
  }

  /** Values the history has room for now: it doubles from 64 as it fills, up to `capacity`. */
  get room(): number {
    return this.ring.length
  }

  /** Values held (at most `capacity`). */
  get size(): number {
    return this.count
  }

  /** P(statistic ≥ x) under the recent history (or the prior while there is too little). */
  pValue(x: number): number {
    const n = this.snapN
    if (n < this.o.minHistory) return Math.min(1, this.o.prior(x))
    if (x <= this.threshold) {
      // Conformal p-value: (values ≥ x, plus the point itself) / (n + 1).
      return (n - this.countBelow(x) + 1) / (n + 1)
    }
    const y = x - this.threshold
    const sf =
      Math.abs(this.xi) > 1e-6
        ? Math.max(0, 1 + (this.xi * y) / this.sigma) ** (-1 / this.xi)
        : Math.exp(-y / this.sigma)
    return this.zeta * Math.max(sf, MIN_SF)
  }

  /** The statistic's value whose tail probability is `p` (inverse of `pValue` in the tail). */
  quantile(p: number): number {
    // Asked once a point for the same p (the expected band): the answer only changes on refresh.
    if (p === this.memoP) return this.memoQ
    this.memoQ = this.quantileOf(p)
    this.memoP = p
    return this.memoQ
  }

  private quantileOf(p: number): number {
    const n = this.snapN
    if (n < this.o.minHistory) {
      // Bisection on the prior, which is non-increasing.
      let lo = 0
      let hi = 1
      while (this.o.prior(hi) > p && hi < 1e6) hi *= 2
      for (let i = 0; i < 40; i++) {
        const mid = (lo + hi) / 2
        if (this.o.prior(mid) > p) lo = mid
        else hi = mid
      }
      return hi
    }
    if (p >= this.zeta) {
      const rank = Math.min(n - 1, Math.max(0, Math.ceil(n - p * (n + 1))))
      return this.valueAt(rank)
    }
    const r = p / this.zeta
    const y =
      Math.abs(this.xi) > 1e-6
        ? (this.sigma / this.xi) * (Math.max(r, MIN_SF) ** -this.xi - 1)
        : -this.sigma * Math.log(r)
    return this.threshold + y
  }

  /**
   * Values of the last refresh below `x` (x at most the threshold): exact at the body
   * points and between adjacent ranks, linear in between (so the p-value never rises with x).
   */
  private countBelow(x: number): number {
    const kn = this.knots
    const m = this.knotCount
    let lo = 0
    let hi = m
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (kn[mid]! < x) lo = mid + 1
      else hi = mid
    }
    if (lo === 0) return 0
    // x ≤ threshold = s[top]: at most `top` values lie below it (here only when the Float32 body
    // point rounded the threshold of a compact history down).
    if (lo === m) return this.top
    // kn[lo - 1] < x <= kn[lo]: between r0 + 1 and r1 values lie below x.
    const r0 = knotRank(lo - 1, m, this.top)
    const r1 = knotRank(lo, m, this.top)
    const v0 = kn[lo - 1]!
    const at = Math.ceil(r0 + ((x - v0) / (kn[lo]! - v0)) * (r1 - r0))
    return Math.min(r1, Math.max(r0 + 1, at))
  }

  /** The last refresh's value at `rank` (a rank above the body's is the threshold's tie). */
  private valueAt(rank: number): number {
    const m = this.knotCount
    if (rank >= this.top) return this.threshold
    // The body point at or below `rank`, then linear to the next.
    let j = m > 1 ? Math.floor((rank * (m - 1)) / this.top) : 0
    while (j > 0 && knotRank(j, m, this.top) > rank) j--
    while (j + 1 < m && knotRank(j + 1, m, this.top) <= rank) j++
    const r0 = knotRank(j, m, this.top)
    if (r0 === rank || j + 1 >= m) return this.knots[j]!
    const r1 = knotRank(j + 1, m, this.top)
    return this.knots[j]! + ((rank - r0) / (r1 - r0)) * (this.knots[j + 1]! - this.knots[j]!)
  }

  /** Learns one value of the statistic (call only for points that were not alarms). */
  add(x: number): void {
    const cap = this.o.capacity
    if (this.pos === this.ring.length) {
      // Not yet wrapped: the values so far are ring[0, count), in order.
      const room = Math.min(cap, 2 * this.ring.length)
      const grown = this.o.compact ? new Uint16Array(room) : new Float32Array(room)
      grown.set(this.ring)
      this.ring = grown
    }
    this.ring[this.pos] = this.o.compact ? encode(x) : x
    this.pos = this.pos + 1 === cap ? 0 : this.pos + 1
    if (this.count < cap) this.count++
    this.sinceRefresh++
    // Refresh often while the history fills (at minHistory, then each doubling), then every refreshEvery.
    const due =
      this.sinceRefresh >= this.o.refreshEvery ||
      (this.count < cap && this.count >= this.o.minHistory && this.count >= 2 * this.snapN)
    if (due) this.refresh()
  }

  private refresh(): void {
    this.sinceRefresh = 0
    this.memoP = Number.NaN
    const n = this.count
    if (scratch.length < n) scratch = new Float64Array(Math.max(n, 2 * scratch.length))
    const s = scratch.subarray(0, n)
    if (this.o.compact) {
      const table = decodeTable()
      for (let i = 0; i < n; i++) s[i] = table[this.ring[i]!]!
    } else s.set(n === this.ring.length ? this.ring : this.ring.subarray(0, n))
    s.sort()
    this.snapN = n
    const k = Math.max(3, Math.floor(n * this.o.tailFraction))
    const ti = n - k - 1
    this.threshold = s[Math.max(0, ti)]!
    const top = Math.max(0, ti)
    const m = Math.min(BODY_KNOTS + 1, top + 1)
    if (this.knots.length === 0) this.knots = new Float32Array(BODY_KNOTS + 1)
    for (let j = 0; j < m; j++) this.knots[j] = s[knotRank(j, m, top)]!
    this.knotCount = m
    this.top = top
    let m1 = 0
    let m2 = 0
    let exceed = 0
    for (let i = ti + 1; i < n; i++) {
      const y = s[i]! - this.threshold
      if (y <= 0) continue
      exceed++
      m1 += y
      m2 += y * y
    }
    this.zeta = (exceed + 1) / (n + 1)
    if (exceed < 3) {
      this.sigma = this.o.minSigma
      this.xi = 0
      return
    }
    const mean = m1 / exceed
    const variance = Math.max(m2 / exceed - mean * mean, 1e-300)
    // Method-of-moments GPD fit; the shape is kept in [MIN_XI, MAX_XI].
    const ratio = (mean * mean) / variance
    // Shrunk toward an exponential tail (ξ = 0) by XI_PRIOR pseudo-exceedances: a
    // moment estimate from a few dozen exceedances is noisy, and an overestimated
    // shape turns every later extreme into a merely unusual value.
    const xi = 0.5 * (1 - ratio) * (exceed / (exceed + XI_PRIOR))
    this.xi = Math.min(MAX_XI, Math.max(MIN_XI, xi))
    this.sigma = Math.max(this.o.minSigma, mean * (1 - this.xi))
  }
}
