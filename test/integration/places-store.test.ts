// Which places carried a key, and when each was last heard, read from the real
// rollups of migration 7: a gateway is heard through any source and a source
// through any gateway (from any key's events); a file is one place across its
// inodes, a Kafka partition is a place of its own. Events go through the ingest
// pipeline into the embedded store.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../src/app.ts'
import { openEmbeddedApp } from '../support/embedded-app.ts'

const MIN = 60_000
const NOW = Date.now()
const FILE_A = 'file:/var/log/gw/a.log'
const FILE_B = 'file:/var/log/gw/b.log'
const KAFKA = 'kafka:auth-events'
let app: App

// [source, partition (inode for a file), key, gateway, minutes ago]
const EVENTS: [string, number, string, string, number][] = [
  [FILE_A, 11, 'acme', 'gw-a', 10],
  [FILE_A, 12, 'acme', 'gw-a', 8], // the same file after rotation: a new inode
  [FILE_B, 5, 'other', 'gw-a', 1], // gw-a still logs, through another file
  [KAFKA, 3, 'acme', 'gw-k', 20],
  [KAFKA, 3, 'other', 'gw-z', 2], // partition 3 still flows, with another key
  [KAFKA, 4, 'other', 'gw-z', 0.5], // not a place of acme
]

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-places-store-'))
  app = await openEmbeddedApp('places-store-test', dir)
  await app.start()
  const decoder = {
    preset: 'canonical' as const,
    secret_fields: [],
    max_record_bytes: 65_536,
    max_future_skew_ms: 300_000,
  }
  for (const src of [FILE_A, FILE_B, KAFKA]) app.registerDecoder(src, decoder)
  const next = new Map<string, bigint>() // offsets rise per (source, partition), as a source's do
  for (const [i, [src, partition, keyId, gateway, ago]] of EVENTS.entries()) {
    const offset = next.get(`${src}/${partition}`) ?? 0n
    next.set(`${src}/${partition}`, offset + 1n)
    const event = {
      eventId: `places-${i}`,
      time: NOW - ago * MIN,
      keyId,
      keyVersion: 'v1',
      status: 200,
      clientId: 'c',
      sourceAddress: '192.0.2.1',
      gateway,
    }
    await app.pipeline.submit(src, partition, [
      { value: Buffer.from(JSON.stringify(event)), partition, offset, nextOffset: offset + 1n },
    ])
  }
  await app.pipeline.drain()
})

afterAll(async () => {
  await app?.stop()
})

describe('places of a key, from the store', () => {
  it("lists the key's gateways and sources, each last heard through any source or gateway, silent ones first", async () => {
    const detail = await app.rotation.keyDetail('acme', NOW)
    expect(detail.places.map((p) => [p.kind, p.name, p.lastHeard, p.silent])).toEqual([
      ['gateway', 'gw-k', NOW - 20 * MIN, true],
      ['source', FILE_A, NOW - 8 * MIN, true],
      ['gateway', 'gw-a', NOW - 1 * MIN, false],
      ['source', `${KAFKA}#3`, NOW - 2 * MIN, false],
    ])
    const verdict = await app.rotation.readiness(
      { keyId: 'acme', version: 'v1', askedBy: 'test', via: 'api', audit: false },
      NOW,
    )
    const rule = verdict.rules.find((r) => r.id === 'places_reporting')!
    expect(rule.outcome).toBe('unknown')
    expect(rule.places).toEqual(detail.places)
  })

  it('lists every place heard from, for /api/v1/places', async () => {
    const places = await app.rotation.places(NOW)
    expect(places.map((p) => [p.kind, p.name, p.lastHeard])).toEqual([
      ['gateway', 'gw-k', NOW - 20 * MIN],
      ['source', FILE_A, NOW - 8 * MIN],
      ['gateway', 'gw-a', NOW - 1 * MIN],
      ['gateway', 'gw-z', NOW - 0.5 * MIN],
      ['source', FILE_B, NOW - 1 * MIN],
      ['source', `${KAFKA}#3`, NOW - 2 * MIN],
      ['source', `${KAFKA}#4`, NOW - 0.5 * MIN],
    ])
  })
})
