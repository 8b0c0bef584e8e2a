import { describe, expect, it } from 'vitest'
import type { ShareWindow } from './share.ts'
import { estimateShareTrend } from './trend.ts'

const H = 3_600_000

/** Hourly buckets from 0 where v1 has `shares[i]` of 100 requests (null: empty bucket). */
function series(shares: (number | null)[]): ShareWindow[] {
  return shares.map((s, i) => ({
    from: i * H,
    to: (i + 1) * H,
    totalRequests: s === null ? 0 : 100,
    versions:
      s === null
        ? []
        : [
            { version: 'v1', requests: Math.round(s * 100), failures: 0, share: s },
            { version: 'v2', requests: 100 - Math.round(s * 100), failures: 0, share: 1 - s },
          ],
  }))
}

describe('estimateShareTrend', () => {
  it('falling steadily: 0.6 → 0.1 by 0.1 per hour reaches zero one hour after the last midpoint', () => {
    const t = estimateShareTrend(series([0.6, 0.5, 0.4, 0.3, 0.2, 0.1]), 'v1')
    expect(t.kind).toBe('estimate')
    if (t.kind !== 'estimate') return
    // last point at 5.5 h with share 0.1; 0.1 / 0.1 per hour = 1 h → 6.5 h
    expect(t.etaMs).toBe(6.5 * H)
    expect(t.slopePerHour).toBeCloseTo(-0.1, 12)
    expect(t.r2).toBeCloseTo(1, 12)
    expect(t.currentShare).toBe(0.1)
    expect(t.points.map((p) => p.time)).toEqual([0.5, 1.5, 2.5, 3.5, 4.5, 5.5].map((h) => h * H))
  })

  it.each([
    { name: 'no traffic at all', shares: [null, null], reason: 'too_few_points', slope: null, r2: null },
    {
      name: 'five points',
      shares: [0.5, 0.4, 0.3, 0.2, 0.1],
      reason: 'too_few_points',
      slope: null,
      r2: null,
    },
    {
      name: 'empty buckets are not points',
      shares: [0.6, null, 0.4, 0.3, 0.2, 0.1],
      reason: 'too_few_points',
      slope: null,
      r2: null,
    },
    {
      name: 'last share zero',
      shares: [0.5, 0.4, 0.3, 0.2, 0.1, 0],
      reason: 'already_zero',
      slope: null,
      r2: null,
    },
    {
      name: 'rising by 0.1/h',
      shares: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
      reason: 'not_decreasing',
      slope: 0.1,
      r2: null,
    },
    { name: 'flat', shares: [0.3, 0.3, 0.3, 0.3, 0.3, 0.3], reason: 'not_decreasing', slope: 0, r2: null },
    // x̄ = 2.5, ȳ = 0.3, Σdxdy = -0.8, Σdx² = 17.5, Σdy² = 0.08
    // slope = -0.8 / 17.5 = -8/175; r² = 0.64 / (17.5 × 0.08) = 16/35 < 0.5
    {
      name: 'noisy',
      shares: [0.5, 0.2, 0.4, 0.3, 0.2, 0.2],
      reason: 'poor_fit',
      slope: -8 / 175,
      r2: 16 / 35,
    },
  ])('none: $name', ({ shares, reason, slope, r2 }) => {
    const t = estimateShareTrend(series(shares), 'v1')
    expect(t.kind).toBe('none')
    if (t.kind !== 'none') return
    expect(t.reason).toBe(reason)
    if (slope === null) expect(t.slopePerHour).toBeNull()
    else expect(t.slopePerHour).toBeCloseTo(slope, 12)
    if (r2 === null) expect(t.r2).toBeNull()
    else expect(t.r2).toBeCloseTo(r2, 12)
  })

  it('honours min_r2 and min_points settings', () => {
    const t = estimateShareTrend(series([0.5, 0.2, 0.4, 0.3, 0.2, 0.2]), 'v1', {
      min_points: 6,
      min_r2: 0.4,
      min_requests_per_point: 1,
    })
    expect(t.kind).toBe('estimate')
    // last point 5.5 h with share 0.2, slope -8/175 per hour → 0.2 × 175 / 8 = 4.375 h later
    if (t.kind === 'estimate') expect(t.etaMs).toBe(Math.round((5.5 + 4.375) * H))
  })
})
