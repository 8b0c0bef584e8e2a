import { describe, expect, it } from 'vitest'
import { content, groupState, live, route, T0 } from './fixtures.test-helper.ts'
import { notificationId, notificationKind, recordDecisions, sha256Hex, writeOutbox } from './record.ts'
import type { DedupedGroup, OutboxEntry } from './types.ts'

const a = live()
const rb = live({ channel: 'rollback' })
const ready = live({ channel: 'readiness', alert: content({ type: 'deactivation_ready', severity: 'info' }) })
const notReady = live({
  channel: 'readiness',
  alert: content({ type: 'deactivation_not_ready', severity: 'warning' }),
})
const aResolved = live({ phase: 'resolved', resolvedAt: T0 + 5_000 })

describe('notificationKind', () => {
  it.each([
    ['alert', [a], 'alert.firing'],
    ['alert', [], 'alert.resolved'],
    ['rollback', [rb], 'rollback.advised'],
    ['readiness', [ready], 'deactivation.ready'],
    ['readiness', [notReady], 'deactivation.not_ready'],
  ] as const)('%s %#', (channel, firing, kind) => {
    expect(notificationKind(channel, firing)).toBe(kind)
  })
})

describe('notificationId', () => {
  const hash = (s: string) => `H(${s.replaceAll('\n', '|')})`
  it('is derived from receiver, group, sequence and content, content order aside', () => {
    expect(notificationId(hash, 'ops', 'g', 3, ['b#1', 'a#1'], ['c#2'])).toBe(
      'ntf_H(ops|g|3|F a#1|F b#1|R c#2)'.slice(0, 36),
    )
    expect(notificationId(sha256Hex, 'ops', 'g', 3, ['a#1', 'b#1'], [])).toBe(
      notificationId(sha256Hex, 'ops', 'g', 3, ['b#1', 'a#1'], []),
    )
    expect(notificationId(sha256Hex, 'ops', 'g', 3, ['a#1'], [])).not.toBe(
      notificationId(sha256Hex, 'ops', 'g', 4, ['a#1'], []),
    )
    expect(notificationId(sha256Hex, 'ops', 'g', 3, ['a#1'], [])).toMatch(/^ntf_[0-9a-f]{32}$/)
  })
})

describe('recordDecisions', () => {
  const base: DedupedGroup = {
    receiver: 'ops',
    groupKey: 'type=failures_after_deactivation,keyId=acme-payments',
    channel: 'alert',
    route: route(),
    alerts: [a, aResolved],
    firing: [a],
    resolved: [],
    held: [],
    changed: true,
    dueAt: T0,
    state: groupState({ bornAt: T0 - 1_000, seq: 2, ver: 4 }),
  }

  it('writes exactly this notification and advances the log', () => {
    const r = recordDecisions([{ group: { ...base, held: ['alert|x#1'] }, reason: 'new' }], T0 + 1_000, {
      hash: sha256Hex,
      dashboardUrl: 'https://grafana.example.com/d/keyshift',
    })
    const id = notificationId(sha256Hex, 'ops', base.groupKey, 3, [a.episodeKey], [])
    expect(r.entries).toEqual([
      {
        id,
        receiver: 'ops',
        kind: 'alert.firing',
        groupKey: base.groupKey,
        notification: {
          id,
          kind: 'alert.firing',
          receiver: 'ops',
          alerts: [a.alert],
          groupKey: base.groupKey,
          createdAt: T0 + 1_000,
          dashboardUrl: 'https://grafana.example.com/d/keyshift',
        },
        createdAt: T0 + 1_000,
        state: 'pending',
        attempts: 0,
        nextAttemptAt: T0 + 1_000,
        lastError: '',
        firstFailureAt: null,
        updatedAt: T0 + 1_000,
        ver: 0,
      },
    ])
    expect(r.groupStates).toEqual([
      { ...base.state, lastNotifiedAt: T0 + 1_000, firing: [a.episodeKey, 'alert|x#1'].sort(), seq: 3 },
    ])
  })

  it('lists resolved alerts after firing ones', () => {
    const r = recordDecisions(
      [{ group: { ...base, firing: [], resolved: [aResolved] }, reason: 'changed' }],
      T0 + 9_000,
      { hash: sha256Hex },
    )
    expect(r.entries[0]!.kind).toBe('alert.resolved')
    expect(r.entries[0]!.notification.alerts).toEqual([aResolved.alert])
    expect(r.entries[0]!.notification).not.toHaveProperty('dashboardUrl')
    expect(r.groupStates[0]!.firing).toEqual([])
  })
})

describe('writeOutbox', () => {
  it('skips entries whose id is already in the outbox and returns those written', async () => {
    const written: OutboxEntry[] = []
    const store = {
      existingOutboxIds: async (ids: readonly string[]) => new Set(ids.filter((i) => i === 'ntf_a')),
      insertOutbox: async (e: readonly OutboxEntry[]) => {
        written.push(...e)
      },
    }
    const entry = (id: string) => ({ id }) as OutboxEntry
    expect(await writeOutbox(store, [entry('ntf_a'), entry('ntf_b')])).toEqual([entry('ntf_b')])
    expect(written).toEqual([entry('ntf_b')])
  })
})
