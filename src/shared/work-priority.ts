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
/** Alert work running now (a round, a flush), and who wants to know when one ends. */
let alertWork = 0
const alertWorkEnded = new Set<() => void>()

/**
 * Runs `fn` with its store work (and everything it awaits) marked `priority`.
 * Alert work is also counted while it runs: between its statements (the round
 * analysing what it read) the lane keeps lower work waiting (`alertWorkRunning`).
 */
export function withPriority<T>(priority: WorkPriority, fn: () => Promise<T>): Promise<T> {
  if (priority !== 'alert') return storage.run(priority, fn)
  alertWork++
  return storage.run(priority, fn).finally(() => {
    alertWork--
    for (const f of alertWorkEnded) f()
  })
}

/** Whether alert work (a round, an ingest flush) runs now. */
export function alertWorkRunning(): boolean {
  return alertWork > 0
}

/** Calls `f` whenever a piece of alert work ends; returns the unsubscribe. */
export function onAlertWorkEnd(f: () => void): () => void {
  alertWorkEnded.add(f)
  return () => alertWorkEnded.delete(f)
}

/** The mark of the work running now; `normal` when none was set. */
export function currentPriority(): WorkPriority {
  return storage.getStore() ?? 'normal'
}
