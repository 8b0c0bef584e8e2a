// Trend of one version's traffic share: a least-squares line through the bucketed
// shares, and when the line is falling and fits well enough, an estimate of when
// the version's share reaches zero at the current pace. Used for the migration ETA
// on dashboards and for the `migration_stalled` finding.
import { linearRegression, linearRegressionLine, rSquared } from 'simple-statistics'
import { z } from 'zod'
import type { ShareWindow } from './share.ts'
import { HOUR_MS } from './types.ts'

/**
 * Thresholds of the estimate:
 * - `min_points` (6): buckets with traffic needed before any estimate; fewer says little.
 * - `min_r2` (0.5): the line must explain at least half of the variance of the shares.
 * - `min_requests_per_point` (1): a bucket with fewer requests of the key is not a point
 *   (an empty bucket has no share at all, and a near-empty one is mostly noise).
 */
export const trendSettingsSchema = z.strictObject({
  min_points: z.number().int().min(2).default(6),
  min_r2: z.number().min(0).max(1).default(0.5),
  min_requests_per_point: z.number().int().min(1).default(1),
})
export type TrendSettings = z.output<typeof trendSettingsSchema>
export const DEFAULT_TREND_SETTINGS: TrendSettings = Object.freeze(trendSettingsSchema.parse({}))

export type NoTrendReason = 'too_few_points' | 'not_decreasing' | 'poor_fit' | 'already_zero'

export interface TrendPoint {
  /** Midpoint of the bucket, epoch ms. */
  time: number
  share: number
}

export type ShareTrend =
  | {
      kind: 'estimate'
      /** Epoch ms when the share reaches zero: last point's time + its share / |slope|. */
      etaMs: number
      /** Fitted change of the share per hour (negative: falling), share units (0.01 = 1 point of %). */
      slopePerHour: number
      r2: number
      /** Share in the last bucket with traffic. */
      currentShare: number
      points: TrendPoint[]
    }
  | {
      kind: 'none'
      reason: NoTrendReason
      /** Present once a line was fitted (reasons `not_decreasing` and `poor_fit`). */
      slopePerHour: number | null
      r2: number | null
      currentShare: number | null
      points: TrendPoint[]
    }

/**
 * Estimates when `version`'s share reaches zero from a share series (see `shareSeries`).
 * "At the current pace" means: starting from the last observed share and falling at
 * the fitted slope, so the estimate never lies before the data.
 */
export function estimateShareTrend(
  series: readonly ShareWindow[],
  version: string,
  settings: TrendSettings = DEFAULT_TREND_SETTINGS,
): ShareTrend {
  const points: TrendPoint[] = series
    .filter((b) => b.totalRequests >= settings.min_requests_per_point)
    .map((b) => ({
      time: (b.from + b.to) / 2,
      share: b.versions.find((v) => v.version === version)?.share ?? 0,
    }))
  const none = (reason: NoTrendReason, slopePerHour: number | null = null, r2: number | null = null) => ({
    kind: 'none' as const,
    reason,
    slopePerHour,
    r2,
    currentShare: points.length > 0 ? points[points.length - 1]!.share : null,
    points,
  })
  const last = points[points.length - 1]
  if (last === undefined) return none('too_few_points')
  if (last.share === 0) return none('already_zero')
  if (points.length < settings.min_points) return none('too_few_points')

  // x in hours since the first point keeps the numbers small and the slope readable.
  const t0 = points[0]!.time
  const xy = points.map((p) => [(p.time - t0) / HOUR_MS, p.share])
  const fit = linearRegression(xy)
  if (!(fit.m < 0)) return none('not_decreasing', fit.m, null)
  const r2 = rSquared(xy, linearRegressionLine(fit))
  if (!(r2 >= settings.min_r2)) return none('poor_fit', fit.m, r2)
  return {
    kind: 'estimate',
    etaMs: Math.round(last.time + (last.share / -fit.m) * HOUR_MS),
    slopePerHour: fit.m,
    r2,
    currentShare: last.share,
    points,
  }
}
