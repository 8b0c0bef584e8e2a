// The evaluation loop: every `analysis.evaluation_interval_ms`, and right after
// each ingest flush (`kick`), read the store through the rotation service,
// build observations (findings, readiness signals, self-monitoring), run them
// through the alert pipeline and hand new notifications to the delivery worker.
// Only the leader evaluates; at most one evaluation is in flight, and kicks
// that arrive meanwhile fold into one more. Evaluations are spaced by their
// cost, and further apart while ingest catches up on a backlog. Between
// evaluations the loop also wakes for notifications falling due (group_wait,
// group_interval, repeat).
import { Counter, Gauge, Histogram } from 'prom-client'
import type { AlertingConfig } from '../alerting/config.ts'
import type { DeliveryWorker } from '../alerting/delivery.ts'
import type { Observation } from '../alerting/pipeline/types.ts'
import type { AlertPipeline, PipelineRun } from '../alerting/pipeline.ts'
import type { Finding } from '../analysis/findings.ts'
import type { VerdictWithRules } from '../analysis/readiness.ts'
import { type AlertType, INCIDENT_ALERT_TYPES } from '../domain/alert.ts'
import type { KeyVersion } from '../domain/key-version.ts'
import type { Leadership } from '../ingest/kafka/leadership.ts'
import { withPriority } from '../shared/work-priority.ts'
import type { DeadLetterCounts } from '../store/clickhouse/alert-store.ts'
import type { Freshness } from '../store/clickhouse/status-store.ts'
import type { Logger } from '../telemetry/logger.ts'
import type { Registry } from '../telemetry/metrics.ts'
import type { IncidentMonitor } from './incident-monitor.ts'
import type { RoundStats } from './incremental-findings.ts'
import {
  DEAD_LETTER_WINDOW_MS,
  deadLetterObservation,
  deliveryFailingObservations,
  findingObservations,
  holdObservations,
  ingestLagObservation,
  type ReadinessOutcome,
  readinessCandidates,
  readinessObservations,
} from './observations.ts'
import type { OwnerReminders } from './reminders.ts'
import { sweepSlice } from './round-plan.ts'

/** The read side the evaluator uses (RotationService, StatusStore, AlertStore, KeyRegistry). */
export interface EvaluationSources {
  findings(now: number): Promise<Finding[]>
  readiness(keyId: string, version: string, now: number): Promise<VerdictWithRules>
  versions(): readonly KeyVersion[]
  freshness(now: number): Promise<Freshness>
  deadLetterCounts(from: number, to: number): Promise<DeadLetterCounts>
  /** Keys the last `findings` call read, and keys covered; absent: every key, every round. */
  round?(): RoundStats | null
  /**
   * Keys the last `findings` call read because they may have changed (its
   * sweep aside); null when it read every key. Readiness verdicts follow them.
   */
  changedKeys?(): ReadonlySet<string> | null
  /** Forgets what `findings` holds: the next call reads every key (leadership changed). */
  resetFindings?(): void
}

/** What the last evaluation cost (the status page and metrics show it). */
export interface EvaluationRound {
  /** When it started (epoch ms) and how long it took. */
  at: number
  durationMs: number
  /** Keys whose findings it read from the store, and keys it covered. */
  keysTouched: number
  keysTotal: number
  /** Readiness candidates whose verdict it read (the others kept theirs). */
  readinessRead: number
  readinessCandidates: number
}

export interface EvaluatorOptions {
  sources: EvaluationSources
  pipeline: AlertPipeline
  delivery: DeliveryWorker
  leadership: Leadership
  intervalMs: number
  selfMonitoring: AlertingConfig['self_monitoring']
  /** Owner reminders, checked at most once a minute while leading (opt-in). */
  reminders?: Pick<OwnerReminders, 'run' | 'reset'>
  /** Open incidents: their alerts at every evaluation, owner notices after it. */
  incidents?: Pick<IncidentMonitor, 'observe' | 'adjust' | 'notify' | 'reset'>
  clock?: () => number
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>
  registry?: Registry
  /**
   * This instance's ingest: records its sources have not stored yet (consumer
   * lag, unread file lines), and whether every source is consuming.
   */
  ingest?: () => { backlog: number; ready: boolean }
}

/** Kicked evaluations start at least this long after the previous one ended. */
const MIN_KICK_SPACING_MS = 250
/**
 * Any evaluation, kicked or periodic, starts at least this many times the
 * recent evaluations' duration (the median of the last SPACING_SAMPLES) after
 * its predecessor ended: evaluations then take at most a third of the store's
 * time, so slow ones (heavy ingest kicking after every flush) cannot starve
 * ingestion. Small stores evaluate in tens of milliseconds and are not slowed.
 * It was 4 (a fifth) while every round read every key; with rounds reading only
 * changed keys, 4 made alerts at 10 000 keys wait up to 2.8 s behind a 0.7 s
 * round (bench:alert-latency p95 4.2 s; 2: see benchmarks.md).
 */
const EVALUATION_SPACING_FACTOR = 2
/**
 * The spacing follows the median of this many last rounds, not the last one:
 * one round slowed by something else (the usage watch's reads of every key
 * each 5-minute bucket) must not hold the next alert back for twice as long,
 * while rounds that stay slow still space themselves.
 */
const SPACING_SAMPLES = 5
/**
 * ...but the pause is at most this long (or the last evaluation's duration, if
 * longer): one evaluation slowed by a burst of inserts must not hold alerts
 * back for four times as long.
 */
const MAX_EVALUATION_SPACING_MS = 5_000
/**
 * While this instance's ingest catches up (a backfill, a restart after
 * downtime: its sources are at least this many records behind, or not
 * consuming yet), evaluations run at most every CATCH_UP_SPACING_MS. Each
 * evaluation takes the store's time from ingestion (the embedded engine runs
 * one query at a time), and verdicts on half-ingested history are `unknown`
 * anyway. Whether it still catches up is checked every CATCH_UP_RECHECK_MS
 * and at each flush, so normal evaluation resumes as soon as it has caught up.
 */
const CATCH_UP_BACKLOG = 50_000
const CATCH_UP_SPACING_MS = 30_000
const CATCH_UP_RECHECK_MS = 1_000
/**
 * Readiness verdicts of unchanged keys read again per evaluation, in turn: at
 * 10 000 watched versions and an evaluation a second, each is re-read about
 * every half hour, and no round reads more than this many for the sweep.
 */
const READINESS_SWEEP_PER_ROUND = 5
/** The dead-letter rate's counts are read again at most this often (see #deadLetterCounts). */
const DEAD_LETTER_REFRESH_MS = 30_000
/** After a failed leadership takeover (store down), try again after this long. */
const TAKEOVER_RETRY_MS = 2_000
/** Owner reminders are due per day or so; checking once a minute is plenty. */
const REMINDER_CHECK_MS = 60_000

type Work = 'evaluate' | 'flush'

export class Evaluator {
  readonly #o: EvaluatorOptions
  readonly #clock: () => number
  #unsubscribe: (() => void) | null = null
  #active = false
  #stopped = false
  #running: Promise<void> | null = null
  #queued: Work | null = null
  #timer: NodeJS.Timeout | null = null
  #lastEvalAt = Number.NEGATIVE_INFINITY
  /** How long the last evaluation took, in ms. */
  #lastEvalMs = 0
  /** The last SPACING_SAMPLES evaluations' durations, in ms, oldest first. */
  #recentEvalMs: number[] = []
  #nextWakeAt: number | null = null
  #kickPending = false
  /** A flush asked for an evaluation since the last one started. */
  #kicked = false
  /** When this instance last took over evaluation. */
  #activeSince = Number.NEGATIVE_INFINITY
  /** Leadership transitions (take over, step down), run one after the other in order. */
  #transitions: Promise<void> = Promise.resolve()
  #reminding: Promise<void> | null = null
  #noticing: Promise<void> | null = null
  #lastReminderCheck = Number.NEGATIVE_INFINITY
  readonly #m: { duration: Histogram; errors: Counter; keysTouched: Gauge; keys: Gauge } | null
  /** Last readiness verdict per candidate (`key\0version`), kept while its key is not re-read. */
  #readiness = new Map<string, VerdictWithRules>()
  #readinessRead = 0
  #readinessCursor = 0
  #readinessCandidates = 0
  #lastRound: EvaluationRound | null = null
  #deadLetters: { at: number; counts: DeadLetterCounts } | null = null

  constructor(opts: EvaluatorOptions) {
    this.#o = opts
    this.#clock = opts.clock ?? Date.now
    this.#m = opts.registry
      ? {
          duration: new Histogram({
            name: 'keyshift_evaluation_duration_seconds',
            help: 'Time of one evaluation: store reads, analysis and the alert pipeline.',
            buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
            registers: [opts.registry],
          }),
          errors: new Counter({
            name: 'keyshift_evaluation_errors_total',
            help: 'Evaluations that failed (the next one retries).',
            registers: [opts.registry],
          }),
          keysTouched: new Gauge({
            name: 'keyshift_evaluation_keys_touched',
            help: 'Keys whose findings the last evaluation read from the store (the others kept theirs).',
            registers: [opts.registry],
          }),
          keys: new Gauge({
            name: 'keyshift_evaluation_keys',
            help: 'Keys the last evaluation covered.',
            registers: [opts.registry],
          }),
        }
      : null
  }

  /** Follows leadership: evaluates and delivers while this instance leads. */
  start(): void {
    this.#stopped = false
    this.#unsubscribe = this.#o.leadership.onChange((leader) => this.#follow(leader))
    if (this.#o.leadership.isLeader()) this.#follow(true)
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#unsubscribe?.()
    this.#unsubscribe = null
    this.#follow(false)
    await this.#transitions
  }

  /**
   * Asks for an evaluation now (after an ingest flush); cheap to call often.
   * Looks at the spacing on the next turn of the event loop, once the flush's
   * sources have moved their positions on (so their backlog is current).
   */
  kick(): void {
    if (!this.#active || this.#kickPending) return
    this.#kickPending = true
    setImmediate(() => {
      this.#kickPending = false
      if (!this.#active) return
      const wait = this.#nextEvaluationAt(true) - this.#clock()
      this.#kicked = true
      if (wait > 0 && this.#running === null) this.#armNext()
      else this.#request('evaluate')
    })
  }

  /**
   * When the next evaluation may start, `kicked` by a flush or periodic: its
   * predecessor's cost spaces them (EVALUATION_SPACING_FACTOR,
   * MAX_EVALUATION_SPACING_MS, MIN_KICK_SPACING_MS), and while ingest catches
   * up (CATCH_UP_BACKLOG) none starts sooner than CATCH_UP_SPACING_MS after
   * the last one ended or this instance took over.
   */
  #nextEvaluationAt(kicked: boolean): number {
    const lastEnd = this.#lastEvalAt + this.#lastEvalMs
    const d = lowerMedian(this.#recentEvalMs)
    const spacing = Math.min(EVALUATION_SPACING_FACTOR * d, Math.max(MAX_EVALUATION_SPACING_MS, d))
    const at = kicked
      ? lastEnd + Math.max(MIN_KICK_SPACING_MS, spacing)
      : Math.max(this.#lastEvalAt + this.#o.intervalMs, lastEnd + spacing)
    return this.#catchingUp() ? Math.max(at, Math.max(lastEnd, this.#activeSince) + CATCH_UP_SPACING_MS) : at
  }

  #catchingUp(): boolean {
    const ingest = this.#o.ingest?.()
    return ingest !== undefined && (!ingest.ready || ingest.backlog >= CATCH_UP_BACKLOG)
  }

  /** Runs one evaluation now, whether or not this instance leads (tests, `keyshift` one-shots). */
  async evaluateOnce(): Promise<PipelineRun> {
    const now = this.#clock()
    const run = await this.#o.pipeline.evaluate(await this.observe(now), now)
    this.#lastEvalAt = now
    this.#o.delivery.enqueue(run.entries)
    return run
  }

  /** Everything an evaluation at `now` observes. */
  async observe(now: number): Promise<Observation[]> {
    const s = this.#o.sources
    const sm = this.#o.selfMonitoring
    const states = this.#o.pipeline.states()
    const byKey = new Map(states.map((x) => [x.key, x]))
    const held = new Set<AlertType>()
    let out: Observation[] = findingObservations(await s.findings(now))

    // A candidate's verdict is read again when its key may have changed, and
    // READINESS_SWEEP_PER_ROUND more in turn (verdicts also change by time
    // alone: old traffic leaving the lookback, the overlap elapsing); the
    // others keep the last one.
    const changed = s.changedKeys?.() ?? null
    const outcomes: ReadinessOutcome[] = []
    const candidates = readinessCandidates(s.versions())
    const sweep = sweepSlice(
      candidates.map((v) => `${v.keyId}\u0000${v.version}`),
      this.#readinessCursor,
      READINESS_SWEEP_PER_ROUND,
    )
    const swept = new Set(sweep.keys)
    this.#readinessCursor = sweep.cursor
    const kept = new Map<string, VerdictWithRules>()
    let read = 0
    for (const v of candidates) {
      const id = `${v.keyId}\u0000${v.version}`
      const held = changed === null || swept.has(id) ? undefined : this.#readiness.get(id)
      if (held && !changed?.has(v.keyId)) {
        kept.set(id, held)
        outcomes.push({ version: v, readiness: held })
        continue
      }
      try {
        read++
        const r = await s.readiness(v.keyId, v.version, now)
        kept.set(id, r)
        outcomes.push({ version: v, readiness: r })
      } catch (err) {
        outcomes.push({ version: v, readiness: null })
        this.#o.logger.warn(
          { err: (err as Error).message, keyId: v.keyId, version: v.version },
          'Evaluating deactivation readiness failed; keeping the last readiness signal.',
        )
      }
    }
    this.#readiness = kept
    this.#readinessRead = read
    this.#readinessCandidates = candidates.length
    out.push(
      ...readinessObservations(
        outcomes,
        (key) => byKey.get(key),
        (key) => this.#o.pipeline.wasNotified(key),
      ),
    )

    try {
      const o = ingestLagObservation((await s.freshness(now)).lagMs, sm)
      if (o) out.push(o)
    } catch (err) {
      held.add('ingest_lag')
      this.#o.logger.warn(
        { err: (err as Error).message },
        'Reading ingest freshness failed; holding ingest_lag.',
      )
    }
    try {
      const o = deadLetterObservation(await this.#deadLetterCounts(now), sm)
      if (o) out.push(o)
    } catch (err) {
      held.add('dead_letter_rate')
      this.#o.logger.warn(
        { err: (err as Error).message },
        'Counting dead letters failed; holding dead_letter_rate.',
      )
    }
    out.push(
      ...deliveryFailingObservations(
        this.#o.delivery.failingReceivers(now, sm.delivery_failing_after_ms),
        sm,
      ),
    )
    if (this.#o.incidents) {
      try {
        out.push(...(await this.#o.incidents.observe(now)).observations)
        out = this.#o.incidents.adjust(out)
      } catch (err) {
        for (const t of INCIDENT_ALERT_TYPES) held.add(t)
        this.#o.logger.warn(
          { err: (err as Error).message },
          'Reading open incidents failed; holding their alerts.',
        )
      }
    }
    if (held.size > 0) out.push(...holdObservations(states, held))
    return out
  }

  /**
   * Dead letters and events of the last DEAD_LETTER_WINDOW_MS, read at most
   * every DEAD_LETTER_REFRESH_MS: the events count sums every key's minutes of
   * the window, a read that grows with keys, and a rate over ten minutes moves
   * little in half a minute.
   */
  async #deadLetterCounts(now: number): Promise<DeadLetterCounts> {
    const c = this.#deadLetters
    if (c && now >= c.at && now - c.at < DEAD_LETTER_REFRESH_MS) return c.counts
    const counts = await this.#o.sources.deadLetterCounts(now - DEAD_LETTER_WINDOW_MS, now)
    this.#deadLetters = { at: now, counts }
    return counts
  }

  /** The last evaluation's cost; null before the first. */
  get lastRound(): EvaluationRound | null {
    return this.#lastRound
  }

  #forgetRounds(): void {
    this.#o.sources.resetFindings?.()
    this.#readiness = new Map()
    this.#readinessCursor = 0
    this.#lastRound = null
    this.#deadLetters = null
  }

  /** Records what the evaluation that started at `now` cost. */
  #recordRound(now: number, durationMs: number): void {
    const r = this.#o.sources.round?.() ?? null
    this.#lastRound = {
      at: now,
      durationMs,
      keysTouched: r?.keysTouched ?? 0,
      keysTotal: r?.keysTotal ?? 0,
      readinessRead: this.#readinessRead,
      readinessCandidates: this.#readinessCandidates,
    }
    this.#m?.duration.observe(durationMs / 1000)
    if (r) {
      this.#m?.keysTouched.set(r.keysTouched)
      this.#m?.keys.set(r.keysTotal)
    }
  }

  /** Sends due incident owner notices in the background, one run at a time. */
  #notice(now: number): void {
    const i = this.#o.incidents
    if (!i || this.#noticing) return
    this.#noticing = i
      .notify(now)
      .then(() => undefined)
      .catch((err) => {
        this.#o.logger.warn(
          { err: (err as Error).message },
          'Sending incident owner notices failed; will try again.',
        )
      })
      .finally(() => {
        this.#noticing = null
      })
  }

  /** Queues a transition, so a quick lose-then-regain never interleaves a step-down with a takeover. */
  #follow(leader: boolean): void {
    this.#transitions = this.#transitions
      .then(() => (leader ? this.#takeOver() : this.#stepDown()))
      .catch((err) => this.#o.logger.error({ err }, 'A leadership transition failed.'))
  }

  async #takeOver(): Promise<void> {
    if (this.#stopped || this.#active || !this.#o.leadership.isLeader()) return
    try {
      const now = this.#clock()
      await this.#o.pipeline.load(now)
      // Rebuilt from the store: nothing held from an earlier term carries over.
      this.#forgetRounds()
      const pending = await this.#o.delivery.load()
      this.#o.delivery.start()
      this.#active = true
      this.#o.logger.info(
        { pendingNotifications: pending },
        'Evaluating alerts and delivering notifications.',
      )
      // The first evaluation runs at once, unless ingest is catching up (see #nextEvaluationAt).
      this.#activeSince = now
      this.#lastEvalAt = Number.NEGATIVE_INFINITY
      this.#lastEvalMs = 0
      this.#recentEvalMs = []
      this.#nextWakeAt = null
      this.#armNext()
    } catch (err) {
      this.#o.logger.error(
        { err: (err as Error).message },
        'Taking over alert evaluation failed (store unavailable?); retrying.',
      )
      setTimeout(() => {
        if (this.#o.leadership.isLeader()) this.#follow(true)
      }, TAKEOVER_RETRY_MS).unref()
    }
  }

  async #stepDown(): Promise<void> {
    const wasActive = this.#active
    this.#active = false
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    this.#queued = null
    await this.#running?.catch(() => {})
    await this.#reminding?.catch(() => {})
    await this.#noticing?.catch(() => {})
    await this.#o.delivery.stop({ forget: true })
    this.#o.pipeline.reset()
    this.#forgetRounds()
    this.#o.reminders?.reset()
    this.#o.incidents?.reset()
    if (wasActive) this.#o.logger.info('Stopped evaluating alerts: this instance no longer leads.')
  }

  #request(work: Work): void {
    if (!this.#active || this.#stopped) return
    if (this.#running) {
      if (this.#queued !== 'evaluate') this.#queued = work
      return
    }
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    // The round and what it awaits go first into the embedded engine (work-priority.ts).
    this.#running = withPriority('alert', () => this.#tick(work), { hold: true }).finally(() => {
      this.#running = null
      const next = this.#queued
      this.#queued = null
      const wait = next === 'evaluate' ? this.#nextEvaluationAt(true) - this.#clock() : 0
      if (next && wait > 0) this.#arm(wait, next)
      else if (next) this.#request(next)
      else this.#armNext()
    })
  }

  /** Runs `work` in `delayMs`; `recheck` only re-plans (see CATCH_UP_RECHECK_MS). */
  #arm(delayMs: number, work: Work | 'recheck'): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = setTimeout(
      () => {
        this.#timer = null
        if (work !== 'recheck') this.#request(work)
        else if (this.#running === null) this.#armNext()
      },
      Math.max(0, delayMs),
    )
    this.#timer.unref?.()
  }

  /**
   * Sleeps until the next evaluation (kicked by a flush since the last one, or
   * periodic) or the next notification falling due, whichever is first.
   */
  #armNext(): void {
    if (!this.#active) return
    const now = this.#clock()
    const evalAt = this.#nextEvaluationAt(this.#kicked)
    if (this.#nextWakeAt !== null && this.#nextWakeAt < evalAt) this.#arm(this.#nextWakeAt - now, 'flush')
    else if (evalAt - now > CATCH_UP_RECHECK_MS && this.#catchingUp())
      this.#arm(CATCH_UP_RECHECK_MS, 'recheck')
    else this.#arm(evalAt - now, 'evaluate')
  }

  /** Runs owner reminders in the background, one run at a time, at most once a minute. */
  #remind(now: number): void {
    const r = this.#o.reminders
    if (!r || this.#reminding || now - this.#lastReminderCheck < REMINDER_CHECK_MS) return
    this.#lastReminderCheck = now
    this.#reminding = withPriority('normal', () => r.run(now))
      .then(() => undefined)
      .catch((err) => {
        this.#o.logger.warn(
          { err: (err as Error).message },
          'Checking owner reminders failed; will try again.',
        )
      })
      .finally(() => {
        this.#reminding = null
      })
  }

  async #tick(work: Work): Promise<void> {
    const now = this.#clock()
    const started = performance.now()
    try {
      let run: PipelineRun
      if (work === 'evaluate') {
        this.#kicked = false
        this.#lastEvalAt = now
        run = await this.#o.pipeline.evaluate(await this.observe(now), now)
        this.#lastEvalMs = this.#clock() - now
        this.#recentEvalMs = [...this.#recentEvalMs, this.#lastEvalMs].slice(-SPACING_SAMPLES)
        this.#recordRound(now, performance.now() - started)
        this.#remind(now)
        this.#notice(now)
      } else {
        run = await this.#o.pipeline.flush(now)
      }
      this.#nextWakeAt = run.nextWakeAt
      if (run.entries.length > 0) {
        this.#o.delivery.enqueue(run.entries)
        this.#o.logger.info(
          { notifications: run.entries.map((e) => ({ id: e.id, kind: e.kind, receiver: e.receiver })) },
          'Recorded notifications for delivery.',
        )
      }
    } catch (err) {
      this.#m?.errors.inc()
      this.#o.logger.warn(
        { err: (err as Error).message, work },
        'An alert evaluation failed; the next one will try again.',
      )
    }
  }
}

/** The middle value, the lower of the two middle ones for an even count; 0 when empty. */
function lowerMedian(values: readonly number[]): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}
