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
/** Work holding the lane now (evaluation rounds), and who wants to know when one ends. */
let holding = 0
const holdEnded = new Set<() => void>()

/**
 * Runs `fn` with its store work (and everything it awaits) marked `priority`.
 * With `hold` (an evaluation round: short, and analysing what it read between
 * its statements), the lane also keeps lower work waiting while `fn` runs
 * (`laneHeld`). Ingest flushes do not hold: in a backfill they follow
 * each other without a gap, and the API must still be answered.
 */
export function withPriority<T>(
  priority: WorkPriority,
  fn: () => Promise<T>,
  opts: { hold?: boolean } = {},
): Promise<T> {
  if (!opts.hold) return storage.run(priority, fn)
  holding++
  return storage.run(priority, fn).finally(() => {
    holding--
    for (const f of holdEnded) f()
  })
}

/** Whether work that holds the lane (an evaluation round) runs now. */
export function laneHeld(): boolean {
  return holding > 0
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
