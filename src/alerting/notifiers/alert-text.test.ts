import { describe, expect, it } from 'vitest'
import { sampleAlert, sampleNotification, T0 } from '../../../test/kit/notifications.ts'
import { ALERT_TYPES, alertId, compareSeverity, maxSeverity, NOTIFICATION_KINDS } from '../../domain/alert.ts'
import {
  evidenceEntryValue,
  evidenceLines,
  evidenceValue,
  formatDuration,
  formatTime,
  headline,
  headlineText,
  nextSteps,
  orderAlerts,
  shellArg,
  typeLabel,
  whereText,
} from './alert-text.ts'

describe('alert domain helpers', () => {
  it('builds the stable alert id', () => {
    expect(
      alertId({ type: 'possible_leak', keyId: 'acme-payments', version: 'v1', scope: 'gateway=kong-eu' }),
    ).toBe('possible_leak:acme-payments:v1:gateway=kong-eu')
    expect(sampleAlert().id).toBe('failures_after_deactivation:acme-payments:v1:*')
  })

  it('orders severities', () => {
    expect(compareSeverity('critical', 'warning')).toBeGreaterThan(0)
    expect(maxSeverity([{ severity: 'info' }, { severity: 'critical' }, { severity: 'warning' }])).toBe(
      'critical',
    )
    expect(maxSeverity([])).toBe('info')
  })
})

describe('headline', () => {
  it.each([
    ['alert.firing', 'FIRING critical: failures after deactivation for acme-payments v1'],
    ['alert.resolved', 'RESOLVED critical: failures after deactivation for acme-payments v1'],
    ['rollback.advised', 'FIRING critical: rollback advised for acme-payments v1'],
    ['deactivation.ready', 'READY critical: failures after deactivation for acme-payments v1'],
    ['deactivation.not_ready', 'NOT READY critical: failures after deactivation for acme-payments v1'],
    ['test', 'TEST critical: failures after deactivation for acme-payments v1'],
  ] as const)('%s → %s', (kind, want) => {
    expect(headlineText(headline(sampleNotification({ kind })))).toBe(want)
  })

  it('leads with the most severe firing alert and counts the rest', () => {
    const n = sampleNotification({
      kind: 'alert.firing',
      alerts: [
        sampleAlert({ type: 'failure_spike', severity: 'warning', version: 'v2' }),
        sampleAlert({ type: 'possible_leak', severity: 'critical', status: 'resolved' }),
        sampleAlert({ type: 'unknown_key_surge', severity: 'critical', keyId: 'unknown', version: '' }),
      ],
    })
    expect(headlineText(headline(n))).toBe('FIRING critical: unknown key surge for unknown (+2 more)')
    expect(orderAlerts(n.alerts).map((a) => a.type)).toEqual([
      'unknown_key_surge',
      'failure_spike',
      'possible_leak',
    ])
  })

  it('uses the severity of firing alerts only', () => {
    const n = sampleNotification({
      kind: 'alert.firing',
      alerts: [sampleAlert({ severity: 'info' }), sampleAlert({ severity: 'critical', status: 'resolved' })],
    })
    expect(headline(n).severity).toBe('info')
  })

  it('describes a test notification without alerts', () => {
    expect(headlineText(headline(sampleNotification({ kind: 'test', alerts: [] })))).toBe(
      'TEST info: test notification for receiver ops',
    )
  })
})

describe('where, evidence and time', () => {
  it.each([
    [
      { gateway: 'kong-eu,envoy-us', client: 'acme-mobile' },
      {},
      '*',
      'gateway: kong-eu, envoy-us · client: acme-mobile',
    ],
    [{}, { gateways: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] }, '*', 'gateway: a, b, c, d, e (+2 more)'],
    [{ route: '/v1/pay' }, { clients: ['x'] }, '*', 'client: x · route: /v1/pay'],
    [{}, {}, '*', 'all gateways and clients'],
    [{}, {}, 'gateway=kong-eu', 'gateway=kong-eu'],
  ])('labels %o, evidence %o, scope %s → %s', (labels, evidence, scope, want) => {
    expect(whereText(sampleAlert({ labels, evidence, scope }))).toBe(want)
  })

  it.each([
    [1234567, '1,234,567'],
    [0.123456, '0.1235'],
    [Number.NaN, 'NaN'],
    ['two\n lines', 'two lines'],
    [true, 'true'],
    [null, 'null'],
    [['a', 1, null], 'a, 1, null'],
    [{ p50: 12, p99: 340 }, '{"p50":12,"p99":340}'],
    [[{ client: 'a' }], '[{"client":"a"}]'],
    ['x'.repeat(400), `${'x'.repeat(300)}…`],
  ])('evidence value %j → %s', (v, want) => {
    expect(evidenceValue(v)).toBe(want)
  })

  it('renders bigint evidence (stream offsets)', () => {
    expect(evidenceValue(12n)).toBe('12')
    expect(evidenceValue({ offset: 12n })).toBe('{"offset":"12"}')
  })

  it('caps evidence lines and says how many were left out', () => {
    const evidence = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, i]))
    const lines = evidenceLines(sampleAlert({ evidence }))
    expect(lines).toHaveLength(13)
    expect(lines[0]).toBe('k0: 0')
    expect(lines[12]).toBe('(+3 more in the dashboard)')
  })

  it('formats times in UTC', () => {
    expect(formatTime(T0)).toBe('2026-11-28 13:00:00 UTC')
  })

  it.each([
    ['deactivatedAt', 1_796_621_824_539, '2026-12-07 05:37:04 UTC'],
    ['failingSince', 1_796_621_824_539, '2026-12-07 05:37:04 UTC'],
    ['first_seen_at', 1_796_621_824_539, '2026-12-07 05:37:04 UTC'],
    // Not an epoch in milliseconds (a count, or seconds): left as a number.
    ['createdAt', 42, '42'],
    ['lagMs', 125_000, '2 m 5 s'],
    ['min_overlap_ms', 86_400_000, '1 d'],
    ['windowMs', 3_723_000, '1 h 2 m'],
    ['graceMs', 450, '450 ms'],
    ['requests', 1_796_621_824_539, '1,796,621,824,539'],
    ['deactivatedAt', 'never', 'never'],
  ])('evidence %s = %j reads %s', (key, v, want) => {
    expect(evidenceEntryValue(key, v)).toBe(want)
  })

  it('shows instants and durations in evidence lines as a person reads them', () => {
    const lines = evidenceLines(
      sampleAlert({ evidence: { deactivatedAt: T0, lagMs: 90_000, requests: 1200 } }),
    )
    expect(lines).toEqual(['deactivatedAt: 2026-11-28 13:00:00 UTC', 'lagMs: 1 m 30 s', 'requests: 1,200'])
  })

  it.each([
    [0, '0 ms'],
    [999, '999 ms'],
    [1000, '1 s'],
    [60_000, '1 m'],
    [3_600_000, '1 h'],
    [90_061_000, '1 d 1 h'],
  ])('formatDuration(%d) = %s', (ms, want) => {
    expect(formatDuration(ms)).toBe(want)
  })
})

describe('next steps', () => {
  it('has a label and advice for every firing alert type', () => {
    for (const type of ALERT_TYPES) {
      expect(typeLabel(type)).not.toContain('_')
      expect(nextSteps(sampleAlert({ type }), 'alert.firing').length, type).toBeGreaterThan(0)
    }
  })

  it('advises reactivating the old version on a rollback, with a command that can be pasted', () => {
    expect(nextSteps(sampleAlert({ type: 'failure_spike' }), 'rollback.advised')[0]).toBe(
      'Reactivate v1 now: `keyshift key reactivate acme-payments v1`',
    )
    expect(nextSteps(sampleAlert({ keyId: "o'brien key", version: 'v`2' }), 'rollback.advised')[0]).toBe(
      `Reactivate v\`2 now: \`keyshift key reactivate 'o'"'"'brien key' v2\``,
    )
  })

  it('needs no action once resolved, or for a test', () => {
    for (const kind of NOTIFICATION_KINDS) {
      const steps = nextSteps(sampleAlert({ status: 'resolved', endsAt: T0 }), kind)
      expect(steps).toHaveLength(1)
    }
  })

  it.each([
    ['acme-payments', 'acme-payments'],
    ['v1.2', 'v1.2'],
    ['has space', "'has space'"],
    ['$(rm -rf /)', "'$(rm -rf /)'"],
    ['semi;colon', "'semi;colon'"],
  ])('shell-quotes %j as %s', (arg, want) => {
    expect(shellArg(arg)).toBe(want)
  })
})
