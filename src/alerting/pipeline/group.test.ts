import { describe, expect, it } from 'vitest'
import { content, groupState, live, MIN, route, S, T0 } from './fixtures.test-helper.ts'
import { groupAlerts, groupId, groupKeyOf } from './group.ts'
import type { GroupState, Routed } from './types.ts'

const GK = 'type=failures_after_deactivation,keyId=acme-payments'
const r = route()
const a = live()
const a2 = live({ alert: content({ scope: 'gateway=envoy-us' }) })
const routed = (...xs: Array<ReturnType<typeof live>>): Routed[] =>
  xs.map((l) => ({ live: l, receiver: 'ops', route: r }))
const states = (...gs: GroupState[]) => new Map(gs.map((g) => [groupId(g.receiver, g.groupKey), g]))

describe('groupKeyOf', () => {
  it.each([
    [['type', 'keyId'], 'alert', GK],
    [['keyId', 'labels.gateway'], 'alert', 'keyId=acme-payments,labels.gateway=kong-eu'],
    [['type', 'keyId'], 'rollback', `rollback:${GK}`],
    [['severity', 'version', 'scope'], 'readiness', 'readiness:severity=critical,version=v1,scope=*'],
  ] as const)('%j on %s', (by, channel, expected) => {
    expect(groupKeyOf(channel, by, a.alert)).toBe(expected)
  })
})

describe('groupAlerts', () => {
  it('puts alerts of one group together and is born now: due after group_wait', () => {
    const { groups, touched } = groupAlerts(routed(a2, a), new Map(), T0)
    expect(groups).toHaveLength(1)
    expect(groups[0]!.groupKey).toBe(GK)
    expect(groups[0]!.alerts.map((x) => x.alert.scope)).toEqual(['*', 'gateway=envoy-us'])
    expect(groups[0]!.dueAt).toBe(T0 + 1_000)
    expect(touched).toEqual([groupState({ bornAt: T0 })])
  })

  it.each([
    ['born earlier, never notified: group_wait from birth', groupState({ bornAt: T0 - 500 }), T0 + 500],
    [
      'notified: group_interval after the last notification',
      groupState({ bornAt: T0 - MIN, lastNotifiedAt: T0 - 10 * S }),
      T0 + 50 * S,
    ],
    [
      're-born after its last notification: group_wait again',
      groupState({ bornAt: T0 - 100, lastNotifiedAt: T0 - 5 * MIN }),
      T0 + 900,
    ],
  ])('%s', (_name, before, dueAt) => {
    const { groups, touched } = groupAlerts(routed(a), states(before), T0)
    expect(groups[0]!.dueAt).toBe(dueAt)
    expect(touched).toEqual([])
  })

  it('empties a group whose alerts are all resolved', () => {
    const resolved = live({ phase: 'resolved', resolvedAt: T0 })
    const before = groupState({ bornAt: T0 - MIN, lastNotifiedAt: T0 - MIN, firing: [a.episodeKey], seq: 1 })
    const { groups, touched } = groupAlerts(routed(resolved), states(before), T0)
    expect(groups[0]!.dueAt).toBe(T0)
    expect(touched).toEqual([{ ...before, bornAt: null }])
  })

  it('empties a group with nothing routed to it any more (silenced or forgotten)', () => {
    const before = groupState({ bornAt: T0 - MIN })
    expect(groupAlerts([], states(before), T0)).toEqual({
      groups: [],
      touched: [{ ...before, bornAt: null }],
    })
  })

  it('keeps receivers and channels apart', () => {
    const rb = live({ channel: 'rollback' })
    const out = groupAlerts(
      [
        { live: a, receiver: 'ops', route: r },
        { live: a, receiver: 'hooks', route: r },
        { live: rb, receiver: 'ops', route: r },
      ],
      new Map(),
      T0,
    )
    expect(out.groups.map((g) => [g.receiver, g.groupKey])).toEqual([
      ['hooks', GK],
      ['ops', `rollback:${GK}`],
      ['ops', GK],
    ])
  })

  it('counts an alert routed twice to one receiver and group once', () => {
    const out = groupAlerts([...routed(a), ...routed(a)], new Map(), T0)
    expect(out.groups[0]!.alerts).toHaveLength(1)
  })
})

describe('groupAlerts with group_by_by_type', () => {
  const perSource = route({ groupByType: { incident_unknown_source: ['labels.source'] } })
  const unknown = (source: string) =>
    live({
      alert: content({
        id: `incident_unknown_source:acme-payments:v1:source=${source}`,
        type: 'incident_unknown_source',
        scope: `source=${source}`,
        labels: { source },
      }),
    })
  const via = (rt: typeof perSource, ...xs: Array<ReturnType<typeof live>>): Routed[] =>
    xs.map((l) => ({ live: l, receiver: 'ops', route: rt }))

  it('gives each source of an incident its own group (a new source is a new page)', () => {
    const { groups } = groupAlerts(
      via(perSource, unknown('203.0.113.9'), unknown('198.51.100.7')),
      new Map(),
      T0,
    )
    expect(groups.map((g) => [g.groupKey, g.alerts.length])).toEqual([
      ['type=incident_unknown_source,keyId=acme-payments,labels.source=198.51.100.7', 1],
      ['type=incident_unknown_source,keyId=acme-payments,labels.source=203.0.113.9', 1],
    ])
  })

  it('leaves other alert types grouped by the route alone', () => {
    const { groups } = groupAlerts(via(perSource, a, a2), new Map(), T0)
    expect(groups.map((g) => g.groupKey)).toEqual([GK])
  })

  it('without the setting, every source of a key shares one group', () => {
    const { groups } = groupAlerts(via(r, unknown('203.0.113.9'), unknown('198.51.100.7')), new Map(), T0)
    expect(groups.map((g) => [g.groupKey, g.alerts.length])).toEqual([
      ['type=incident_unknown_source,keyId=acme-payments', 2],
    ])
  })
})
