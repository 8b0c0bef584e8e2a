import { describe, expect, it } from 'vitest'
import { content, MIN, S, settings, state, T0 } from './fixtures.test-helper.ts'
import { advanceStates } from './state.ts'
import type { AlertState, Observation } from './types.ts'

const fad = content()
const lag = content({ type: 'ingest_lag', severity: 'warning', keyId: '', version: '', labels: {} })
const obs = (alert = fad, over: Partial<Observation> = {}): Observation => ({
  channel: 'alert',
  alert,
  ...over,
})

type Row = [
  name: string,
  prev: AlertState[],
  observed: Observation[],
  now: number,
  expected: Array<Partial<AlertState>>,
  changed: string[],
]

describe('advanceStates', () => {
  const table: Row[] = [
    [
      'a new critical finding fires at once (for_ms 0), starting when its data says',
      [],
      [obs(fad, { startedAt: T0 - MIN })],
      T0,
      [
        {
          key: `alert|${fad.id}`,
          phase: 'firing',
          activeSince: T0,
          startsAt: T0 - MIN,
          firedAt: T0,
          episode: 1,
        },
      ],
      [`alert|${fad.id}`],
    ],
    [
      'ingest_lag waits 60 s pending (for_ms_by_type)',
      [],
      [obs(lag)],
      T0,
      [{ key: `alert|${lag.id}`, phase: 'pending', firedAt: null, episode: 0 }],
      [`alert|${lag.id}`],
    ],
    [
      'a pending alert seen for for_ms fires',
      [state({ alert: lag, phase: 'pending', firedAt: null, episode: 0, activeSince: T0 })],
      [obs(lag)],
      T0 + 60 * S,
      [{ phase: 'firing', firedAt: T0 + 60 * S, episode: 1, lastSeen: T0 + 60 * S }],
      [`alert|${lag.id}`],
    ],
    [
      'a pending alert not seen any more is dropped without firing',
      [state({ alert: lag, phase: 'pending', firedAt: null, episode: 0 })],
      [],
      T0 + 10 * S,
      [{ phase: 'resolved', firedAt: null, resolvedAt: T0 + 10 * S }],
      [`alert|${lag.id}`],
    ],
    [
      'a firing alert seen again only refreshes lastSeen and content (not a change)',
      [state()],
      [obs(content({ evidence: { failures: 40 } }))],
      T0 + 2 * S,
      [
        {
          phase: 'firing',
          lastSeen: T0 + 2 * S,
          firedAt: T0,
          alert: content({ evidence: { failures: 40 } }),
        },
      ],
      [],
    ],
    [
      'a firing alert whose title changed is persisted',
      [state()],
      [obs(content({ title: 'new title' }))],
      T0 + 2 * S,
      [{ phase: 'firing' }],
      [`alert|${fad.id}`],
    ],
    [
      'a firing alert unseen for less than resolve_after_ms stays firing',
      [state({ lastSeen: T0 })],
      [],
      T0 + 59 * S,
      [{ phase: 'firing', resolvedAt: null }],
      [],
    ],
    [
      'a firing alert unseen for resolve_after_ms resolves',
      [state({ lastSeen: T0 })],
      [],
      T0 + 60 * S,
      [{ phase: 'resolved', resolvedAt: T0 + 60 * S, episode: 1 }],
      [`alert|${fad.id}`],
    ],
    [
      'a readiness signal resolves as soon as it is not observed',
      [state({ channel: 'readiness', alert: content({ type: 'deactivation_ready', severity: 'info' }) })],
      [],
      T0 + 2 * S,
      [{ phase: 'resolved', resolvedAt: T0 + 2 * S }],
      [`readiness|${content({ type: 'deactivation_ready', severity: 'info' }).id}`],
    ],
    [
      'a resolved alert seen again starts a new episode',
      [state({ phase: 'resolved', resolvedAt: T0, episode: 3, ver: 7 })],
      [obs()],
      T0 + 5 * MIN,
      [
        {
          phase: 'firing',
          activeSince: T0 + 5 * MIN,
          firedAt: T0 + 5 * MIN,
          resolvedAt: null,
          episode: 4,
          ver: 7,
        },
      ],
      [`alert|${fad.id}`],
    ],
    [
      'a resolved alert is forgotten after the retention',
      [state({ phase: 'resolved', resolvedAt: T0 })],
      [],
      T0 + 3_600_000,
      [],
      [],
    ],
    [
      'the same alert on two channels has two states',
      [],
      [obs(), obs(fad, { channel: 'rollback' })],
      T0,
      [
        { key: `alert|${fad.id}`, phase: 'firing' },
        { key: `rollback|${fad.id}`, phase: 'firing', channel: 'rollback' },
      ],
      [`alert|${fad.id}`, `rollback|${fad.id}`],
    ],
  ]

  it.each(table)('%s', (_name, prev, observed, now, expected, changed) => {
    const r = advanceStates(new Map(prev.map((s) => [s.key, s])), observed, now, settings)
    const states = [...r.states.values()]
    expect(states).toHaveLength(expected.length)
    expected.forEach((e, i) => {
      expect(states[i]).toMatchObject(e)
    })
    expect([...r.changed].sort()).toEqual(changed.sort())
  })

  it('continues episode numbers that notification logs remember for a forgotten alert', () => {
    const r = advanceStates(new Map(), [obs()], T0, settings, (key) => (key === `alert|${fad.id}` ? 5 : 0))
    expect(r.states.get(`alert|${fad.id}`)).toMatchObject({ phase: 'firing', episode: 6 })
  })
})
