// Freshness per place: is every gateway and source that carried a key's traffic
// still reporting? A place's "last heard" is the time of the newest event stored
// from it (data time, not the daemon's heartbeat), so a caught-up daemon reading
// a log that stopped growing still shows the place as silent. Pure: places and
// their last-heard times come in, "now" is a parameter.
import { z } from 'zod'
import { MINUTE_MS } from './types.ts'

/**
 * A place events come through: a `gateway` (the event's gateway field) or a
 * `source` (what keyshift read it from: `file:<path>`, `stdin`, or one Kafka
 * partition `kafka:<topic>#<partition>`; see `sourcePlaceName`).
 */
export type PlaceKind = 'gateway' | 'source'

export interface PlaceHeard {
  kind: PlaceKind
  name: string
  /** Event time of the newest event stored from this place, epoch ms. */
  lastHeard: number
}

export interface PlaceStatus extends PlaceHeard {
  /** now − lastHeard (never negative: a gateway clock slightly ahead is not "silent for −3 s"). */
  silentForMs: number
  /** The bound this place is held to (`silent_after_ms`, per gateway or source, else the default). */
  silentAfterMs: number
  /** True when silent for longer than its bound: verdicts that depend on it are unknown. */
  silent: boolean
}

const bound = z.number().int().positive()
const override = z.strictObject({ silent_after_ms: bound })

/**
 * Config (`analysis.freshness`), durations in milliseconds:
 * - `silent_after_ms` 5 min: a place whose newest stored event is older than this is silent.
 * - `gateways`: per gateway name, a longer (or shorter) bound, e.g. a gateway whose
 *   traffic is naturally low: `{ 'edge-eu-3': { silent_after_ms: 3600000 } }`.
 * - `sources`: per source id (`kafka:<topic>` for all of a topic's partitions, or
 *   `kafka:<topic>#<partition>`, `file:<path as configured>`, `stdin`), the same.
 * Nothing is inferred: a place without an entry is held to the default.
 */
export const freshnessConfigSchema = z.strictObject({
  silent_after_ms: bound.default(5 * MINUTE_MS),
  gateways: z.record(z.string().min(1), override).default({}),
  sources: z.record(z.string().min(1), override).default({}),
})
export type FreshnessConfig = z.output<typeof freshnessConfigSchema>
export const DEFAULT_FRESHNESS: FreshnessConfig = Object.freeze(freshnessConfigSchema.parse({}))

/**
 * The place name of a source as stored with each event (`src`, `src_partition`):
 * a Kafka partition is a place of its own (a partition with no new messages is
 * silent even while the topic's other partitions flow); a file is one place
 * whatever its inode (the partition of a file source changes on rotation).
 */
export function sourcePlaceName(src: string, partition: number): string {
  return src.startsWith('kafka:') ? `${src}#${partition}` : src
}

/** The bound of one place: its own entry, for a Kafka partition its topic's, else the default. */
export function silentAfterMs(cfg: FreshnessConfig, kind: PlaceKind, name: string): number {
  if (kind === 'gateway') return cfg.gateways[name]?.silent_after_ms ?? cfg.silent_after_ms
  const own = cfg.sources[name]?.silent_after_ms
  if (own !== undefined) return own
  const hash = name.startsWith('kafka:') ? name.lastIndexOf('#') : -1
  const topic = hash > 0 ? cfg.sources[name.slice(0, hash)]?.silent_after_ms : undefined
  return topic ?? cfg.silent_after_ms
}

/** Each place's status at `now`; silent ones first (longest silent first), then by kind and name. */
export function placeStatuses(
  heard: readonly PlaceHeard[],
  cfg: FreshnessConfig,
  now: number,
): PlaceStatus[] {
  return heard
    .map((p) => {
      const silentForMs = Math.max(0, now - p.lastHeard)
      const limit = silentAfterMs(cfg, p.kind, p.name)
      return { ...p, silentForMs, silentAfterMs: limit, silent: silentForMs > limit }
    })
    .sort(
      (a, b) =>
        Number(b.silent) - Number(a.silent) ||
        (a.silent ? b.silentForMs - a.silentForMs : 0) ||
        cmp(a.kind, b.kind) ||
        cmp(a.name, b.name),
    )
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

const secs = (ms: number) => `${Math.round(ms / 1000)} s`

/** "gateway gw-2 silent for 342 s (since 2026-…Z, bound 300 s)" */
export function describeSilence(p: PlaceStatus): string {
  return `${p.kind} ${p.name} silent for ${secs(p.silentForMs)} (since ${new Date(p.lastHeard).toISOString()}, bound ${secs(p.silentAfterMs)})`
}

/**
 * The places that carried a key's traffic, with when each was last heard from
 * (any key). A place missing from `heard` (read a moment apart) counts as never
 * heard from: silent, so the gate fails closed rather than trusting it.
 */
export function placesOfKey(
  of: { gateways: readonly string[]; sources: readonly string[] },
  heard: readonly PlaceHeard[],
): PlaceHeard[] {
  const last = (kind: PlaceKind, name: string) =>
    heard.find((h) => h.kind === kind && h.name === name)?.lastHeard ?? 0
  return [
    ...of.gateways.map((name) => ({ kind: 'gateway' as const, name, lastHeard: last('gateway', name) })),
    ...of.sources.map((name) => ({ kind: 'source' as const, name, lastHeard: last('source', name) })),
  ]
}
