import { describe, expect, it } from 'vitest'
import { SeasonalEnsembleDetector } from './anomaly/seasonal-ensemble.ts'
import { MINUTE_MS } from './types.ts'
import {
  type SourceSighting,
  type UsageBucket,
  UsageWatch,
  usageAnomalySettingsSchema,
} from './usage-anomaly.ts'

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
    // 13 buckets at a new level, 300: the detector re-learns it within a few, the finding
    // is held (since stays the first one) until hold_ms (1 h = 12 buckets) has passed.
    const since: number[] = []
    for (let k = 1; k <= 13; k++) {
      const row = { bucket: end + (k - 1) * BUCKET, version: 'v1', requests: 300 + noise(k), failures: 1 }
      w.advance('acme', [row], end + k * BUCKET)
      since.push((w.findings('acme').find((x) => x.version === '')?.evidence.since as number) ?? -1)
    }
    expect(since.slice(0, 12)).toEqual(Array(12).fill(end))
    expect(since[12]).toBe(-1)
  })

  it('keeps traffic stopped dead an anomaly for a day (a stuck series is not learnt), renewed each hold_ms', () => {
    const w = new UsageWatch()
    feed(w, calm(CALM), T0, T0 + CALM * BUCKET)
    const end = T0 + CALM * BUCKET
    const since: number[] = []
    for (let k = 1; k <= 288 + 24; k++) {
      w.advance('acme', [], end + k * BUCKET)
      since.push((w.findings('acme').find((x) => x.version === '')?.evidence.since as number) ?? -1)
    }
    // Held from the first zero for an hour, then raised again from the 13th bucket, and so on.
    expect(since.slice(0, 13)).toEqual([...Array(12).fill(end), end + 12 * BUCKET])
    expect(since.slice(0, 288).every((t) => t >= end)).toBe(true)
    // After a day at zero the detector learns it: the finding ends within the next two hours.
    expect(since[288 + 23]).toBe(-1)
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

/** Sightings of `sources` in bucket `i` (first and last minute inside it). */
const seenIn = (i: number, sources: readonly string[]): SourceSighting[] =>
  sources.map((source) => ({ source, first: T0 + i * BUCKET, last: T0 + i * BUCKET + 4 * MINUTE_MS }))
/** Eight steady addresses every bucket, plus `(i * 7) % 3` addresses seen for the first time. */
const calmSources = (i: number) => [
  ...seenIn(i, [
    '10.0.0.1',
    '10.0.0.2',
    '10.0.0.3',
    '10.0.0.4',
    '10.0.0.5',
    '10.0.0.6',
    '10.0.0.7',
    '10.0.0.8',
  ]),
  ...seenIn(
    i,
    Array.from({ length: (i * 7) % 3 }, (_, k) => `172.16.${i % 256}.${k}-${i}`),
  ),
]

/** Feeds requests and sightings one bucket at a time; returns the new_sources band points and finding ids. */
function feedSources(w: UsageWatch, buckets: number, sightings: (i: number) => SourceSighting[]) {
  const points: { bucket: number; observed: number }[] = []
  const ids: string[] = []
  const rows = calm(buckets)
  for (let i = 0; i < buckets; i++) {
    for (const p of w.advance('acme', rows, T0 + (i + 1) * BUCKET, sightings(i)))
      if (p.metric === 'new_sources') points.push({ bucket: (p.bucket - T0) / BUCKET, observed: p.observed })
    ids.push(...w.findings('acme').map((f) => f.id))
  }
  return { points, ids }
}

describe('UsageWatch new source addresses', () => {
  // No priming day and a 16-point warm-up: points are listed from bucket 16 on.
  const unprimed = (extra: Record<string, unknown> = {}) =>
    usageAnomalySettingsSchema.parse({ new_sources: { prime_ms: 0, ...extra } })

  it('counts per bucket the addresses the key has not seen, each once', () => {
    const w = new UsageWatch(unprimed())
    // Buckets 0–15: a and b; 16: a, c (c new); 17: a, b, c, d, e (d, e new); 18: a.
    const sets: Record<number, string[]> = { 16: ['a', 'c'], 17: ['a', 'b', 'c', 'd', 'e'], 18: ['a'] }
    const { points } = feedSources(w, 19, (i) => seenIn(i, sets[i] ?? ['a', 'b']))
    expect(points).toEqual([
      { bucket: 16, observed: 1 },
      { bucket: 17, observed: 2 },
      { bucket: 18, observed: 0 },
    ])
  })

  it('counts an address again once it has not been seen for history_ms', () => {
    // history 1 h = 12 buckets.
    const hour = usageAnomalySettingsSchema.parse({ history_ms: 3_600_000, new_sources: { prime_ms: 0 } })
    const w = new UsageWatch(hour)
    const sets: Record<number, string[]> = { 0: ['a', 'x'], 16: ['a', 'x'] }
    const { points } = feedSources(w, 17, (i) => seenIn(i, sets[i] ?? ['a']))
    // Bucket 16 is 16 buckets (80 min) after x's last sighting: new again.
    expect(points).toEqual([{ bucket: 16, observed: 1 }])
    const w2 = new UsageWatch(
      usageAnomalySettingsSchema.parse({ history_ms: 3_600_000, new_sources: { prime_ms: 0 } }),
    )
    const sets2: Record<number, string[]> = { 0: ['a', 'x'], 10: ['a', 'x'], 16: ['a', 'x'] }
    // Seen again in bucket 10: 30 min before bucket 16, still known.
    expect(feedSources(w2, 17, (i) => seenIn(i, sets2[i] ?? ['a'])).points).toEqual([
      { bucket: 16, observed: 0 },
    ])
  })

  it('keeps at most max_known_per_key addresses, forgetting the least recently seen', () => {
    const w = new UsageWatch(unprimed({ max_known_per_key: 2 }))
    // a and b every bucket; c in bucket 15 pushes out the least recently seen (a, re-inserted before b).
    const sets: Record<number, string[]> = { 15: ['a', 'b', 'c'], 16: ['a', 'b'] }
    const { points } = feedSources(w, 17, (i) => seenIn(i, sets[i] ?? ['a', 'b']))
    // Known after bucket 15: b, c. Bucket 16: a is new again (and pushes out c).
    expect(points).toEqual([{ bucket: 16, observed: 1 }])
  })

  it('starts the series prime_ms after the first sighting: at first every address is new', () => {
    const w = new UsageWatch() // prime 1 day = 288 buckets
    const { points } = feedSources(w, 300, (i) => (i >= 10 ? calmSources(i) : []))
    // First sighting in bucket 10, series from bucket 298 on, scored after its 16-point warm-up.
    expect(points).toEqual([])
    const { points: later } = feedSources(new UsageWatch(), 10 + 288 + 17, (i) =>
      i >= 10 ? calmSources(i) : [],
    )
    expect(later.map((p) => p.bucket)).toEqual([10 + 288 + 16])
  })

  it('stays quiet over three days of the usual churn of new addresses', () => {
    const { ids } = feedSources(new UsageWatch(), CALM, calmSources)
    expect(ids).toEqual([])
  })

  it('raises usage_anomaly with metric new_sources when 50 new addresses appear in one bucket', () => {
    const w = new UsageWatch()
    const burst = Array.from({ length: 50 }, (_, k) => `203.0.113.${k}`)
    const { ids } = feedSources(w, CALM + 1, (i) =>
      i === CALM ? [...calmSources(i), ...seenIn(i, burst)] : calmSources(i),
    )
    expect(ids).toEqual(['usage_anomaly:acme::metric=new_sources'])
    const f = w.findings('acme')[0]!
    expect(f.evidence).toMatchObject({
      metric: 'new_sources',
      observed: 50 + ((CALM * 7) % 3),
      since: T0 + CALM * BUCKET,
    })
    expect(f.evidence.expectedUpper as number).toBeLessThan(10)
    expect(f.title).toContain('burst of new source addresses (')
    expect(f.summary).toContain('source addresses not seen on it in 8 days, per 5 min')
  })

  it('does not alarm when fewer new addresses than usual appear', () => {
    const w = new UsageWatch(usageAnomalySettingsSchema.parse({ new_sources: { min_change: 0 } }))
    // Six new addresses per bucket for three days, then none for an hour.
    const busy = (i: number) =>
      seenIn(
        i,
        Array.from({ length: 6 }, (_, k) => `198.51.${i % 256}.${k}-${i}`),
      )
    const { ids } = feedSources(w, CALM + 12, (i) => (i < CALM ? busy(i) : seenIn(i, ['10.0.0.1'])))
    expect(ids.filter((id) => id.endsWith('new_sources'))).toEqual([])
  })

  it('is off with new_sources.enabled false', () => {
    const w = new UsageWatch(
      usageAnomalySettingsSchema.parse({ new_sources: { enabled: false, prime_ms: 0 } }),
    )
    expect(feedSources(w, 40, (i) => seenIn(i, [`n${i}`])).points).toEqual([])
  })
})
