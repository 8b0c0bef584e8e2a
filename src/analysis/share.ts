// Traffic share per version of one key: the fraction of the key's requests that
// used each version over a window, and the same as a series of time buckets for
// charts and trend estimates. Input rows are per-minute counts; a row belongs to a
// window when its minute start lies in [from, to).
import { DAY_MS, HOUR_MS, MINUTE_MS, type TimeWindow, type VersionMinute } from './types.ts'
import { compareVersionLabels } from './versions.ts'

/** Window presets for share queries; any other window can be passed explicitly. */
export const SHARE_PRESETS = { '5m': 5 * MINUTE_MS, '1h': HOUR_MS, '24h': DAY_MS } as const
export type SharePreset = keyof typeof SHARE_PRESETS

export interface VersionShare {
  version: string
  requests: number
  failures: number
  /** requests / all requests of the key in the window, in [0, 1]; 0 when the key had no traffic. */
  share: number
}

export interface ShareWindow extends TimeWindow {
  totalRequests: number
  /** Every version seen in the window, in natural label order (v1, v2, v10). */
  versions: VersionShare[]
}

/** The window of a preset that ends at `now` (exclusive): [now - length, now). */
export function presetWindow(preset: SharePreset, now: number): TimeWindow {
  return { from: now - SHARE_PRESETS[preset], to: now }
}

function sharesOf(counts: Map<string, { requests: number; failures: number }>, versions: readonly string[]) {
  let total = 0
  for (const c of counts.values()) total += c.requests
  const out: VersionShare[] = versions.map((version) => {
    const c = counts.get(version) ?? { requests: 0, failures: 0 }
    return { version, requests: c.requests, failures: c.failures, share: total > 0 ? c.requests / total : 0 }
  })
  return { totalRequests: total, versions: out }
}

function addTo(counts: Map<string, { requests: number; failures: number }>, r: VersionMinute): void {
  const c = counts.get(r.version)
  if (c) {
    c.requests += r.requests
    c.failures += r.failures
  } else {
    counts.set(r.version, { requests: r.requests, failures: r.failures })
  }
}

function assertWindow(w: TimeWindow): void {
  if (!(Number.isFinite(w.from) && Number.isFinite(w.to) && w.from <= w.to)) {
    throw new RangeError(`window [${w.from}, ${w.to}) is not a finite, ordered time range`)
  }
}

/** Share of requests per version over `window`. */
export function computeShares(rows: readonly VersionMinute[], window: TimeWindow): ShareWindow {
  assertWindow(window)
  const counts = new Map<string, { requests: number; failures: number }>()
  for (const r of rows) if (r.minute >= window.from && r.minute < window.to) addTo(counts, r)
  const versions = [...counts.keys()].sort(compareVersionLabels)
  return { from: window.from, to: window.to, ...sharesOf(counts, versions) }
}

/** The share of one version in a computed window (0 when absent). */
export function shareOf(window: ShareWindow, version: string): VersionShare {
  return window.versions.find((v) => v.version === version) ?? { version, requests: 0, failures: 0, share: 0 }
}

/**
 * Shares per bucket of `bucketMs`, buckets aligned on `window.from`; the last bucket
 * is cut at `window.to`. Empty buckets are kept (totalRequests 0, every share 0) so
 * charts show gaps; each bucket lists every version seen anywhere in the window.
 */
export function shareSeries(
  rows: readonly VersionMinute[],
  window: TimeWindow,
  bucketMs: number,
): ShareWindow[] {
  assertWindow(window)
  if (!(Number.isFinite(bucketMs) && bucketMs > 0))
    throw new RangeError(`bucketMs must be > 0, got ${bucketMs}`)
  const count = Math.ceil((window.to - window.from) / bucketMs)
  const buckets = Array.from(
    { length: count },
    () => new Map<string, { requests: number; failures: number }>(),
  )
  const seen = new Set<string>()
  for (const r of rows) {
    if (r.minute < window.from || r.minute >= window.to) continue
    addTo(buckets[Math.floor((r.minute - window.from) / bucketMs)]!, r)
    seen.add(r.version)
  }
  const versions = [...seen].sort(compareVersionLabels)
  return buckets.map((counts, i) => {
    const from = window.from + i * bucketMs
    return { from, to: Math.min(from + bucketMs, window.to), ...sharesOf(counts, versions) }
  })
}
