import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../domain/errors.ts'
import { createFingerprinter } from '../ingest/secrets/fingerprint.ts'
import { fileEventId, loadLifecycleFiles } from './lifecycle-files.ts'

const CANARY = 'sk_live_CANARY4f8a2c9e1b7d3f6a0c5e8b2d9f4a7c1e'
const fp = createFingerprinter('pepper-for-file-tests-0123456789')
const F = fp(CANARY)
const dir = mkdtempSync(join(tmpdir(), 'ks-lifecycle-files-'))
const file = (name: string, text: string) => {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}

const YAML = `events:
  - key_id: acme-payments
    version: v2
    action: create
    time: 2026-01-01T00:00:00Z
    secret: ${CANARY}
    note: "issued; old one was ${CANARY}"
    actor: alice
    owners: [payments@example.com]
`

describe('loadLifecycleFiles: the registry-file edge', () => {
  it('scrubs every field and registers the fingerprint of the secret', async () => {
    const [ev] = await loadLifecycleFiles([file('keys.yaml', YAML)], { fingerprint: fp, now: 0 })
    expect(ev).toEqual({
      eventId: ev!.eventId,
      origin: 'file',
      keyId: 'acme-payments',
      version: 'v2',
      action: 'create',
      time: Date.parse('2026-01-01T00:00:00Z'),
      fingerprints: [F],
      note: `issued; old one was ${F}`,
      actor: 'alice',
      owners: ['payments@example.com'],
    })
    expect(JSON.stringify(ev)).not.toContain('CANARY')
  })

  it('gives each event a stable id keyed with the pepper, never a plain hash of the item', async () => {
    const path = file('stable.yaml', YAML)
    const a = await loadLifecycleFiles([path], { fingerprint: fp, now: 0 })
    const b = await loadLifecycleFiles([path], { fingerprint: fp, now: 1 })
    const other = await loadLifecycleFiles([path], {
      fingerprint: createFingerprinter('another-pepper-0123456789'),
      now: 0,
    })
    expect(a[0]!.eventId).toMatch(/^file:[0-9a-f]{32}$/)
    expect(b[0]!.eventId).toBe(a[0]!.eventId) // loading the file at every start records nothing twice
    expect(other[0]!.eventId).not.toBe(a[0]!.eventId) // without the pepper, no guess can be tested
    // Main's id was sha256(JSON(item)) over the raw item, secret included.
    const raw = {
      key_id: 'acme-payments',
      version: 'v2',
      action: 'create',
      time: '2026-01-01T00:00:00Z',
      secret: CANARY,
      note: `issued; old one was ${CANARY}`,
      actor: 'alice',
      owners: ['payments@example.com'],
    }
    const plain = createHash('sha256').update(JSON.stringify(raw)).digest('hex').slice(0, 32)
    expect(a[0]!.eventId).not.toBe(`file:${plain}`)
    expect(fileEventId({ a: 1 }, fp)).toBe(`file:${fp('lifecycle-file-event\n{"a":1}').slice(3)}`)
  })

  it('keeps an explicit event_id (scrubbed like any field)', async () => {
    const path = file(
      'ids.json',
      JSON.stringify([
        { event_id: 'change-1234', key_id: 'k', version: 'v1', action: 'create', time: 0 },
        { event_id: `leak-${CANARY}`, key_id: 'k', version: 'v1', action: 'activate', time: 1 },
      ]),
    )
    const evs = await loadLifecycleFiles([path], { fingerprint: fp, now: 0 })
    expect(evs.map((e) => e.eventId)).toEqual(['change-1234', `leak-${F}`])
  })

  it('a parse error does not echo the line that holds a key', async () => {
    const path = file('bad.yaml', `events:\n  - key_id: k\n    note: ${CANARY}\n  bad: [\n`)
    const err = await loadLifecycleFiles([path], { fingerprint: fp, now: 0 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as Error).message).toContain(`${path}: not valid YAML`)
    expect((err as Error).message).not.toContain('CANARY')
  })
})
