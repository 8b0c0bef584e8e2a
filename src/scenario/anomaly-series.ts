// Labelled numeric series for the anomaly-detection evaluation suite
// (bench:detect): the scenario generator's traffic shapes (daily cycle, quieter
// weekends, Poisson counts) and a few other kinds of operations series (gauges
// around zero, huge scales, wandering latencies, irregular cadence with gaps),
// calm or with one anomaly of each kind injected at a known place. Seeded and
// deterministic: the same seed gives the same suite.
import { DAY_MS, MINUTE_MS } from '../analysis/types.ts'
import { diurnal } from './generator.ts'
import { Random } from './random.ts'

export const INJECTED_KINDS = ['spike', 'dip', 'level_shift', 'variance_change', 'flat_line'] as const
export type InjectedKind = (typeof INJECTED_KINDS)[number]

export interface LabelledWindow {
  kind: InjectedKind
  /** Index of the first anomalous point. */
  at: number
  /** Window in which a detection counts, as point indices [from, to). */
  from: number
  to: number
}

export interface LabelledSeries {
  name: string
  /** Epoch ms, non-decreasing. */
  times: number[]
  values: number[]
  /** Empty for a calm series. */
  windows: LabelledWindow[]
  /** Points before this index are the detectors' probation: not scored either way. */
  probation: number
}

type Shape = 'traffic' | 'traffic_small' | 'gauge' | 'huge' | 'latency' | 'irregular'
export const SHAPES: readonly Shape[] = ['traffic', 'traffic_small', 'gauge', 'huge', 'latency', 'irregular']

/** Points in a detection window after the anomaly starts (and 2 before it). */
export const WINDOW_POINTS = 30

/** Length of an injected flat line; its window covers all of it. */
export const FLAT_POINTS = 60

const START = Date.UTC(2026, 0, 5) // a Monday

function poisson(rng: Random, lambda: number): number {
  if (lambda > 50) return Math.max(0, Math.round(rng.normal(lambda, Math.sqrt(lambda))))
  const l = Math.exp(-lambda)
  let k = 0
  let p = 1
  do {
    k++
    p *= rng.next()
  } while (p > l)
  return k - 1
}

const weekly = (t: number) => {
  const dow = Math.floor((t - START) / DAY_MS) % 7
  return dow >= 5 ? 0.6 : 1
}

interface Base {
  times: number[]
  /** Clean signal (expected value) and a noise draw for each point. */
  mean: number[]
  noise: (i: number, sdFactor: number) => number
  /** Typical noise size at point i (for sizing injected anomalies). */
  sd: (i: number) => number
  counts: boolean
}

function base(shape: Shape, rng: Random, days: number): Base {
  const stepMs = shape === 'traffic' || shape === 'traffic_small' ? 5 * MINUTE_MS : 10 * MINUTE_MS
  const times: number[] = []
  if (shape === 'irregular') {
    let t = START
    const end = START + days * DAY_MS
    while (t < end) {
      times.push(t)
      t += Math.round(rng.uniform(0.3, 1.7) * stepMs)
      if (rng.chance(0.002)) t += Math.round(rng.uniform(2, 8) * 3_600_000) // a gap of hours
    }
  } else for (let t = START; t < START + days * DAY_MS; t += stepMs) times.push(t)
  const rate = shape === 'traffic' ? 400 : 6
  switch (shape) {
    case 'traffic':
    case 'traffic_small': {
      const mean = times.map((t) => rate * diurnal(t) * weekly(t))
      return {
        times,
        mean,
        noise: (i, f) => poisson(rng, mean[i]! * f) - mean[i]! * f,
        sd: (i) => Math.sqrt(mean[i]!),
        counts: true,
      }
    }
    case 'gauge': {
      const mean = times.map((t) => 3 * Math.sin((2 * Math.PI * (t % DAY_MS)) / DAY_MS) - 1)
      return { times, mean, noise: (_i, f) => rng.normal(0, 0.5 * f), sd: () => 0.5, counts: false }
    }
    case 'huge': {
      const mean = times.map((t) => 2.5e9 + 4e8 * diurnal(t))
      return { times, mean, noise: (_i, f) => rng.normal(0, 2e7 * f), sd: () => 2e7, counts: false }
    }
    case 'latency': {
      // AR(1) wander around 120 ms plus log-normal noise.
      const mean: number[] = []
      let ar = 0
      for (let i = 0; i < times.length; i++) {
        ar = 0.95 * ar + rng.normal(0, 2)
        mean.push(120 + ar)
      }
      return {
        times,
        mean,
        noise: (_i, f) => (rng.logNormal(1, 0.5) - 1.13) * 6 * f,
        sd: () => 5,
        counts: false,
      }
    }
    case 'irregular': {
      const mean = times.map((t) => 50 + 20 * diurnal(t))
      return { times, mean, noise: (_i, f) => rng.normal(0, 3 * f), sd: () => 3, counts: false }
    }
  }
}

/** A series of `shape` over `days` days, calm or with one `kind` anomaly injected at `atFraction` of its length. */
export function labelledSeries(
  shape: Shape,
  kind: InjectedKind | null,
  seed: number,
  days = 10,
  atFraction = 0.75,
): LabelledSeries {
  const rng = new Random(seed, shape.length * 31 + (kind ? INJECTED_KINDS.indexOf(kind) + 1 : 0))
  const b = base(shape, rng, days)
  const n = b.times.length
  const at = Math.floor(n * atFraction)
  const values: number[] = new Array(n)
  for (let i = 0; i < n; i++) {
    let m = b.mean[i]!
    let f = 1
    if (kind === 'level_shift' && i >= at) m = b.counts ? m * 3 : m + 6 * b.sd(i)
    if (kind === 'variance_change' && i >= at) f = b.counts ? 9 : 4
    let v = b.counts && f !== 1 ? m + (poisson(rng, m) - m) * 3 : m + b.noise(i, f)
    if (kind === 'spike' && i === at)
      v = b.counts ? m + Math.max(2 * m, 8 * Math.sqrt(m) + 5) : m + 9 * b.sd(i)
    if (kind === 'dip' && i >= at && i < at + 3) v = b.counts ? 0 : m - 9 * b.sd(i)
    if (kind === 'flat_line' && i >= at && i < at + FLAT_POINTS) v = values[at - 1]!
    values[i] = b.counts ? Math.max(0, Math.round(v)) : v
  }
  const windows: LabelledWindow[] =
    kind === null
      ? []
      : [
          {
            kind,
            at,
            from: Math.max(0, at - 2),
            to: Math.min(n, at + (kind === 'flat_line' ? FLAT_POINTS : WINDOW_POINTS)),
          },
        ]
  return {
    name: `${shape}/${kind ?? 'calm'}/${seed}`,
    times: b.times,
    values,
    windows,
    probation: Math.floor(n * 0.15),
  }
}

/** The suite: every shape with every anomaly kind, and calm series of every shape, for each seed. */
export function evaluationSuite(seeds: readonly number[] = [1, 2, 3]): LabelledSeries[] {
  const out: LabelledSeries[] = []
  for (const seed of seeds) {
    for (const shape of SHAPES) {
      for (const kind of INJECTED_KINDS) out.push(labelledSeries(shape, kind, seed))
      out.push(labelledSeries(shape, null, seed, 21))
    }
  }
  return out
}
