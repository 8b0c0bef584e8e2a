import { describe, expect, it } from 'vitest'
import { SeasonalEnsembleDetector } from './anomaly/seasonal-ensemble.ts'
import { MINUTE_MS } from './types.ts'
import { type UsageBucket, UsageWatch, usageAnomalySettingsSchema } from './usage-anomaly.ts'

const BUCKET = 5 * MINUTE_MS
const T0 = Date.UTC(2026, 0, 5) // a Monday
/** Deterministic noise in [-5, 5]. */
const noise = (i: number) => ((i * 7919) % 11) - 5
/** Three calm days: ~100 requests per 5 min on v1 (1 failure each), then whatever `last` says. */
const calm = (buckets: number): UsageBucket[] =>
  Array.from({ length: buckets }, (_, i) => ({
    bucket: T0 + i * BUCKET,
    version: 'v1',
    requests: 100 + noise(i),
    failures: 1,
  }))
const CALM = 3 * 288

/** Feeds `rows` one bucket at a time (as the daemon does, evaluation after evaluation). */
function feed(w: UsageWatch, rows: readonly UsageBucket[], from: number, to: number): string[] {
  const ids: string[] = []
  for (let t = from + BUCKET; t <= to; t += BUCKET) {
    w.advance('acme', rows, t)
    ids.push(...w.findings('acme').map((f) => f.id))
  }
  return ids
}

describe('UsageWatch', () => {
  it('stays quiet over three calm days of one key', () => {
    const w = new UsageWatch()
    expect(feed(w, calm(CALM), T0, T0 + CALM * BUCKET)).toEqual([])
  })

  it("raises usage_anomaly when a key's traffic triples, with the band expected before it and since when", () => {
    const w = new UsageWatch()
    const rows = [...calm(CALM), { bucket: T0 + CALM * BUCKET, version: 'v1', requests: 300, failures: 1 }]
    feed(w, rows, T0, T0 + (CALM + 1) * BUCKET)
    const f = w.findings('acme')
    // v1 carries all of the key's traffic: one finding, for the key.
    expect(f.map((x) => x.id)).toEqual(['usage_anomaly:acme::metric=requests'])
    const all = f[0]!
    expect(all.type).toBe('usage_anomaly')
    expect(all.evidence.observed).toBe(300)
    expect(all.evidence.since).toBe(T0 + CALM * BUCKET)
    expect(all.evidence.kind).toBe('spike')
    const [lower, upper] = [all.evidence.expectedLower as number, all.evidence.expectedUpper as number]
    expect(lower).toBeLessThan(100)
    expect(upper).toBeGreaterThan(100)
    expect(upper).toBeLessThan(300)
    expect(all.firstSeen).toBe(T0 + CALM * BUCKET)
    expect(all.lastSeen).toBe(T0 + (CALM + 1) * BUCKET)
    expect(all.title).toContain('traffic surged (300, expected')
  })

  it('watches each version with traffic: a surge on one of two versions is listed for the key and that version', () => {
    const w = new UsageWatch()
    const v2 = (n: number): UsageBucket[] =>
      Array.from({ length: n }, (_, i) => ({
        bucket: T0 + i * BUCKET,
        version: 'v2',
        requests: 50 + noise(i + 3),
        failures: 0,
      }))
    const rows = [
      ...calm(CALM + 1),
      ...v2(CALM),
      { bucket: T0 + CALM * BUCKET, version: 'v2', requests: 300, failures: 0 },
    ]
    feed(w, rows, T0, T0 + (CALM + 1) * BUCKET)
    expect(w.findings('acme').map((f) => [f.id, f.evidence.observed])).toEqual([
      ['usage_anomaly:acme::metric=requests', 100 + noise(CALM) + 300],
      ['usage_anomaly:acme:v2:metric=requests', 300],
    ])
  })

  it('watches the unknown key like any other: a surge of requests no key was found for', () => {
    const w = new UsageWatch()
    const rows = [
      ...calm(CALM),
      { bucket: T0 + CALM * BUCKET, version: 'v1', requests: 300, failures: 1 },
    ].map((r) => ({ ...r, version: 'unknown' }))
    for (let t = T0 + BUCKET; t <= T0 + (CALM + 1) * BUCKET; t += BUCKET) w.advance('unknown', rows, t)
    expect(w.findings('unknown').map((f) => [f.id, f.title.split(':')[0]])).toEqual([
      ['usage_anomaly:unknown::metric=requests', 'Usage anomaly on requests with an unknown key'],
    ])
  })

  it('counts a bucket without any row as zero requests: traffic collapsing to nothing is an anomaly', () => {
    const w = new UsageWatch()
    feed(w, calm(CALM), T0, T0 + CALM * BUCKET)
    w.advance('acme', [], T0 + (CALM + 1) * BUCKET)
    const f = w.findings('acme').find((x) => x.version === '')!
    expect(f.evidence.observed).toBe(0)
    expect(f.evidence.kind).toBe('dip')
    expect(f.title).toContain('traffic collapsed')
  })

  it('holds the finding while traffic stays beyond the old band, for at most hold_ms', () => {
    const w = new UsageWatch()
    feed(w, calm(CALM), T0, T0 + CALM * BUCKET)
    const end = T0 + CALM * BUCKET
    // 13 buckets at zero: the detector re-learns zero within a few, the finding is held
    // (since stays the first one) until hold_ms (1 h = 12 buckets) has passed.
    const since: number[] = []
    for (let k = 1; k <= 13; k++) {
      w.advance('acme', [], end + k * BUCKET)
      since.push((w.findings('acme').find((x) => x.version === '')?.evidence.since as number) ?? -1)
    }
    expect(since.slice(0, 12)).toEqual(Array(12).fill(end))
    expect(since[12]).toBe(-1)
  })

  it('watches the failure ratio once a bucket has min_ratio_requests', () => {
    const w = new UsageWatch()
    const rows = [...calm(CALM), { bucket: T0 + CALM * BUCKET, version: 'v1', requests: 100, failures: 40 }]
    feed(w, rows, T0, T0 + (CALM + 1) * BUCKET)
    const f = w.findings('acme').find((x) => x.scope === 'metric=failure_ratio' && x.version === '')!
    expect(f.evidence.observed).toBe(0.4)
    expect(f.title).toContain('failure ratio rose (40.0%')
  })

  it('scores only whole buckets that have ended by completeUntil, each once', () => {
    const w = new UsageWatch()
    const rows = calm(CALM)
    w.advance('acme', rows, T0 + 10 * BUCKET + 1)
    expect(w.readFrom('acme', 0)).toBe(T0 + 10 * BUCKET)
    // The same call again feeds nothing new; the next read starts at the first bucket not fed.
    w.advance('acme', rows, T0 + 10 * BUCKET + 2)
    expect(w.readFrom('acme', 0)).toBe(T0 + 10 * BUCKET)
  })

  it('applies the per-key sensitivity: a value medium alarms on, low does not', () => {
    // Find, with the same detector fed the same calm days, a value scoring in [0.5, 0.65).
    const probe = (v: number) => {
      const d = new SeasonalEnsembleDetector()
      for (const r of calm(CALM)) d.push(r.bucket, r.requests)
      return d.push(T0 + CALM * BUCKET, v).score
    }
    let value = 100
    while (probe(value) < 0.5) value++
    expect(probe(value)).toBeLessThan(0.65)
    const rows = [...calm(CALM), { bucket: T0 + CALM * BUCKET, version: 'v1', requests: value, failures: 1 }]
    const medium = new UsageWatch()
    const low = new UsageWatch(usageAnomalySettingsSchema.parse({ keys: { acme: { sensitivity: 'low' } } }))
    feed(medium, rows, T0, T0 + (CALM + 1) * BUCKET)
    feed(low, rows, T0, T0 + (CALM + 1) * BUCKET)
    expect(medium.findings('acme').some((f) => f.version === '')).toBe(true)
    expect(low.findings('acme').some((f) => f.version === '')).toBe(false)
  })

  it('rejects a bucket size that is not whole minutes, saying how to fix it', () => {
    expect(() => usageAnomalySettingsSchema.parse({ bucket_ms: 90_500 })).toThrow(
      'bucket_ms must be a whole number of minutes',
    )
  })
})
