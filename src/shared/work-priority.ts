// Which work is waiting on the embedded store, so the one engine lane serves the
// alert path first. chDB runs one statement at a time per process; with 10 000
// keys the usage watch's bucket reads, the key list's rollups and the status
// page queue in front of the evaluation round that carries an alert. Callers
// mark the work they start (`withPriority`); the store's lane reads the mark
// (`currentPriority`) through every await beneath it. A server store ignores it:
// ClickHouse runs queries side by side.
import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * - `alert`: ingest writes and evaluation rounds: what stands between a stored
 *   failure and its notification.
 * - `normal`: everything not marked (API requests, the registry, heartbeats).
 * - `background`: work nobody waits on (the usage watch's scoring and warm-up).
 */
export type WorkPriority = 'alert' | 'normal' | 'background'

const storage = new AsyncLocalStorage<WorkPriority>()
/**
 * A round holds the lane for at most this long: long enough for a round of the
 * keys that changed (tens to hundreds of ms at 10 000 keys), not for a new
 * leader's first round reading every key (a minute), which would keep the API
 * waiting all that time.
 */
export const HOLD_MAX_MS = 500
/** When each piece of work holding the lane started (performance.now()), and who wants to know when one ends. */
const holds = new Set<{ since: number }>()
const holdEnded = new Set<() => void>()

/**
 * Runs `fn` with its store work (and everything it awaits) marked `priority`.
 * With `hold` (an evaluation round: short, and analysing what it read between
 * its statements), the lane also keeps lower work waiting while `fn` runs
 * (`laneHeld`), for at most HOLD_MAX_MS. Ingest flushes do not hold: in a
 * backfill they follow each other without a gap, and the API must still be
 * answered.
 */
export function withPriority<T>(
  priority: WorkPriority,
  fn: () => Promise<T>,
  opts: { hold?: boolean } = {},
): Promise<T> {
  if (!opts.hold) return storage.run(priority, fn)
  const hold = { since: performance.now() }
  holds.add(hold)
  let running: Promise<T>
  try {
    running = storage.run(priority, fn)
  } catch (err) {
    running = Promise.reject(err)
  }
  return running.finally(() => {
    holds.delete(hold)
    for (const f of holdEnded) f()
  })
}

/** How much longer the lane is held (ms): 0 when no round holds it, or rounds have held it HOLD_MAX_MS. */
export function laneHoldRemainingMs(): number {
  const now = performance.now()
  let remaining = 0
  for (const h of holds) remaining = Math.max(remaining, h.since + HOLD_MAX_MS - now)
  return remaining
}

/** Whether work that holds the lane (an evaluation round) runs now, within its HOLD_MAX_MS. */
export function laneHeld(): boolean {
  return laneHoldRemainingMs() > 0
}

/** Calls `f` whenever work that held the lane ends; returns the unsubscribe. */
export function onLaneHoldEnd(f: () => void): () => void {
  holdEnded.add(f)
  return () => holdEnded.delete(f)
}

/** The mark of the work running now; `normal` when none was set. */
export function currentPriority(): WorkPriority {
  return storage.getStore() ?? 'normal'
}
