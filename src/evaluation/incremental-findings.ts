// Rotation findings for the evaluation loop, re-reading only the keys that
// may have changed since the last round (round-plan.ts): keys touched by
// stored inserts in a way that matters (the store's `auth_key_touches`, so
// batches stored by followers count), keys whose registry versions changed,
// keys whose thresholds time crossed, keys with open findings (their windows
// slide), and a slow sweep over every key as a safety net. The first round
// after start or a leadership takeover reads every key: the state is rebuilt
// from the store, never carried over.
import type { Finding } from '../analysis/findings.ts'
import { DAY_MS } from '../analysis/types.ts'
import { UNKNOWN_KEY, UNKNOWN_VERSION } from '../domain/auth-event.ts'
import type { KeyVersion } from '../domain/key-version.ts'
import { groupBy } from '../shared/group-by.ts'
import { withPriority } from '../shared/work-priority.ts'
import {
  changedKeys,
  type KeyTouch,
  newTouches,
  type PlanSettings,
  registryFingerprints,
  sweepCount,
  sweepSlice,
  timeDueKeys,
  versionsByKey,
} from './round-plan.ts'

/** The reads incremental findings need (RotationService, AnalyticsStore, KeyRegistry). */
export interface IncrementalSources {
  /** Every key a full evaluation at `now` covers (seen in 24 h or registered), unknown key excluded. */
  keys(now: number): Promise<string[]>
  /** Findings of exactly these keys at `now`. */
  keyFindings(keyIds: readonly string[], now: number): Promise<Finding[]>
  /** Findings not about one key (unknown_key_surge), at `now`. */
  otherFindings(now: number): Promise<Finding[]>
  touchesSince(fromMs: number, limit: number): Promise<KeyTouch[]>
  latestTouch(): Promise<number | null>
  versions(): readonly KeyVersion[]
}

export interface RoundStats {
  /** Keys whose findings were read from the store this round. */
  keysTouched: number
  /** Keys covered (findings held for). */
  keysTotal: number
  /** Whether every key was read (first round after start or takeover, or touches overflowed). */
  full: boolean
}

export interface IncrementalOptions {
  settings: PlanSettings
  /** Versions a touch row lists at most (migration 18). */
  touchVersionsMax: number
  /** Every key is re-read at least once per this long (default 10 min). */
  sweepPeriodMs?: number
  /** Touches are re-read this far behind the newest one seen: inserts still landing (default 10 s). */
  touchOverlapMs?: number
  /** More new touches than this in one round: read every key instead (default 50 000). */
  maxTouchesPerRound?: number
  /**
   * The sweep reads at most this many keys a round (default 25), so that it
   * never makes the round that carries an alert slow; rounds run often enough
   * (every flush, every `evaluation_interval_ms`) for it to keep pace.
   */
  maxSweepPerRound?: number
  /** Findings not about one key are read at least this often with nothing touching them (default 60 s). */
  otherMaxAgeMs?: number
  /**
   * Read the sweep's keys ahead, between rounds and behind other store work
   * (work-priority `background`), instead of inside the round: the round that
   * carries an alert then reads only what changed (default false: inline).
   */
  sweepAhead?: boolean
  /** A sweep read ahead is used by a round at most this much later; older, it is read again (default 30 s). */
  sweepAheadMaxAgeMs?: number
}

/** A sweep read ahead of the round that takes it. */
interface SweepAhead {
  /** Which state it belongs to (reset() starts a new one). */
  epoch: number
  /** The round time it was read at. */
  at: number
  /** The sweep cursor after its keys. */
  cursor: number
  /** Findings per key read; null while the read runs (a failed read is dropped). */
  read: Map<string, Finding[]> | null
}

const DEFAULT_SWEEP_PERIOD_MS = 10 * 60_000
const DEFAULT_TOUCH_OVERLAP_MS = 10_000
const DEFAULT_MAX_TOUCHES = 50_000
const DEFAULT_MAX_SWEEP = 25
const DEFAULT_OTHER_MAX_AGE_MS = 60_000
const DEFAULT_SWEEP_AHEAD_MAX_AGE_MS = 30_000

export class IncrementalFindings {
  readonly #src: IncrementalSources
  readonly #o: Required<IncrementalOptions>
  /** Held findings per key, as of the round that last read the key. */
  #held = new Map<string, Finding[]>()
  /** When each key was last touched (store time), to forget keys gone quiet for a day. */
  #lastTouched = new Map<string, number>()
  #initialized = false
  #prevNow = 0
  /** Newest touch seen (store time); touches are read from `#mark - overlap` on. */
  #mark: number | null = null
  /** Ids of touches already acted on, with their time (pruned past the overlap). */
  #seen = new Map<string, number>()
  #fingerprints = new Map<string, string>()
  #versionsRef: readonly KeyVersion[] | null = null
  #byKey = new Map<string, KeyVersion[]>()
  /** Held and registered keys, sorted; null when a key came or went since (rebuilt on demand). */
  #sorted: string[] | null = null
  #sweepCursor = 0
  #evaluated: Set<string> | null = null
  #changed: Set<string> | null = null
  #last: RoundStats | null = null
  /** Findings not about one key (unknown_key_surge), and when they were read. */
  #other: Finding[] = []
  #otherAt = 0
  #epoch = 0
  #ahead: SweepAhead | null = null
  /** Up to when the sweep has been planned (the round time of the last sweep planned). */
  #sweptUntil = 0

  constructor(sources: IncrementalSources, options: IncrementalOptions) {
    this.#src = sources
    this.#o = {
      sweepPeriodMs: DEFAULT_SWEEP_PERIOD_MS,
      touchOverlapMs: DEFAULT_TOUCH_OVERLAP_MS,
      maxTouchesPerRound: DEFAULT_MAX_TOUCHES,
      maxSweepPerRound: DEFAULT_MAX_SWEEP,
      otherMaxAgeMs: DEFAULT_OTHER_MAX_AGE_MS,
      sweepAhead: false,
      sweepAheadMaxAgeMs: DEFAULT_SWEEP_AHEAD_MAX_AGE_MS,
      ...options,
    }
  }

  /** The last round's cost; null before the first. */
  get lastRound(): RoundStats | null {
    return this.#last
  }

  /** Keys read in the last round; null when it read every key. */
  get evaluatedKeys(): ReadonlySet<string> | null {
    return this.#evaluated
  }

  /** Keys read in the last round because they may have changed (the sweep's aside); null when it read every key. */
  get changedKeys(): ReadonlySet<string> | null {
    return this.#changed
  }

  /** Forgets everything: the next round reads every key (leadership lost, restart). */
  reset(): void {
    this.#initialized = false
    this.#held = new Map()
    this.#lastTouched = new Map()
    this.#seen = new Map()
    this.#mark = null
    this.#fingerprints = new Map()
    this.#versionsRef = null
    this.#byKey = new Map()
    this.#sorted = null
    this.#sweepCursor = 0
    this.#evaluated = null
    this.#changed = null
    this.#last = null
    this.#other = []
    this.#otherAt = 0
    this.#epoch++
    this.#ahead = null
    this.#sweptUntil = 0
  }

  /**
   * Findings at `now` for every key, equal to a full evaluation at `now` (see
   * round-plan.ts for why untouched keys keep theirs). A failed read rejects
   * and changes nothing: the next round does the same work again.
   */
  async findings(now: number): Promise<Finding[]> {
    if (!this.#initialized) return this.#full(now)
    const versions = this.#src.versions()
    // The registry is re-indexed only when it changed (a new array).
    const same = versions === this.#versionsRef
    const byKey = same ? this.#byKey : versionsByKey(versions)
    const fingerprints = same ? this.#fingerprints : registryFingerprints(versions)
    const due = new Set<string>([
      ...changedKeys(this.#fingerprints, fingerprints),
      ...timeDueKeys(versions, this.#prevNow, now, this.#o.settings),
    ])
    for (const [k, fs] of this.#held) if (fs.length > 0) due.add(k)

    // No touch seen yet: read them all (the table keeps a day), whatever the clocks say.
    const from = this.#mark === null ? 0 : this.#mark - this.#o.touchOverlapMs
    const read = await this.#src.touchesSince(from, this.#o.maxTouchesPerRound + this.#seen.size)
    if (read.length >= this.#o.maxTouchesPerRound + this.#seen.size) return this.#full(now)
    // The unknown key is no key's findings (its surges are `otherFindings`).
    const touches = read.filter((t) => t.keyId !== UNKNOWN_KEY)
    const seenIds = new Set(this.#seen.keys())
    const { fresh, keys: touched } = newTouches(
      touches,
      seenIds,
      (k) => byKey.get(k) ?? [],
      now,
      this.#o.settings,
      this.#o.touchVersionsMax,
    )
    for (const k of touched) due.add(k)
    for (const k of byKey.keys()) if (!this.#held.has(k)) due.add(k)
    for (const t of fresh) if (!this.#held.has(t.keyId)) due.add(t.keyId)

    const changed = new Set(due)
    const all = this.#coveredKeys(byKey, fresh)
    let sweep: { keys: string[]; cursor: number }
    // Keys the sweep read ahead with no finding keep that; a key that had one is read now.
    const ahead = new Map<string, Finding[]>()
    if (this.#o.sweepAhead) {
      sweep = { keys: [], cursor: this.#sweepCursor }
      // A read still running is left to finish; one too old is dropped and its keys read ahead again.
      const a = this.#ahead
      if (a?.read && now - a.at <= this.#o.sweepAheadMaxAgeMs) {
        for (const [k, fs] of a.read) {
          if (due.has(k) || !(this.#held.has(k) || byKey.has(k))) continue
          if (fs.length > 0) due.add(k)
          else ahead.set(k, fs)
        }
        sweep.cursor = a.cursor
      }
      if (a?.read) this.#ahead = null
    } else {
      sweep = sweepSlice(
        all,
        this.#sweepCursor,
        Math.min(
          this.#o.maxSweepPerRound,
          sweepCount(all.length, now - this.#prevNow, this.#o.sweepPeriodMs),
        ),
      )
      for (const k of sweep.keys) due.add(k)
    }

    // Unknown-key surges scan every key's failures: read only when failures
    // without a known key or version were stored, while one is open (its
    // window slides), and at least every otherMaxAgeMs.
    const readOther =
      this.#other.length > 0 ||
      now - this.#otherAt >= this.#o.otherMaxAgeMs ||
      read.some((t) => !seenIds.has(t.id) && touchesUnknown(t, this.#o.touchVersionsMax))
    const keys = [...due].sort()
    const [found, other] = await Promise.all([
      this.#src.keyFindings(keys, now),
      readOther ? this.#src.otherFindings(now) : Promise.resolve(this.#other),
    ])

    // Every read succeeded: only now does the state move on.
    const readOf = groupByKey(found)
    for (const k of keys) {
      if (!this.#held.has(k)) this.#sorted = null
      this.#held.set(k, readOf.get(k) ?? [])
    }
    for (const [k, fs] of ahead) {
      if (!this.#held.has(k)) this.#sorted = null
      this.#held.set(k, fs)
    }
    if (!same) this.#sorted = null
    for (const t of read) {
      this.#seen.set(t.id, t.at)
      this.#mark = Math.max(this.#mark ?? t.at, t.at)
    }
    for (const t of fresh) this.#lastTouched.set(t.keyId, Math.max(t.at, this.#lastTouched.get(t.keyId) ?? 0))
    this.#forget(byKey)
    this.#fingerprints = fingerprints
    this.#versionsRef = versions
    this.#byKey = byKey
    this.#sweepCursor = sweep.cursor
    this.#prevNow = now
    this.#evaluated = new Set([...keys, ...ahead.keys()])
    this.#changed = changed
    this.#last = { keysTouched: keys.length, keysTotal: this.#held.size, full: false }
    if (readOther) {
      this.#other = other
      this.#otherAt = now
    }
    this.#readAhead(now)
    return [...this.#heldFindings(), ...other]
  }

  /**
   * Starts reading the next sweep keys in the background, for the next round
   * to take (sweepAhead), unless a read is already running or waiting. It
   * covers the time since the last one planned, as the inline sweep does.
   */
  #readAhead(now: number): void {
    if (!this.#o.sweepAhead || this.#ahead !== null) return
    const all = this.#coveredKeys(this.#byKey, [])
    const count = Math.min(
      this.#o.maxSweepPerRound,
      sweepCount(all.length, now - this.#sweptUntil, this.#o.sweepPeriodMs),
    )
    const slice = sweepSlice(all, this.#sweepCursor, count)
    if (slice.keys.length === 0) return
    const a: SweepAhead = { epoch: this.#epoch, at: now, cursor: slice.cursor, read: null }
    this.#ahead = a
    this.#sweptUntil = now
    withPriority('background', () => this.#src.keyFindings(slice.keys, now)).then(
      (found) => {
        if (this.#ahead !== a || a.epoch !== this.#epoch) return
        const read = new Map<string, Finding[]>(slice.keys.map((k) => [k, []]))
        for (const [k, fs] of groupByKey(found)) read.set(k, fs)
        a.read = read
      },
      () => {
        // Failed: the next round plans it again (the store's errors are counted and logged where it is read).
        if (this.#ahead === a) this.#ahead = null
      },
    )
  }

  /** Reads every key: the first round, or after more touches than one round takes. */
  async #full(now: number): Promise<Finding[]> {
    // Touches visible now are covered by the reads below, so they count as
    // seen; an insert landing meanwhile is read as a touch next round.
    const mark = await this.#src.latestTouch()
    const covered =
      mark === null
        ? []
        : await this.#src.touchesSince(mark - this.#o.touchOverlapMs, this.#o.maxTouchesPerRound)
    const versions = this.#src.versions()
    const keys = await this.#src.keys(now)
    const [read, other] = await Promise.all([this.#src.keyFindings(keys, now), this.#src.otherFindings(now)])
    const readOf = groupByKey(read)
    this.reset()
    for (const k of keys) {
      this.#held.set(k, readOf.get(k) ?? [])
      this.#lastTouched.set(k, mark ?? now)
    }
    this.#mark = mark
    for (const t of covered) this.#seen.set(t.id, t.at)
    this.#fingerprints = registryFingerprints(versions)
    this.#versionsRef = versions
    this.#byKey = versionsByKey(versions)
    this.#prevNow = now
    this.#initialized = true
    this.#evaluated = null
    this.#last = { keysTouched: keys.length, keysTotal: keys.length, full: true }
    this.#other = other
    this.#otherAt = now
    this.#sweptUntil = now
    this.#readAhead(now)
    return [...this.#heldFindings(), ...other]
  }

  /** Held and registered keys plus keys first touched now, sorted (the sweep's order). */
  #coveredKeys(byKey: ReadonlyMap<string, unknown>, fresh: readonly KeyTouch[]): string[] {
    const added = fresh.filter((t) => !this.#held.has(t.keyId) && !byKey.has(t.keyId)).map((t) => t.keyId)
    if (this.#sorted === null || this.#byKey !== byKey) {
      const out = new Set(this.#held.keys())
      for (const k of byKey.keys()) out.add(k)
      this.#sorted = [...out].sort()
    }
    return added.length === 0 ? this.#sorted : [...new Set([...this.#sorted, ...added])].sort()
  }

  /**
   * Drops touch ids past the overlap, and keys a full evaluation no longer
   * covers: not registered, untouched for a day, holding no finding.
   */
  #forget(byKey: ReadonlyMap<string, unknown>): void {
    const mark = this.#mark
    if (mark === null) return
    for (const [id, at] of this.#seen) if (at < mark - this.#o.touchOverlapMs) this.#seen.delete(id)
    for (const [k, fs] of this.#held) {
      const last = this.#lastTouched.get(k) ?? 0
      if (fs.length === 0 && !byKey.has(k) && last < mark - DAY_MS) {
        this.#held.delete(k)
        this.#sorted = null
        this.#lastTouched.delete(k)
      }
    }
  }

  /** Held findings in key order (as a full evaluation lists them); only keys holding some are sorted. */
  *#heldFindings(): Iterable<Finding> {
    const keys: string[] = []
    for (const [k, fs] of this.#held) if (fs.length > 0) keys.push(k)
    for (const k of keys.sort()) yield* this.#held.get(k) ?? []
  }
}

/** Whether a touch may hold failures unknown_key_surge counts (no known key, or no known version). */
function touchesUnknown(t: KeyTouch, versionsMax: number): boolean {
  return (
    t.failures > 0 &&
    (t.keyId === UNKNOWN_KEY || t.versions.includes(UNKNOWN_VERSION) || t.versions.length >= versionsMax)
  )
}

/** Findings grouped by their key, in order. */
function groupByKey(findings: readonly Finding[]): Map<string, Finding[]> {
  return groupBy(findings, (f) => f.keyId)
}
