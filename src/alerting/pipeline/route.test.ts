import { describe, expect, it } from 'vitest'
import type { RouteMatch } from '../config.ts'
import { content, live, route } from './fixtures.test-helper.ts'
import { routeAlerts, routeMatches } from './route.ts'

describe('routeMatches', () => {
  const fad = live()
  const rollback = live({ channel: 'rollback' })
  const table: Array<[string, RouteMatch, ReturnType<typeof live>, boolean]> = [
    ['empty match matches everything', {}, fad, true],
    ['type', { type: ['failures_after_deactivation'] }, fad, true],
    ['other type', { type: ['failure_spike'] }, fad, false],
    ['severity', { severity: ['critical'] }, fad, true],
    ['key glob', { key: ['acme-*'] }, fad, true],
    ['key glob miss', { key: ['initech-*', 'globex-*'] }, fad, false],
    ['label', { labels: { gateway: 'kong-*' } }, fad, true],
    ['kind alert.firing matches the alert', { kind: ['alert.firing'] }, fad, true],
    ['kind rollback.advised does not match the alert', { kind: ['rollback.advised'] }, fad, false],
    ['kind rollback.advised matches the rollback signal', { kind: ['rollback.advised'] }, rollback, true],
    [
      'kind deactivation.ready matches a ready signal',
      { kind: ['deactivation.ready'] },
      live({ channel: 'readiness', alert: content({ type: 'deactivation_ready', severity: 'info' }) }),
      true,
    ],
  ]
  it.each(table)('%s', (_name, match, l, expected) => {
    expect(routeMatches(match, l)).toBe(expected)
  })
})

describe('routeAlerts', () => {
  const a = live()
  const b = live({ alert: content({ keyId: 'globex-billing', type: 'failure_spike', severity: 'warning' }) })
  const fallback = route({ index: -1, receivers: ['default'] })

  it('sends each alert to the first matching route, others to the default receivers', () => {
    const r0 = route({ index: 0, match: { key: ['acme-*'] }, receivers: ['acme-hook', 'acme-mail'] })
    const r1 = route({ index: 1, match: { severity: ['critical', 'warning'] }, receivers: ['ops'] })
    const out = routeAlerts([a, b], [r0, r1, fallback])
    expect(out.map((x) => [x.live.alert.keyId, x.receiver, x.route.index])).toEqual([
      ['acme-payments', 'acme-hook', 0],
      ['acme-payments', 'acme-mail', 0],
      ['globex-billing', 'ops', 1],
    ])
  })

  it('keeps matching after a route with continue', () => {
    const r0 = route({ index: 0, match: { key: ['acme-*'] }, receivers: ['acme-hook'], continue: true })
    const r1 = route({ index: 1, match: {}, receivers: ['ops'] })
    expect(routeAlerts([a], [r0, r1, fallback]).map((x) => x.receiver)).toEqual(['acme-hook', 'ops'])
  })

  it('uses the default receivers only when nothing matched', () => {
    const r0 = route({ index: 0, match: { key: ['initech-*'] }, receivers: ['x'] })
    expect(routeAlerts([a], [r0, fallback]).map((x) => [x.receiver, x.route.index])).toEqual([
      ['default', -1],
    ])
  })

  it('drops alerts nothing routes when there are no default receivers', () => {
    expect(routeAlerts([a], [route({ index: -1, receivers: [] })])).toEqual([])
  })
})
