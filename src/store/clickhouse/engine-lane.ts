// The embedded engine's one lane. chDB executes one statement at a time per
// process and queues the rest on libuv's thread pool (four threads, shared with
// file I/O) in no particular order. Here they queue in JavaScript instead, one
// in the engine at a time, served by priority (work-priority.ts): the statement
// that carries an alert waits for at most the one already running, not for the
// usage watch's reads of 1 000 keys queued before it. While alert work runs
// (`held`: a round between two of its statements, analysing what it read),
// lower statements keep waiting, so a round's ten statements do not each wait
// behind one. Within a priority, first come first served; a statement that has
// waited `maxWaitMs` goes next whatever its priority or the hold, so other work
// is slowed, never starved.
import type { WorkPriority } from '../../shared/work-priority.ts'

const RANK: Record<WorkPriority, number> = { alert: 0, normal: 1, background: 2 }

interface Waiting {
  priority: WorkPriority
  since: number
  start: () => void
}

export interface LaneOptions {
  /** A statement waiting this long goes next, whatever its priority (default 1 s). */
  maxWaitMs?: number
  clock?: () => number
  /** Called as each statement enters the engine, with how long it queued. */
  onStart?: (priority: WorkPriority, waitedMs: number) => void
  /** Whether alert work runs now (lower statements wait); call `poke()` when it ends. */
  held?: () => boolean
}

export class EngineLane {
  readonly #maxWaitMs: number
  readonly #clock: () => number
  readonly #onStart: LaneOptions['onStart']
  readonly #held: () => boolean
  readonly #queues: Waiting[][] = [[], [], []]
  #busy = false
  #recheck: NodeJS.Timeout | null = null

  constructor(opts: LaneOptions = {}) {
    this.#maxWaitMs = opts.maxWaitMs ?? 1_000
    this.#clock = opts.clock ?? (() => performance.now())
    this.#onStart = opts.onStart
    this.#held = opts.held ?? (() => false)
  }

  /** Statements waiting for the engine. */
  get waiting(): number {
    return this.#queues.reduce((n, q) => n + q.length, 0)
  }

  /** Runs `fn` once the engine is free and it is this statement's turn. */
  run<T>(priority: WorkPriority, fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const since = this.#clock()
      const start = () => {
        this.#onStart?.(priority, this.#clock() - since)
        let p: Promise<T>
        try {
          p = fn()
        } catch (err) {
          p = Promise.reject(err)
        }
        p.then(resolve, reject).finally(() => {
          this.#busy = false
          this.#next()
        })
      }
      this.#queues[RANK[priority]]!.push({ priority, since, start })
      if (!this.#busy) this.#next()
    })
  }

  /** Alert work ended (or time passed): a statement held back may go now. */
  poke(): void {
    if (!this.#busy) this.#next()
  }

  #next(): void {
    if (this.#recheck) clearTimeout(this.#recheck)
    this.#recheck = null
    const w = this.#take()
    if (w) {
      this.#busy = true
      w.start()
      return
    }
    // Held back: go at the oldest's deadline if the hold lasts that long.
    const oldest = Math.min(...this.#queues.map((q) => q[0]?.since ?? Number.POSITIVE_INFINITY))
    if (oldest === Number.POSITIVE_INFINITY) return
    this.#recheck = setTimeout(() => this.poke(), Math.max(0, oldest + this.#maxWaitMs - this.#clock()))
    this.#recheck.unref?.()
  }

  /**
   * The oldest head past `maxWaitMs`, else the head of the highest priority
   * (only alert statements while alert work runs).
   */
  #take(): Waiting | undefined {
    const now = this.#clock()
    let overdue: Waiting[] | undefined
    for (const q of this.#queues) {
      const head = q[0]
      if (head && now - head.since >= this.#maxWaitMs && (!overdue || head.since < overdue[0]!.since))
        overdue = q
    }
    if (overdue) return overdue.shift()
    const alert = this.#queues[RANK.alert]!
    if (alert.length > 0 || this.#held()) return alert.shift()
    return this.#queues.find((q) => q.length > 0)?.shift()
  }
}
