import { describe, expect, it } from 'vitest'
import { groupState, live, MIN, route, T0 } from './fixtures.test-helper.ts'
import { decideNotifications } from './repeat.ts'
import type { DedupedGroup, GroupState } from './types.ts'

const a = live()
const H = 3_600_000

function g(over: Omit<Partial<DedupedGroup>, 'state'> & { state?: Partial<GroupState> }): DedupedGroup {
  const { state, ...rest } = over
  return {
    receiver: 'ops',
    groupKey: 'g',
    channel: 'alert',
    route: route(),
    alerts: [a],
    firing: [a],
    resolved: [],
    held: [],
    changed: true,
    dueAt: T0,
    ...rest,
    state: groupState(state),
  }
}

describe('decideNotifications', () => {
  const table: Array<[string, DedupedGroup, number, string | null, number | null]> = [
    ['news of a new group once due', g({ dueAt: T0 }), T0, 'new', null],
    ['news waits for group_wait', g({ dueAt: T0 + 1_000 }), T0, null, T0 + 1_000],
    [
      'news of a notified group once group_interval passed',
      g({ state: { lastNotifiedAt: T0 - MIN } }),
      T0,
      'changed',
      null,
    ],
    [
      'unchanged firing group waits for repeat_interval',
      g({ changed: false, state: { lastNotifiedAt: T0 - MIN } }),
      T0,
      null,
      T0 - MIN + 4 * H,
    ],
    [
      'unchanged firing group is repeated',
      g({ changed: false, state: { lastNotifiedAt: T0 - 4 * H } }),
      T0,
      'repeat',
      null,
    ],
    ['an empty group says nothing', g({ changed: false, firing: [], alerts: [] }), T0, null, null],
    [
      'resolved-only groups are not repeated',
      g({ changed: false, firing: [], state: { lastNotifiedAt: T0 - 5 * H } }),
      T0,
      null,
      null,
    ],
  ]
  it.each(table)('%s', (_name, group, now, reason, wake) => {
    const r = decideNotifications([group], now)
    expect(r.decisions.map((d) => d.reason)).toEqual(reason === null ? [] : [reason])
    expect(r.nextWakeAt).toBe(wake)
  })
})
