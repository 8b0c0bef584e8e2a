// The alert path, written out in one place. An evaluation's observations go
// through these stages, in this order, each one file under pipeline/:
//
//   state → silence → route → group → dedup → repeat → record
//
// state: pending → firing → resolved (for_ms, resolve_after_ms); silence: mute
// matched firing alerts; route: pick receivers; group: group_by, group_wait,
// group_interval; dedup: news compared with the notification log; repeat:
// repeat_interval; record: notification ids and the durable outbox. Routing
// comes before grouping because grouping is per route and receiver (as in
// Alertmanager). Delivery happens after this, from the outbox (delivery.ts),
// so a notification survives restarts and is retried with backoff.
//
// This class holds the states between runs and persists them after each run,
// so a restart (or a new leader) continues without re-notifying anything.
import { Gauge } from 'prom-client'
import type { Logger } from '../telemetry/logger.ts'
import type { Registry } from '../telemetry/metrics.ts'
import { type AlertingConfig, forMsOf, type ResolvedRoute, resolveRoutes } from './config.ts'
import { dedupGroups } from './pipeline/dedup.ts'
import { groupAlerts, groupId } from './pipeline/group.ts'
import { type Hash, type OutboxWriter, recordDecisions, sha256Hex, writeOutbox } from './pipeline/record.ts'
import { decideNotifications } from './pipeline/repeat.ts'
import { routeAlerts } from './pipeline/route.ts'
import { applySilences } from './pipeline/silence.ts'
import { advanceStates } from './pipeline/state.ts'
import {
  type AlertState,
  episodeKey,
  type GroupState,
  type LiveAlert,
  liveAlert,
  type Observation,
  type OutboxEntry,
  type Silence,
  type StateSettings,
} from './pipeline/types.ts'

export const ALERT_PIPELINE_STAGES = [
  'state',
  'silence',
  'route',
  'group',
  'dedup',
  'repeat',
  'record',
] as const

/** What the pipeline reads and writes; `AlertStore` implements it over ClickHouse. */
export interface AlertPipelineStore extends OutboxWriter {
  /** Pending and firing states, and resolved ones resolved at or after `resolvedSince`. */
  loadAlertStates(resolvedSince: number): Promise<AlertState[]>
  saveAlertStates(states: readonly AlertState[], now: number): Promise<void>
  loadGroupStates(since: number): Promise<GroupState[]>
  saveGroupStates(states: readonly GroupState[], now: number): Promise<void>
  /** Silences that have not ended at `now` (active or scheduled). */
  silences(now: number): Promise<Silence[]>
}

export interface AlertPipelineOptions {
  config: AlertingConfig
  store: AlertPipelineStore
  hash?: Hash
  logger?: Pick<Logger, 'info' | 'warn' | 'debug'>
  registry?: Registry
}

export interface PipelineRun {
  /** Notifications newly written to the outbox, for the delivery worker. */
  entries: OutboxEntry[]
  /** Earliest future time a group needs a decision (group_wait, group_interval, repeat), or null. */
  nextWakeAt: number | null
  /** Alert states firing after this run. */
  firing: number
}

/** A state persisted longer ago than this is written again (so its lastSeen in the store stays recent). */
const REFRESH_PERSISTED_MS = 30_000
/** Group states idle longer than this are loaded no more. */
const GROUP_LOAD_WINDOW_MS = 7 * 86_400_000

export class AlertPipeline {
  readonly #store: AlertPipelineStore
  readonly #routes: ResolvedRoute[]
  readonly #settings: StateSettings
  readonly #hash: Hash
  readonly #dashboardUrl: string | undefined
  readonly #logger: AlertPipelineOptions['logger']
  #states = new Map<string, AlertState>()
  #groups = new Map<string, GroupState>()
  readonly #persistedAt = new Map<string, number>()
  #silences: Silence[] | null = null
  #silenced = new Map<string, string[]>()

  constructor(opts: AlertPipelineOptions) {
    const cfg = opts.config
    this.#store = opts.store
    this.#routes = resolveRoutes(cfg)
    this.#hash = opts.hash ?? sha256Hex
    this.#dashboardUrl = cfg.dashboard_url
    this.#logger = opts.logger
    const maxInterval = Math.max(...this.#routes.map((r) => r.groupIntervalMs))
    this.#settings = {
      forMs: (type) => forMsOf(cfg, type),
      // Readiness signals are edges computed over long windows: they resolve at once.
      resolveAfterMs: (channel) => (channel === 'readiness' ? 0 : cfg.resolve_after_ms),
      resolvedRetentionMs: Math.max(3_600_000, 2 * maxInterval),
    }
    if (opts.registry) {
      const gauge: Gauge<'type' | 'severity'> = new Gauge({
        name: 'keyshift_alerts_firing',
        help: 'Alerts firing (findings and self-monitoring) on this instance, by type and severity; 0 on non-leaders.',
        labelNames: ['type', 'severity'],
        registers: [opts.registry],
        collect: () => {
          gauge.reset()
          for (const s of this.#states.values()) {
            if (s.channel === 'alert' && s.phase === 'firing')
              gauge.inc({ type: s.alert.type, severity: s.alert.severity })
          }
        },
      })
    }
  }

  /** Loads states and notification logs from the store (at start, and when this instance becomes leader). */
  async load(now: number): Promise<void> {
    const [states, groups] = await Promise.all([
      this.#store.loadAlertStates(now - this.#settings.resolvedRetentionMs),
      this.#store.loadGroupStates(now - GROUP_LOAD_WINDOW_MS),
    ])
    this.#states = new Map(states.map((s) => [s.key, s]))
    this.#groups = new Map(groups.map((g) => [groupId(g.receiver, g.groupKey), g]))
    this.#persistedAt.clear()
    for (const s of states) this.#persistedAt.set(s.key, now)
    this.#logger?.info(
      { alerts: states.length, groups: groups.length },
      'Loaded alert states and notification logs from the store.',
    )
  }

  /** Forgets everything in memory (leadership lost: the next leader owns the states). */
  reset(): void {
    this.#states.clear()
    this.#groups.clear()
    this.#persistedAt.clear()
    this.#silenced.clear()
  }

  /** Runs an evaluation's observations through every stage. */
  evaluate(observations: readonly Observation[], now: number): Promise<PipelineRun> {
    return this.#run(observations, now)
  }

  /** Runs the stages after `state` only: notifications falling due (group_wait, repeat) without a new evaluation. */
  flush(now: number): Promise<PipelineRun> {
    return this.#run(null, now)
  }

  /** Current states (pending, firing, recently resolved). */
  states(): AlertState[] {
    return [...this.#states.values()]
  }

  /** Whether the current episode of alert state `key` was in the last notification of some receiver's group. */
  wasNotified(key: string): boolean {
    const s = this.#states.get(key)
    if (!s) return false
    const episode = episodeKey(s)
    for (const g of this.#groups.values()) if (g.firing.includes(episode)) return true
    return false
  }

  /** Ids of the silences muting an alert at the last run. */
  silencedBy(key: string): string[] {
    return this.#silenced.get(key) ?? []
  }

  async #loadSilences(now: number): Promise<Silence[]> {
    try {
      this.#silences = await this.#store.silences(now)
    } catch (err) {
      if (this.#silences === null) throw err
      this.#logger?.warn(
        { err: (err as Error).message },
        'Reading silences failed; using the last ones read.',
      )
    }
    return this.#silences
  }

  async #run(observations: readonly Observation[] | null, now: number): Promise<PipelineRun> {
    // 1. state
    const state =
      observations === null
        ? { states: this.#states, changed: new Set<string>() }
        : advanceStates(this.#states, observations, now, this.#settings, this.#lastEpisodeLookup())
    const live = [...state.states.values()].map(liveAlert).filter((a): a is LiveAlert => a !== null)
    // 2. silence
    const { notify, silenced } = applySilences(live, await this.#loadSilences(now), now)
    const silencedFiring = new Set(live.filter((a) => silenced.has(a.key)).map((a) => a.episodeKey))
    // 3. route
    const routed = routeAlerts(notify, this.#routes)
    // 4. group
    const { groups, touched } = groupAlerts(routed, this.#groups, now)
    // 5. dedup
    const deduped = dedupGroups(groups, silencedFiring)
    // 6. repeat
    const { decisions, nextWakeAt } = decideNotifications(deduped, now)
    // 7. record
    const recorded = recordDecisions(decisions, now, { hash: this.#hash, dashboardUrl: this.#dashboardUrl })

    // Persist in this order: alert states, outbox, notification logs. A crash in
    // between repeats the same decision with the same id, which the outbox skips.
    const toSave: AlertState[] = []
    for (const s of state.states.values()) {
      const persisted = this.#persistedAt.get(s.key)
      const stale =
        s.phase !== 'resolved' && (persisted === undefined || now - persisted >= REFRESH_PERSISTED_MS)
      if (state.changed.has(s.key) || stale) toSave.push({ ...s, ver: s.ver + 1 })
    }
    if (toSave.length > 0) await this.#store.saveAlertStates(toSave, now)
    const entries = await writeOutbox(this.#store, recorded.entries)
    const groupUpdates = new Map<string, GroupState>()
    for (const g of [...touched, ...recorded.groupStates])
      groupUpdates.set(groupId(g.receiver, g.groupKey), g)
    const groupsToSave = [...groupUpdates.values()].map((g) => ({ ...g, ver: g.ver + 1 }))
    if (groupsToSave.length > 0) await this.#store.saveGroupStates(groupsToSave, now)

    // Everything is durable: adopt the new states.
    const states = new Map(state.states)
    for (const s of toSave) {
      states.set(s.key, s)
      this.#persistedAt.set(s.key, now)
    }
    for (const key of this.#persistedAt.keys()) if (!states.has(key)) this.#persistedAt.delete(key)
    this.#states = states
    for (const g of groupsToSave) this.#groups.set(groupId(g.receiver, g.groupKey), g)
    this.#pruneGroups(now)
    this.#silenced = silenced
    let firing = 0
    for (const s of states.values()) if (s.phase === 'firing') firing++
    // Groups just notified fall due again at their repeat interval.
    let wake = nextWakeAt
    for (const { group } of decisions) {
      if (group.firing.length === 0) continue
      const at = now + group.route.repeatIntervalMs
      if (wake === null || at < wake) wake = at
    }
    return { entries, nextWakeAt: wake, firing }
  }

  /** Highest episode per alert key that a notification log remembers. */
  #lastEpisodeLookup(): (key: string) => number {
    const max = new Map<string, number>()
    for (const g of this.#groups.values()) {
      for (const k of g.firing) {
        const at = k.lastIndexOf('#')
        const key = k.slice(0, at)
        const n = Number(k.slice(at + 1))
        if (Number.isInteger(n) && n > (max.get(key) ?? 0)) max.set(key, n)
      }
    }
    return (key) => max.get(key) ?? 0
  }

  /** Drops notification logs of groups that are empty, idle and refer to no alert still remembered. */
  #pruneGroups(now: number): void {
    const live = new Set<string>()
    for (const s of this.#states.values()) live.add(`${s.key}#${s.episode}`)
    for (const [id, g] of this.#groups) {
      const idle = g.lastNotifiedAt === null || now - g.lastNotifiedAt > this.#settings.resolvedRetentionMs
      if (g.bornAt === null && idle && !g.firing.some((k) => live.has(k))) this.#groups.delete(id)
    }
  }
}
