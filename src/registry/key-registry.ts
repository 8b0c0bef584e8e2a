// The in-memory view of key versions, folded from the lifecycle log in the
// store. Every instance refreshes it from the store (so instances agree), and
// ingest uses it to resolve presented-key fingerprints to key and version.
import { foldLifecycle, type KeyVersion } from '../domain/key-version.ts'
import type { RegistryStore } from '../store/clickhouse/registry-store.ts'
import type { Logger } from '../telemetry/logger.ts'
import type { RecordedLifecycleEvent } from './lifecycle-input.ts'

export class KeyRegistry {
  readonly #store: RegistryStore
  readonly #logger: Logger
  #versions = new Map<string, KeyVersion>()
  /** The lifecycle log's mark at the last read (RegistryStore.mark). */
  #mark: string | null = null
  /** versions() in order, computed on first ask after each refresh. */
  #sorted: KeyVersion[] | null = null
  #byFingerprint = new Map<string, { keyId: string; version: string }>()
  #events: RecordedLifecycleEvent[] = []
  #timer: NodeJS.Timeout | null = null
  #generation = 0

  constructor(store: RegistryStore, logger: Logger) {
    this.#store = store
    this.#logger = logger
  }

  /**
   * Re-reads the lifecycle log and folds it, unless the log's mark says
   * nothing was recorded since the last read: at 10 000 keys a read and fold
   * costs ≈ 200 ms of CPU, and every instance refreshes every few seconds.
   */
  async refresh(): Promise<void> {
    // Taken before the read: an event recorded meanwhile changes the next mark.
    const mark = await this.#store.mark()
    if (mark === this.#mark) return
    this.#events = await this.#store.all()
    this.#mark = mark
    this.#versions = foldLifecycle(this.#events)
    this.#sorted = null
    this.#generation++
    const byFp = new Map<string, { keyId: string; version: string }>()
    for (const v of this.#versions.values()) {
      for (const fp of v.fingerprints) byFp.set(fp, { keyId: v.keyId, version: v.version })
    }
    this.#byFingerprint = byFp
  }

  /** Records events, then refreshes so they take effect at once on this instance. */
  async record(events: readonly RecordedLifecycleEvent[]): Promise<void> {
    await this.#store.record(events)
    await this.refresh()
  }

  startRefreshing(intervalMs: number): void {
    this.#timer = setInterval(() => {
      this.refresh().catch((err) =>
        this.#logger.warn(
          { err: (err as Error).message },
          'Refreshing the key registry failed; keeping the last view.',
        ),
      )
    }, intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
  }

  /** Changes whenever the view changes (each refresh that read a new log): views of equal generations are equal. */
  get generation(): number {
    return this.#generation
  }

  resolveFingerprint = (fp: string): { keyId: string; version: string } | undefined =>
    this.#byFingerprint.get(fp)

  /**
   * Every version, by key id then version label (v2 before v10). Sorted once
   * per refresh, not per call: every evaluation and API read asks, and sorting
   * 10 000 keys' versions with a locale collation takes a good part of a second.
   */
  versions(): KeyVersion[] {
    if (this.#sorted === null) {
      this.#sorted = [...this.#versions.values()].sort((a, b) =>
        a.keyId === b.keyId
          ? a.version.localeCompare(b.version, 'en', { numeric: true })
          : a.keyId.localeCompare(b.keyId),
      )
    }
    return [...this.#sorted]
  }

  version(keyId: string, version: string): KeyVersion | undefined {
    return this.#versions.get(`${keyId}/${version}`)
  }

  events(): readonly RecordedLifecycleEvent[] {
    return this.#events
  }
}
