// The key registry's refresh on the embedded store: every instance re-reads the
// lifecycle log every few seconds, so a refresh with nothing recorded since the
// last one must not read and fold the whole log (≈ 200 ms of CPU at 10 000 keys),
// and one with something recorded, by this instance or another, must.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../src/app.ts'
import { KeyRegistry } from '../../src/registry/key-registry.ts'
import type { RecordedLifecycleEvent } from '../../src/registry/lifecycle-input.ts'
import { RegistryStore } from '../../src/store/clickhouse/registry-store.ts'
import { silentLogger } from '../../src/telemetry/logger.ts'
import { openEmbeddedApp } from '../support/embedded-app.ts'

/** The real store, counting full reads of the log. */
class CountingStore extends RegistryStore {
  reads = 0
  override async all(): Promise<RecordedLifecycleEvent[]> {
    this.reads++
    return super.all()
  }
}

const NOW = Date.now()
const ev = (keyId: string, version: string, action: RecordedLifecycleEvent['action'], id: string) => ({
  eventId: id,
  origin: 'test',
  keyId,
  version,
  action,
  time: NOW - 60_000,
})

const dir = mkdtempSync(join(tmpdir(), 'ks-registry-refresh-'))
let app: App

beforeAll(async () => {
  app = await openEmbeddedApp('registry-refresh', dir)
})

afterAll(async () => {
  await app?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('KeyRegistry.refresh', () => {
  it('reads the log only when an event was recorded since the last read, by any instance', async () => {
    await app.keys.record([ev('acme', 'v1', 'create', 'e1'), ev('acme', 'v1', 'activate', 'e2')])
    const store = new CountingStore(app.store.client, app.store.database)
    const other = new KeyRegistry(store, silentLogger())
    await other.refresh()
    expect(store.reads).toBe(1)
    expect(other.versions().map((v) => `${v.keyId}/${v.version}/${v.state}`)).toEqual(['acme/v1/active'])

    await other.refresh()
    await other.refresh()
    expect(store.reads).toBe(1)

    // Recorded through the app's registry (another instance, for `other`).
    await app.keys.record([ev('acme', 'v2', 'create', 'e3')])
    await other.refresh()
    expect(store.reads).toBe(2)
    expect(other.versions().map((v) => `${v.keyId}/${v.version}/${v.state}`)).toEqual([
      'acme/v1/active',
      'acme/v2/created',
    ])

    // The same event again (a redelivered message) changes nothing a reader sees.
    await app.keys.record([ev('acme', 'v2', 'create', 'e3')])
    await other.refresh()
    expect(other.versions()).toHaveLength(2)

    await app.keys.record([ev('acme', 'v2', 'activate', 'e4')])
    await other.refresh()
    expect(other.versions().map((v) => `${v.keyId}/${v.version}/${v.state}`)).toEqual([
      'acme/v1/active',
      'acme/v2/active',
    ])
  })
})
