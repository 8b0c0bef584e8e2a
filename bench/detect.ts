// bench:detect — the anomaly-detection evaluation suite: labelled series from the
// scenario generator (every anomaly kind injected at a known place, and calm
// series that must stay quiet) scored window-wise for the general detector and
// two baselines measured in the same run (a rolling z-score and the Poisson
// failure-spike detector), at the shared alarm score 0.5 and at each detector's
// best single threshold; then each detector's throughput in points per second.
//   npm run bench:detect        (KEYSHIFT_BENCH_SEEDS, default "1,2,3")

import { RollingZScoreDetector } from '../src/analysis/anomaly/rolling-zscore.ts'
import { SeasonalEnsembleDetector } from '../src/analysis/anomaly/seasonal-ensemble.ts'
import type { PointDetector } from '../src/analysis/anomaly/types.ts'
import { type SeriesOutcome, scoreSeries, summarise } from '../src/analysis/anomaly/window-score.ts'
import { StreamingDetector } from '../src/analysis/spikes.ts'
import { evaluationSuite, INJECTED_KINDS, type LabelledSeries } from '../src/scenario/anomaly-series.ts'
import { Random } from '../src/scenario/random.ts'

const SEEDS = (process.env.KEYSHIFT_BENCH_SEEDS ?? '1,2,3').split(',').map(Number)
const ONLY = process.env.KEYSHIFT_BENCH_DETECTORS?.split(',')

/** The Poisson failure-spike detector as a series detector (what `keyshift detect` was): negative values score 0. */
class PoissonAsSeries implements PointDetector {
  private readonly d = new StreamingDetector()
  push(time: number, value: number) {
    const score = value >= 0 ? this.d.push(time, value).score : 0
    return { time, value, score, expected: null, lower: null, upper: null, kind: null }
  }
}

const DETECTORS: Record<string, () => PointDetector> = {
  'seasonal-ensemble': () => new SeasonalEnsembleDetector(),
  'rolling-zscore': () => new RollingZScoreDetector(60),
  poisson: () => new PoissonAsSeries(),
}

function run(make: () => PointDetector, s: LabelledSeries): Float64Array {
  const d = make()
  const out = new Float64Array(s.values.length)
  for (let i = 0; i < s.values.length; i++) out[i] = d.push(s.times[i]!, s.values[i]!).score
  return out
}

const suite = evaluationSuite(SEEDS)
const calmPoints = suite.filter((s) => s.windows.length === 0).reduce((n, s) => n + s.values.length, 0)
console.log(
  `suite: ${suite.length} series, ${suite.reduce((n, s) => n + s.values.length, 0)} points, ` +
    `${suite.reduce((n, s) => n + s.windows.length, 0)} labelled anomalies, ${calmPoints} points in calm series`,
)
const fmt = (x: number, d = 1) => x.toFixed(d).padStart(7)
const thresholds = Array.from({ length: 19 }, (_, i) => 0.05 * (i + 1))

const names = Object.keys(DETECTORS).filter((n) => !ONLY || ONLY.includes(n))
const results: Record<string, { scores: Float64Array[] }> = {}
for (const name of names) results[name] = { scores: suite.map((s) => run(DETECTORS[name]!, s)) }

const outcomesAt = (name: string, t: number, filter: (s: LabelledSeries) => boolean = () => true) =>
  suite
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => filter(s))
    .map(({ s, i }): SeriesOutcome => scoreSeries(results[name]!.scores[i]!, s.windows, s.probation, t))

console.log(
  '\ndetector            threshold   score  found/total  delay  false alarms  per 10k calm  precision  recall     F1',
)
for (const name of names) {
  let best = { t: 0.5, score: Number.NEGATIVE_INFINITY }
  for (const t of thresholds) {
    const sc = summarise(outcomesAt(name, t)).score
    if (sc > best.score) best = { t, score: sc }
  }
  for (const [label, t] of [
    ['0.50', 0.5],
    [`best ${best.t.toFixed(2)}`, best.t],
  ] as const) {
    const o = summarise(outcomesAt(name, t))
    console.log(
      `${name.padEnd(20)}${label.padEnd(10)}${fmt(o.score)}  ${`${o.detected}/${o.windows}`.padStart(11)}` +
        `${fmt(o.meanDelay, 2)}  ${String(o.falseAlarms).padStart(12)}  ${fmt(o.falseAlarmsPer10k, 2)}` +
        `      ${fmt(o.precision, 3)}${fmt(o.recall, 3)}${fmt(o.f1, 3)}`,
    )
  }
}

console.log('\nfound per anomaly kind at score 0.5 (and false alarms per 10k points of calm series)')
console.log(`detector            ${INJECTED_KINDS.map((k) => k.padStart(16)).join('')}    calm/10k`)
for (const name of names) {
  const perKind = INJECTED_KINDS.map((k) => {
    const o = summarise(outcomesAt(name, 0.5, (s) => s.windows[0]?.kind === k))
    return `${o.detected}/${o.windows}`.padStart(16)
  })
  const calm = summarise(outcomesAt(name, 0.5, (s) => s.windows.length === 0))
  console.log(`${name.padEnd(20)}${perKind.join('')}  ${fmt(calm.falseAlarmsPer10k, 2).padStart(10)}`)
}
if (process.env.KEYSHIFT_BENCH_VERBOSE) {
  for (const name of names) {
    suite.forEach((s, i) => {
      const o = scoreSeries(results[name]!.scores[i]!, s.windows, s.probation, 0.5)
      if (o.detected < o.windows || o.falseAlarms > 0)
        console.log(`  ${name} ${s.name}: found ${o.detected}/${o.windows}, false alarms ${o.falseAlarms}`)
    })
  }
}

// Calm series of shapes the suite does not make (heavy tails, skew, wandering, trends,
// sparse counts): every alarm is false. 10 series of 5 000 points at 5-minute steps
// per shape, the first 750 not counted (probation).
{
  const shapes: Record<string, () => (r: Random, i: number) => number> = {
    gaussian: () => (r) => r.normal(0, 1),
    laplace: () => (r) => {
      const u = r.next() - 0.5
      return -Math.sign(u) * Math.log(1 - 2 * Math.abs(u))
    },
    'student-t3': () => (r) => {
      let c = 0
      for (let k = 0; k < 3; k++) c += r.normal(0, 1) ** 2
      return r.normal(0, 1) / Math.sqrt(c / 3)
    },
    'log-normal': () => (r) => Math.exp(r.normal(0, 0.8)),
    'random walk': () => {
      let x = 0
      return (r) => {
        x += r.normal(0, 1)
        return x
      }
    },
    trend: () => (r, i) => 100 + 0.01 * i + r.normal(0, 1),
    'counts 0.3': () => (r) => r.poisson(0.3),
    'counts 3': () => (r) => r.poisson(3),
  }
  console.log(
    '\ncalm series the suite does not make: alarm points per 10k at score 0.5 (10 × 5 000 points each)',
  )
  console.log(
    `detector            ${Object.keys(shapes)
      .map((k) => k.padStart(12))
      .join('')}`,
  )
  for (const name of names) {
    const row = Object.values(shapes).map((shape) => {
      let alarms = 0
      let n = 0
      for (let seed = 1; seed <= 10; seed++) {
        const r = new Random(seed, 11)
        const gen = shape()
        const d = DETECTORS[name]!()
        for (let i = 0; i < 5000; i++) {
          const p = d.push(Date.UTC(2026, 0, 5) + i * 300_000, gen(r, i))
          if (i >= 750) {
            n++
            if (p.score >= 0.5) alarms++
          }
        }
      }
      return fmt((1e4 * alarms) / n, 2).padStart(12)
    })
    console.log(`${name.padEnd(20)}${row.join('')}`)
  }
}

console.log('\nthroughput (push only, whole suite, best of 3)')
for (const name of names) {
  let best = Number.POSITIVE_INFINITY
  let points = 0
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now()
    points = 0
    for (const s of suite) {
      run(DETECTORS[name]!, s)
      points += s.values.length
    }
    best = Math.min(best, performance.now() - t0)
  }
  console.log(`${name.padEnd(20)}${fmt(points / (best / 1000) / 1e6, 2)} M points/s`)
}

// `keyshift detect` itself: start-up (empty input) against a bare `node -e 0`, and
// rows per second through the command on generated rows, both in child processes.
{
  const { spawnSync } = await import('node:child_process')
  const bin = new URL('../bin/keyshift.js', import.meta.url).pathname
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
  const time = (args: string[], input: string) => {
    const t0 = performance.now()
    const r = spawnSync(process.execPath, args, { input, maxBuffer: 1 << 30 })
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`)
    return performance.now() - t0
  }
  time([bin, 'detect'], '') // warms the file cache; needs `npm run build` (bin/ runs dist/)
  const node = median(Array.from({ length: 5 }, () => time(['-e', '0'], '')))
  const start = median(Array.from({ length: 5 }, () => time([bin, 'detect'], '')))
  console.log(
    `\nkeyshift detect start-up: ${start.toFixed(0)} ms (bare node: ${node.toFixed(0)} ms, median of 5)`,
  )
  const rows = 500_000
  const lines = ['timestamp,value']
  for (let i = 0; i < rows; i++)
    lines.push(
      `${1_767_225_600 + i * 60},${(100 + 10 * Math.sin(i / 200) + ((i * 7919) % 13) / 3).toFixed(3)}`,
    )
  const ms = time([bin, 'detect'], `${lines.join('\n')}\n`)
  console.log(
    `keyshift detect throughput: ${((rows / (ms - start)) * 1000).toFixed(0)} rows/s (${rows} rows in ${ms.toFixed(0)} ms, start-up subtracted)`,
  )
}
