// Silent places on keyshift's own surfaces: Prometheus gauges read at scrape
// time and a `/readyz` check. Both read RotationService.places (the same
// rule and bounds the readiness verdicts use), at most once a second however
// many metrics or probes ask.
import { Gauge } from 'prom-client'
import { describeSilence, type PlaceStatus } from '../analysis/freshness.ts'
import type { Registry } from '../telemetry/metrics.ts'

/** Places exported per place: silent ones first, so a flood of gateway names cannot grow the series without bound. */
const MAX_PLACE_SERIES = 100
const SNAPSHOT_TTL_MS = 1_000

export interface PlacesMonitor {
  /** The `/readyz` check: names the silent places (see docs/freshness.md for why it stays ok). */
  check(): Promise<{ ok: boolean; detail: string; silentPlaces: PlaceStatus[] }>
}

export function createPlacesMonitor(opts: {
  places: (now: number) => Promise<PlaceStatus[]>
  clock: () => number
  registry: Registry
}): PlacesMonitor {
  let cached: { at: number; value: Promise<PlaceStatus[]> } | null = null
  const snapshot = () => {
    const now = opts.clock()
    if (cached === null || now - cached.at >= SNAPSHOT_TTL_MS) {
      const value = opts.places(now)
      cached = { at: now, value }
      // A failed read is not cached: the next scrape tries again.
      value.catch(() => {
        if (cached?.value === value) cached = null
      })
    }
    return cached.value
  }

  new Gauge({
    name: 'keyshift_places_silent',
    help: 'Gateways and sources (Kafka partitions, files) heard from within the readiness lookback whose newest stored event is older than their silent_after_ms bound; verdicts depending on them are unknown.',
    labelNames: ['kind'],
    registers: [opts.registry],
    async collect() {
      const places = await snapshot()
      this.reset()
      for (const kind of ['gateway', 'source']) {
        this.set({ kind }, places.filter((p) => p.kind === kind && p.silent).length)
      }
    },
  })
  new Gauge({
    name: 'keyshift_place_silence_seconds',
    help: `Seconds since the newest stored event of each gateway and source heard from within the readiness lookback (at most ${MAX_PLACE_SERIES}, silent ones first).`,
    labelNames: ['kind', 'place'],
    registers: [opts.registry],
    async collect() {
      const places = await snapshot()
      this.reset()
      for (const p of places.slice(0, MAX_PLACE_SERIES)) {
        this.set({ kind: p.kind, place: p.name }, p.silentForMs / 1000)
      }
    },
  })

  return {
    async check() {
      const places = await snapshot()
      const silentPlaces = places.filter((p) => p.silent)
      return {
        // The instance itself can serve (and answers `unknown` for the verdicts
        // that depend on a silent place); /readyz only reports the silence.
        ok: true,
        detail:
          silentPlaces.length === 0
            ? `all ${places.length} gateway(s) and source(s) heard from are reporting`
            : `${silentPlaces.length} of ${places.length} place(s) silent: ${silentPlaces.map(describeSilence).join('; ')}`,
        silentPlaces,
      }
    },
  }
}
