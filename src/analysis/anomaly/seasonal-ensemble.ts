// The general streaming detector for any numeric series (`keyshift detect`'s
// default, and the daemon's usage watch). Five robust forecasters run side by
// side (a slow and a fast level; seasonal medians of the same time on earlier
// days, on earlier days of the same kind (weekday/weekend), on earlier weeks);
// the one with the smallest recent error on this kind of day forecasts, so
// seasonality is used only once the history holds it and it measurably helps. The forecast
// residual feeds four statistics (point deviation, drift of the mean, excess
// variance, a run of identical values), and on a series of counts a fifth (a run of
// low counts against the Poisson lower tail), each calibrated into a tail probability
// against its own history (tail.ts); the rarest, Bonferroni-corrected, is the score.
import { ValidationError } from '../../domain/errors.ts'
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../types.ts'
import { MAX_POISSON_LAMBDA, poissonLowerTail } from './poisson-tail.ts'
import { ALARM_SCORE, pOfScore, scoreOfP } from './score.ts'
import { TailCalibrator } from './tail.ts'
import type { AnomalyKind, AnomalyPoint, PointDetector } from './types.ts'

const WEEK_MS = 7 * DAY_MS

/**
 * Defaults:
 * - `warmup_points` 16: points collected before anything is scored (score 0); their
 *   median and spread start every forecaster, their spacing sets the cadence.
 * - `relearn_after_points` 5: that many consecutive points beyond 3.5 deviations
 *   (one direction, or both for a noise burst) are a new normal: the level moves to
 *   them and the spread widens, so a level shift alarms at its start, not forever.
 *   That many variance-change alarms (ending after that many quiet points in a row)
 *   make the spread what it is now.
 * - `history_points` 1024: values each calibrator keeps (2 KiB each, 4 KiB for the variance's;
 *   they grow to it as the series fills).
 * - `alarm_score` 0.5: only used for what the detector learns from (alarm points
 *   do not enter the calibration history) and for the expected band's width.
 */
export interface SeasonalEnsembleSettings {
  warmup_points: number
  relearn_after_points: number
  history_points: number
  alarm_score: number
}

export const DEFAULT_SEASONAL_ENSEMBLE_SETTINGS: Readonly<SeasonalEnsembleSettings> = Object.freeze({
  warmup_points: 16,
  relearn_after_points: 5,
  history_points: 1024,
  alarm_score: ALARM_SCORE,
})

/**
 * Forecasters: 0 slow level, 1 fast level, 2 same time on earlier days, 3 same time
 * of the week on earlier weeks, 4 same time on earlier days of the same kind
 * (weekdays or weekend days); the seasonal ones plus a level offset.
 */
const MODELS = 5
const LEVEL_ALPHA = [0.05, 0.5, 0.1, 0.1, 0.1] as const
/** A gap longer than this many steps widens the next point's spread (the forecast is older than usual). */
const GAP_STEPS = 3
/** Seasonal forecasters: median of the same bin on the previous 7 days, or the same bin of the previous 3 weeks. */
const DAYS_KEPT = 7
const WEEKS_KEPT = 3
/** Learning rate of each forecaster's spread (mean absolute error). */
const SCALE_ALPHA = 0.02
/** Learning rate of the error used to pick the forecaster (slower: a choice, not a reaction). */
const SELECT_ALPHA = 0.01
/**
 * A forecaster replaces the current one only when its error is this much smaller (5%).
 * Measured on held-out seeds 4-8 (found / false alarm points / heavy-tail checks): 0.9
 * kept the fast level on a daily sine where the daily median was 5-10% better, and its
 * lag hid a 9-sigma spike (135 / 11); 0.95: 138 / 16, and 140 against 132 on seeds
 * 9-13, never used to choose; 0.97 and 1: 139-140 found, but a trend alarmed (3.5 per 10k).
 */
const SWITCH_MARGIN = 0.95
/** Residuals are clipped at this many spreads before anything learns from them (Huber). */
const CLIP = 3
/** Deviations beyond which a point counts toward re-learning. */
const RELEARN_Z = 3.5
/**
 * Smoothing of the drift (level shift) and variance statistics. The variance statistic
 * is an EWMA of |z| (capped at 8), not of z²: a square lets one large point move it as
 * much as a real change of spread does.
 */
const DRIFT_BETA = 0.25
const VAR_BETA = 0.1
/** Values a seasonal forecaster's own drift history needs before it replaces the slow level's. */
const OWN_DRIFT_HISTORY = 512
/**
 * Smallest tail scale of a forecaster's own drift history (the shared one's is 0.05): a
 * seasonal forecaster's drifts are tight, and with a thinner floor a drift of one spread
 * on irregular traffic was "1 in 10⁶" (measured: 0.05 → 4 more false alarm points).
 */
const OWN_DRIFT_MIN_SIGMA = 0.2
/**
 * Count component: on a series of non-negative integers, the last COUNT_POINTS values'
 * sum against the Poisson lower tail of the forecasts' sum, while that sum is at most
 * MAX_POISSON_LAMBDA (above it the spread-based statistics see a drop just as well).
 */
const COUNT_POINTS = 3
/**
 * Measured on calm Poisson(0.3) and Poisson(3) noise and the suite: without a bound one
 * alarm point per 42 500 on Poisson(3); bounded at the Poisson figure itself (1), one dip
 * fewer found in each seed set; 1.5 neither.
 */
const COUNT_MAX_GAIN = 1.5
/**
 * A point's side judged on its own: its p-value times 8 (2 to make it two-sided, 2 for
 * taking the smaller of two figures, 2 for a fit on half the points). Measured: with 4,
 * one more anomaly found in each seed set but 3 more alarm points in 42 500 on Student-t₃
 * noise and 1 more on Laplace noise; with 8, 1 more on Student-t₃ than without sides.
 */
const SIDE_FACTOR = 8
/** Statistics combined by Bonferroni. */
const FEATURES = 4
/** Finest daily bin (5 min) and weekly bin (1 h); at most 288 and 168 bins. */
const MIN_DAY_BIN_MS = 5 * MINUTE_MS
const MIN_WEEK_BIN_MS = HOUR_MS

/**
 * Tail priors before a statistic has history, deliberately heavy-tailed (Laplace in
 * mean-absolute-deviation units), so a detector with little history stays quiet.
 */
/**
 * Bin means of the last `periods` periods (days or weeks): one row of bins per
 * period, a ring indexed by period number. A bin keeps its running mean (Float32:
 * 7 digits of a forecast's level; NaN while empty). Its count (Uint16, saturating:
 * past 65 535 points a bin's mean moves by 1/65 535 of each new one) is allocated
 * only once a bin gets a second point: at a cadence of one point per bin, the usual
 * case, a bin is 4 bytes.
 */
export class SeasonRing {
  private means = new Float32Array(0)
  /** Points per bin, once some bin has had two (until then each non-empty bin has one). */
  private counts: Uint16Array | undefined
  private readonly tags: Float64Array
  private bins = 0
  private readonly scratch: Float64Array

  constructor(readonly periods: number) {
    this.tags = new Float64Array(periods).fill(-1)
    this.scratch = new Float64Array(periods)
  }

  init(bins: number): void {
    this.bins = bins
    this.means = new Float32Array(bins * this.periods).fill(Number.NaN)
    this.counts = undefined
  }

  get enabled(): boolean {
    return this.bins > 0
  }

  /** Whether some bin has had more than one point (the counts are allocated). */
  get counted(): boolean {
    return this.counts !== undefined
  }

  add(period: number, bin: number, value: number): void {
    const slot = period % this.periods
    if (this.tags[slot] !== period) {
      this.tags[slot] = period
      this.means.fill(Number.NaN, slot * this.bins, (slot + 1) * this.bins)
      this.counts?.fill(0, slot * this.bins, (slot + 1) * this.bins)
    }
    const i = slot * this.bins + bin
    const mean = this.means[i]!
    if (Number.isNaN(mean)) {
      this.means[i] = value
      if (this.counts) this.counts[i] = 1
      return
    }
    if (this.counts === undefined) {
      this.counts = new Uint16Array(this.means.length)
      for (let j = 0; j < this.means.length; j++) if (!Number.isNaN(this.means[j]!)) this.counts[j] = 1
    }
    const c = this.counts[i]!
    if (c < 0xffff) this.counts[i] = c + 1
    this.means[i] = mean + (value - mean) / Math.min(c + 1, 0xffff)
  }

  /**
   * Median over earlier periods of the bin's mean, or NaN with fewer than `min` of
   * them; with `sameKind`, only periods of the same kind (weekend or not, for days).
   */
  median(period: number, bin: number, min: number, sameKind = false): number {
    let k = 0
    const kind = isWeekend(period)
    for (let back = 1; back <= this.periods; back++) {
      const p = period - back
      const slot = p % this.periods
      if (p < 0 || this.tags[slot] !== p) continue
      if (sameKind && isWeekend(p) !== kind) continue
      const v = this.means[slot * this.bins + bin]!
      if (Number.isNaN(v)) continue
      // insertion sort into scratch[0..k)
      let j = k++
      while (j > 0 && this.scratch[j - 1]! > v) {
        this.scratch[j] = this.scratch[j - 1]!
        j--
      }
      this.scratch[j] = v
    }
    if (k < min) return Number.NaN
    return k % 2 === 1 ? this.scratch[k >> 1]! : (this.scratch[(k >> 1) - 1]! + this.scratch[k >> 1]!) / 2
  }
}

/** Day number (epoch days, UTC) on a Saturday or Sunday. Day 0 was a Thursday. */
const isWeekend = (day: number) => (day + 3) % 7 >= 5

const pointPrior = (a: number) => Math.exp(-a)
const driftPrior = (m: number) => Math.exp(-m / 0.5)
/** Before it has history, the count statistic (decades of Poisson rarity) is taken at a tenth of its face value. */
const countPrior = (c: number) => 10 ** (-c / 10)
const varPrior = (v: number) => (v <= 1.4 ? 1 : Math.exp(-(v - 1.4) / 0.4))

export class SeasonalEnsembleDetector implements PointDetector {
  readonly settings: SeasonalEnsembleSettings

  private lastTime = Number.NEGATIVE_INFINITY
  private warm: number[] = []
  private warmTimes: number[] = []
  private ready = false

  private readonly level = new Float64Array(MODELS)
  private readonly scale = new Float64Array(MODELS)
  /** Recent error per forecaster, separately for weekdays [0, MODELS) and weekend days [MODELS, 2·MODELS). */
  private readonly err = new Float64Array(2 * MODELS)
  private readonly ok = new Uint8Array(MODELS)
  private readonly forecasts = new Float64Array(MODELS)
  private readonly varAbs = new Float64Array(MODELS)
  /** Variance-change alarms in the current run, the points since it began, and quiet points in a row. */
  private varRun = 0
  private varPoints = 0
  private varQuiet = 0
  private readonly runSum = new Float64Array(MODELS)
  private readonly errs = new Float64Array(MODELS)
  private readonly runAbs = new Float64Array(MODELS)
  /** Forecaster in use on weekdays and on weekend days. */
  private readonly chosen = new Uint8Array(2)
  /** Spread of the whole series at warm-up: the floor of every forecaster's spread is a tiny share of it. */
  private scaleFloor = 0

  private dayBins = 0
  private dayBinMs = 0
  private weekBins = 0
  private weekBinMs = 0
  /**
   * Per-bin means and counts of the last DAYS_KEPT days (and WEEKS_KEPT weeks) before the
   * current one, a ring by day (week) number. One slot more than that: the current day
   * takes the oldest day's slot at its first point, and with DAYS_KEPT slots the medians
   * were of 6 earlier days (3 weeks: 2), so an even count averaged a weekend day with a
   * weekday, and a day-old dip was half the forecast of the next day's bin.
   */
  private readonly days = new SeasonRing(DAYS_KEPT + 1)
  private readonly weeks = new SeasonRing(WEEKS_KEPT + 1)

  /** Typical spacing of points (ms), from the warm-up; 0 when unknown. */
  private stepMs = 0
  /** Points in a day at the series' cadence (288 when unknown): how long a flat line is held as stuck. */
  private stuckPoints = 288
  private prevTime = 0
  /** The drift statistic against each slow forecaster (the fast level, 1, has none). */
  private readonly drifts = new Float64Array(MODELS)
  private readonly nextDrifts = new Float64Array(MODELS)
  private variance = 1
  private prevValue = Number.NaN
  /** Every value so far a non-negative integer: the count component applies. */
  private counts = true
  /** The last COUNT_POINTS values and forecasts, a ring. */
  private readonly countValues = new Float64Array(COUNT_POINTS)
  private readonly countForecasts = new Float64Array(COUNT_POINTS)
  /** The variance statistic before each of those points: the window's dispersion is judged from before it. */
  private readonly countVariance = new Float64Array(COUNT_POINTS)
  private countPos = 0
  private countSeen = 0
  private flatRun = 0
  private longestFlatRun = 0
  private repeatRate = 0
  private runCount = 0
  private runSign = 0

  /** Tail probability of one statistic at the alarm score (after the Bonferroni factor). */
  private readonly alarmP: number
  private readonly pointTail: TailCalibrator
  /**
   * The point deviation below and above the forecast, each side on its own, for series
   * that are not counts: a skewed series (latencies, sizes) has one light tail, and a drop
   * (or rise) far beyond anything seen on that side is rare even when the other side's
   * values go that far.
   */
  private sideTails: [TailCalibrator, TailCalibrator] | undefined
  private readonly makeSideTail: () => TailCalibrator
  /**
   * The drift statistic's history, one per slow forecaster, each learning from the
   * forecaster's own residuals once it forecasts (allocated then). Drifts against the
   * slow level, lagging a daily cycle it cannot follow, are much larger than against a
   * seasonal forecaster: one shared history held both, and hid level shifts.
   */
  private readonly driftTails: (TailCalibrator | undefined)[] = new Array(MODELS)
  /** The drift against whichever forecaster was the slow one, every point: the history used until a forecaster's own is. */
  private readonly driftTail: TailCalibrator
  private readonly makeTail: (
    minSigma: number,
    prior: (x: number) => number,
    minHistory: number,
    compact: boolean,
  ) => TailCalibrator
  private readonly varTail: TailCalibrator
  /** -log10 of the count component's Poisson tail, calibrated like every other statistic (overdispersion included). */
  private countTail: TailCalibrator | undefined
  private readonly makeCountTail: () => TailCalibrator

  constructor(settings: Partial<SeasonalEnsembleSettings> = {}) {
    this.settings = { ...DEFAULT_SEASONAL_ENSEMBLE_SETTINGS, ...settings }
    const s = this.settings
    if (!(Number.isInteger(s.warmup_points) && s.warmup_points >= 3))
      throw new ValidationError(`warmup_points must be an integer ≥ 3, got ${s.warmup_points}`)
    if (!(Number.isInteger(s.relearn_after_points) && s.relearn_after_points >= 1))
      throw new ValidationError(`relearn_after_points must be an integer ≥ 1, got ${s.relearn_after_points}`)
    if (!(Number.isInteger(s.history_points) && s.history_points >= 64))
      throw new ValidationError(`history_points must be an integer ≥ 64, got ${s.history_points}`)
    const tail = (
      minSigma: number,
      prior: (x: number) => number,
      minHistory = 64,
      compact = false,
      capacity = s.history_points,
    ) =>
      new TailCalibrator({
        capacity,
        refreshEvery: capacity >> 1,
        tailFraction: 0.05,
        minSigma,
        minHistory,
        prior,
        compact,
      })
    this.alarmP = pOfScore(s.alarm_score) / FEATURES
    this.pointTail = tail(0.25, pointPrior, 64, true)
    // Allocated once a series is known not to be counts (the two are exclusive). A full history
    // each (measured with a side factor of 4: half of it, 512, let 2 more alarm points through
    // on Student-t₃ noise).
    this.makeSideTail = () => tail(0.25, pointPrior, 64, true)
    this.makeTail = tail
    // Every history but the variance's is compact (16-bit, 1.2e-4 relative): bench:detect identical.
    // The variance history is not: compact, it let 1 more alarm point through on Student-t₃ noise.
    this.driftTail = tail(0.05, driftPrior, 64, true)
    this.varTail = tail(0.1, varPrior, 64, false)
    // Mostly zeros (a count at or above its forecast is 0): a longer history before its own tail is used.
    // Allocated once a series has been counts past its warm-up (a gauge or a ratio never pays for it).
    this.makeCountTail = () => tail(0.1, countPrior, Math.min(s.history_points, 256), true)
  }

  push(time: number, value: number): AnomalyPoint {
    if (!Number.isFinite(time)) throw new ValidationError(`timestamp ${time} is not a finite number`)
    if (!Number.isFinite(value)) throw new ValidationError(`value ${value} is not a finite number`)
    if (time < this.lastTime) {
      throw new ValidationError(
        `timestamp ${new Date(time).toISOString()} is earlier than the previous point's (${new Date(
          this.lastTime,
        ).toISOString()}); points must come in time order`,
      )
    }
    this.lastTime = time

    if (this.counts && !(value >= 0 && Number.isInteger(value))) this.counts = false
    if (!this.ready) {
      this.warm.push(value)
      this.warmTimes.push(time)
      if (this.warm.length >= this.settings.warmup_points) this.start()
      this.prevValue = value
      return { time, value, score: 0, expected: null, lower: null, upper: null, kind: null }
    }
    return this.step(time, value)
  }

  /** Starts every forecaster from the warm-up points. */
  private start(): void {
    const xs = [...this.warm].sort((a, b) => a - b)
    const med = xs[xs.length >> 1]!
    let dev = 0
    let diff = 0
    let repeats = 0
    for (let i = 0; i < this.warm.length; i++) {
      dev += Math.abs(this.warm[i]! - med)
      if (i > 0) {
        const d = Math.abs(this.warm[i]! - this.warm[i - 1]!)
        diff += d
        if (d === 0) repeats++
      }
    }
    dev /= this.warm.length
    diff /= this.warm.length - 1
    // Mean absolute deviation; a series that wanders (random walk) is judged by its steps.
    const spread = Math.min(dev, diff > 0 ? diff : dev) || dev || diff
    this.scaleFloor = Math.max(1e-9 * Math.max(Math.abs(med), spread), 1e-12)
    const start = Math.max(spread, this.scaleFloor)
    this.level.fill(med)
    this.scale.fill(start)
    this.err.fill(start)
    this.repeatRate = (repeats + 1) / (this.warm.length + 1)

    const gaps = this.warmTimes
      .slice(1)
      .map((t, i) => t - this.warmTimes[i]!)
      .filter((g) => g > 0)
      .sort((a, b) => a - b)
    const step = gaps.length > 0 ? gaps[gaps.length >> 1]! : 0
    this.stepMs = step
    if (step > 0) this.stuckPoints = Math.max(3, Math.round(DAY_MS / step))
    this.prevTime = this.warmTimes[this.warmTimes.length - 1]!
    if (step > 0 && step <= DAY_MS / 8) {
      this.dayBins = Math.max(1, Math.floor(DAY_MS / Math.max(step, MIN_DAY_BIN_MS)))
      this.dayBinMs = DAY_MS / this.dayBins
      this.days.init(this.dayBins)
      if (step <= WEEK_MS / 28) {
        this.weekBins = Math.max(1, Math.floor(WEEK_MS / Math.max(step, MIN_WEEK_BIN_MS)))
        this.weekBinMs = WEEK_MS / this.weekBins
        this.weeks.init(this.weekBins)
      }
    }
    this.ready = true
    this.warm = []
    this.warmTimes = []
  }

  private step(time: number, value: number): AnomalyPoint {
    const day = Math.floor(time / DAY_MS)
    const week = Math.floor(time / WEEK_MS)
    const dayBin = this.dayBins > 0 ? Math.floor((time - day * DAY_MS) / this.dayBinMs) : -1
    const weekBin = this.weekBins > 0 ? Math.floor((time - week * WEEK_MS) / this.weekBinMs) : -1
    // Seasonal forecasters compete once earlier periods hold this bin (two days, one week, one day of the kind).
    const d2 = dayBin >= 0 ? this.days.median(day, dayBin, 2) : Number.NaN
    const w3 = weekBin >= 0 ? this.weeks.median(week, weekBin, 1) : Number.NaN
    const d4 = dayBin >= 0 ? this.days.median(day, dayBin, 1, true) : Number.NaN
    const ok = this.ok
    const f = this.forecasts
    ok[0] = 1
    ok[1] = 1
    ok[2] = Number.isNaN(d2) ? 0 : 1
    ok[3] = Number.isNaN(w3) ? 0 : 1
    ok[4] = Number.isNaN(d4) ? 0 : 1
    f[0] = this.level[0]!
    f[1] = this.level[1]!
    f[2] = this.level[2]! + (ok[2] ? d2 : 0)
    f[3] = this.level[3]! + (ok[3] ? w3 : 0)
    f[4] = this.level[4]! + (ok[4] ? d4 : 0)

    // Pick the forecaster: the smallest recent error, on this kind of day, among those allowed.
    const dt = this.dayBins > 0 && isWeekend(day) ? 1 : 0
    const eo = dt * MODELS
    let best = this.chosen[dt]!
    if (!ok[best]) best = 0
    for (let m = 0; m < MODELS; m++) {
      if (ok[m] && this.err[eo + m]! < SWITCH_MARGIN * this.err[eo + best]!) best = m
    }
    this.chosen[dt] = best
    // The drift statistic is measured against the best slow forecaster: the fast level
    // follows a level shift within two points, so its residuals would hide the shift.
    let slow = 0
    for (let m = 2; m < MODELS; m++) if (ok[m] && this.err[eo + m]! < this.err[eo + slow]!) slow = m
    const forecast = f[best]!
    const e = value - forecast
    const gap = this.stepMs > 0 ? (time - this.prevTime) / this.stepMs : 1
    const widen = gap > GAP_STEPS ? Math.sqrt(1 + 0.05 * (gap - 1)) : 1
    const spread = Math.max(this.scale[best]!, this.scaleFloor) * widen
    const z = e / spread
    this.prevTime = time

    // Statistics and their tail probabilities.
    const a = Math.abs(z)
    const nd = this.nextDrifts
    for (let m = 0; m < MODELS; m++) {
      if (m === 1 || !ok[m]) continue
      const zm = (value - f[m]!) / (Math.max(this.scale[m]!, this.scaleFloor) * widen)
      nd[m] = (1 - DRIFT_BETA) * this.drifts[m]! + DRIFT_BETA * Math.min(6, Math.max(-6, zm))
    }
    const drift = nd[slow]!
    const variance = (1 - VAR_BETA) * this.variance + VAR_BETA * Math.min(a, 8)
    const same = value === this.prevValue
    const flatRun = same ? this.flatRun + 1 : 0
    // The rarer of the two-sided figure and the point's side on its own (times SIDE_FACTOR).
    // On counts a drop is the count statistic's to judge (a zero in sparse counts is no news).
    const sideTail = this.counts ? undefined : this.sideTailOf(z < 0 ? 0 : 1)
    const pPoint =
      sideTail !== undefined
        ? Math.min(this.pointTail.pValue(a), SIDE_FACTOR * sideTail.pValue(a))
        : this.pointTail.pValue(a)
    // A seasonal forecaster's own history is used once it holds enough, and only on a kind of
    // day (weekday, weekend) seen before: the first weekend is new to it, not a level shift.
    const ownTail = this.driftTails[slow]
    const driftTail =
      ownTail !== undefined && ownTail.size >= OWN_DRIFT_HISTORY && ok[4] ? ownTail : this.driftTail
    const pDrift = driftTail.pValue(Math.abs(drift))
    const pVar = this.varTail.pValue(variance)
    const countStat = this.counts ? this.countStatistic(value, forecast, spread) : 0
    // The calibration may call a run of low counts at most COUNT_MAX_GAIN times rarer (in decades)
    // than quasi-Poisson does: a history of mostly zeros has a thin tail that over-extrapolates.
    const pCount = this.counts
      ? Math.max(this.countTailOf().pValue(countStat), 10 ** -(COUNT_MAX_GAIN * countStat))
      : 1
    // A run of identical values longer than any before it, each repeat as rare as repeats have been.
    const pFlat = flatRun >= 3 && flatRun > this.longestFlatRun ? (this.repeatRate + 0.01) ** flatRun : 1
    let pMin = pPoint
    let kind: AnomalyKind = z >= 0 ? 'spike' : 'dip'
    if (pDrift < pMin) {
      pMin = pDrift
      kind = 'level_shift'
    }
    if (pVar < pMin) {
      pMin = pVar
      kind = 'variance_change'
    }
    if (pCount < pMin) {
      pMin = pCount
      kind = 'dip'
    }
    if (pFlat < pMin) {
      pMin = pFlat
      kind = 'flat_line'
    }
    const score = scoreOfP(Math.min(1, pMin * (this.counts ? FEATURES + 1 : FEATURES)))
    const alarm = score >= this.settings.alarm_score
    const halfWidth = spread * this.pointTail.quantile(this.alarmP)

    // Learn.
    if (!alarm) {
      this.pointTail.add(a)
      sideTail?.add(a)
      this.driftTail.add(Math.abs(drift))
      for (let m = 2; m < MODELS; m++) {
        if (!ok[m]) continue
        ;(this.driftTails[m] ?? this.newDriftTail(m)).add(Math.abs(nd[m]!))
      }
      this.varTail.add(variance)
      if (this.counts) this.countTailOf().add(countStat)
    }
    // A flat line is a stuck source, not the series: for up to a day of points nothing learns
    // from it (levels, spreads, drift, variance, re-learning), so the series coming back is
    // forecast as before. A flat line lasting longer is a new normal, learnt like any other.
    const stuck = flatRun >= 3 && pFlat * FEATURES < 1e-3 && flatRun <= this.stuckPoints
    if (!stuck) {
      for (let m = 0; m < MODELS; m++) this.drifts[m] = m === 1 || !ok[m] ? 0 : nd[m]!
      this.variance = variance
    }
    this.flatRun = flatRun
    if (!alarm || kind !== 'flat_line') this.longestFlatRun = Math.max(this.longestFlatRun, flatRun)
    this.repeatRate += 0.005 * ((same ? 1 : 0) - this.repeatRate)
    this.prevValue = value

    const errs = this.errs
    for (let m = 0; m < MODELS; m++) {
      const em = value - f[m]!
      errs[m] = em
      const sm = Math.max(this.scale[m]!, this.scaleFloor)
      const lim = CLIP * sm
      const ec = Math.min(lim, Math.max(-lim, em))
      if (stuck) continue
      // After a gap the fast level is stale (it follows the series, not a pattern): it restarts from the point.
      if (m === 1 && gap > GAP_STEPS) this.level[m] = value
      else this.level[m]! += LEVEL_ALPHA[m]! * ec
      const ae = Math.min(Math.abs(em), lim)
      this.scale[m]! += SCALE_ALPHA * (ae - this.scale[m]!)
      this.err[eo + m]! += SELECT_ALPHA * (ae - this.err[eo + m]!)
    }
    if (dayBin >= 0) this.days.add(day, dayBin, value)
    if (weekBin >= 0) this.weeks.add(week, weekBin, value)
    // A seasonal forecaster's level is its offset from the seasonal median: zero until the median exists.
    // Until then it shadows the slow level's spread and error, so it competes from a fair start.
    for (let m = 2; m < MODELS; m++) {
      if (ok[m]) continue
      this.level[m] = 0
      this.scale[m] = this.scale[0]!
      this.err[m] = this.err[0]!
      this.err[MODELS + m] = this.err[MODELS]!
    }

    // A variance change that keeps alarming is a new normal: the spread becomes what it is now.
    // Its alarms come and go (the statistic hovers near the line), so the run counts variance
    // alarms and ends only after `relearn_after_points` quiet points in a row; once it holds that
    // many alarms, every forecaster's spread becomes at least its mean |error| over the run.
    if (alarm && kind === 'variance_change') {
      if (this.varRun === 0) {
        this.varAbs.fill(0)
        this.varPoints = 0
      }
      this.varRun++
      this.varQuiet = 0
    } else if (this.varRun > 0 && !alarm && ++this.varQuiet >= this.settings.relearn_after_points) {
      this.varRun = 0
    }
    if (this.varRun > 0) {
      this.varPoints++
      for (let m = 0; m < MODELS; m++) this.varAbs[m]! += Math.abs(errs[m]!)
      if (this.varRun >= this.settings.relearn_after_points) {
        for (let m = 0; m < MODELS; m++)
          this.scale[m] = Math.max(this.scale[m]!, this.varAbs[m]! / this.varPoints)
        this.variance = 1
        this.varRun = 0
      }
    }

    // Re-learn after a run of far-off points: a new level, a new spread.
    const far = a > RELEARN_Z && !stuck
    const sign = z >= 0 ? 1 : -1
    if (far) {
      if (this.runCount === 0) {
        this.runSign = sign
        this.runSum.fill(0)
        this.runAbs.fill(0)
      } else if (sign !== this.runSign) this.runSign = 0
      this.runCount++
      for (let m = 0; m < MODELS; m++) {
        this.runSum[m]! += errs[m]!
        this.runAbs[m]! += Math.abs(errs[m]!)
      }
      if (this.runCount >= this.settings.relearn_after_points) this.relearn()
    } else this.runCount = 0

    const expected = forecast
    return {
      time,
      value,
      score,
      expected,
      lower: expected - halfWidth,
      upper: expected + halfWidth,
      kind: score >= 0.3 ? kind : null,
    }
  }

  /**
   * Decades of Poisson rarity of the last COUNT_POINTS values' sum being this low against
   * their forecasts' sum; 0 when it is not below, or the forecast sum is beyond the range
   * where counts are small.
   */
  private countStatistic(value: number, forecast: number, spread: number): number {
    const i = this.countPos
    this.countValues[i] = value
    this.countForecasts[i] = Math.max(forecast, 0)
    this.countVariance[i] = this.variance
    this.countPos = i + 1 === COUNT_POINTS ? 0 : i + 1
    if (this.countSeen < COUNT_POINTS) this.countSeen++
    if (this.countSeen < COUNT_POINTS) return 0
    let s = 0
    let lambda = 0
    for (let k = 0; k < COUNT_POINTS; k++) {
      s += this.countValues[k]!
      lambda += this.countForecasts[k]!
    }
    if (!(s < lambda) || lambda > MAX_POISSON_LAMBDA) return 0
    // Quasi-Poisson: where the forecaster's error is wider than Poisson noise (overdispersion,
    // or a forecast that is itself uncertain), the rarity shrinks by that dispersion.
    const poissonMae = 0.8 * Math.sqrt(lambda / COUNT_POINTS)
    // The oldest slot is the window's first point: the excess variance (mean |z| beyond 1) before it.
    // It counts once, not squared with the spread: it is a ten-point average, and its ordinary
    // swings on calm small counts (1.6-1.8) squared divided three empty buckets where 22 were
    // expected by 2.6-3.2 and hid them (measured on held-out seeds 4-8: 3 more found, 3 more
    // alarm points, all in an ongoing variance change of small counts).
    const before = this.countVariance[this.countPos]!
    const phi = Math.max(1, (spread / poissonMae) ** 2 * Math.max(1, before))
    return -Math.log10(Math.max(poissonLowerTail(s, lambda), 1e-300)) / phi
  }

  /** The point deviation's history below (0) or above (1) the forecast. */
  private sideTailOf(side: 0 | 1): TailCalibrator {
    if (this.sideTails === undefined) this.sideTails = [this.makeSideTail(), this.makeSideTail()]
    return this.sideTails[side]
  }

  private countTailOf(): TailCalibrator {
    if (this.countTail === undefined) this.countTail = this.makeCountTail()
    return this.countTail
  }

  private newDriftTail(m: number): TailCalibrator {
    const t = this.makeTail(OWN_DRIFT_MIN_SIGMA, driftPrior, 64, true)
    this.driftTails[m] = t
    return t
  }

  private relearn(): void {
    const k = this.runCount
    for (let m = 0; m < MODELS; m++) {
      const shift = this.runSum[m]! / k
      // A same-direction run moves the level; the spread becomes what is left around it.
      if (this.runSign !== 0) this.level[m]! += shift
      const left = Math.max(this.runAbs[m]! / k - (this.runSign !== 0 ? Math.abs(shift) : 0), 0)
      if (this.runSign === 0) this.scale[m] = Math.max(this.scale[m]!, left)
      this.err[m] = Math.max(this.err[m]!, this.scale[m]!)
      this.err[MODELS + m] = Math.max(this.err[MODELS + m]!, this.scale[m]!)
    }
    this.drifts.fill(0)
    this.variance = 1
    this.runCount = 0
  }
}
