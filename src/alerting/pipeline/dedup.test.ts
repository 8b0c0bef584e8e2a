import { describe, expect, it } from 'vitest'
import { dedupGroups } from './dedup.ts'
import { content, groupState, live, route, T0 } from './fixtures.test-helper.ts'
import type { Channel, Group, GroupState, LiveAlert } from './types.ts'

const a = live()
const b = live({ alert: content({ scope: 'gateway=envoy-us' }) })
const aResolved = live({ phase: 'resolved', resolvedAt: T0 })
const aNext = live({ episode: 2 })

function group(alerts: LiveAlert[], state: Partial<GroupState>, channel: Channel = 'alert'): Group {
  return {
    receiver: 'ops',
    groupKey: 'g',
    channel,
    route: route(),
    alerts,
    state: groupState({ channel, ...state }),
    dueAt: T0,
  }
}

describe('dedupGroups', () => {
  const table: Array<[string, Group, string[], string[], boolean]> = [
    ['a new firing alert is news', group([a], {}), [a.episodeKey], [], true],
    ['the same firing set is not news', group([a], { firing: [a.episodeKey] }), [a.episodeKey], [], false],
    [
      'a subset of what was told is not news',
      group([a], { firing: [a.episodeKey, b.episodeKey] }),
      [a.episodeKey],
      [],
      false,
    ],
    [
      'one more firing alert is news',
      group([a, b], { firing: [a.episodeKey] }),
      [a.episodeKey, b.episodeKey],
      [],
      true,
    ],
    [
      'a new episode of a told alert is news',
      group([aNext], { firing: [a.episodeKey] }),
      [aNext.episodeKey],
      [],
      true,
    ],
    [
      'a resolution of a told alert is news',
      group([aResolved], { firing: [a.episodeKey] }),
      [],
      [a.episodeKey],
      true,
    ],
    ['a resolution never told firing is not sent', group([aResolved], {}), [], [], false],
    [
      'signals never send resolutions',
      group(
        [live({ channel: 'rollback', phase: 'resolved', resolvedAt: T0 })],
        { firing: [live({ channel: 'rollback' }).episodeKey] },
        'rollback',
      ),
      [],
      [],
      false,
    ],
  ]
  it.each(table)('%s', (_name, g, firing, resolved, changed) => {
    const [d] = dedupGroups([g], new Set())
    expect(d!.firing.map((x) => x.episodeKey)).toEqual(firing)
    expect(d!.resolved.map((x) => x.episodeKey)).toEqual(resolved)
    expect(d!.changed).toBe(changed)
  })

  it('holds told episodes that are silenced now', () => {
    const [d] = dedupGroups([group([b], { firing: [a.episodeKey] })], new Set([a.episodeKey]))
    expect(d!.held).toEqual([a.episodeKey])
    expect(d!.changed).toBe(true)
  })
})
