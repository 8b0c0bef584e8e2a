import { describe, expect, it } from 'vitest'
import { openAlert } from '../../test/support/open-alert.ts'
import { type LifecycleState, newKeyVersion } from '../domain/key-version.ts'
import { attentionSortKey, keyAttention } from './key-attention.ts'

const versions = (...states: [string, LifecycleState][]) =>
  states.map(([version, state]) => newKeyVersion('acme', version, state))

const alert = openAlert

describe('keyAttention', () => {
  it('needs nothing for a key with one active version, no traffic on retired versions and no alerts', () => {
    expect(keyAttention(versions(['v1', 'active']), ['v1'], [])).toEqual({ level: null, reasons: [] })
  })

  it('is info while a rotation is in progress: versions older than the newest active one and not deactivated', () => {
    expect(
      keyAttention(versions(['v1', 'deprecated'], ['v2', 'active'], ['v3', 'active']), ['v2'], []),
    ).toEqual({ level: 'info', reasons: ['rotation in progress: v1, v2 not yet deactivated'] })
  })

  it('is not a rotation when the only newer version is merely created', () => {
    expect(keyAttention(versions(['v1', 'active'], ['v2', 'created']), ['v1'], [])).toEqual({
      level: null,
      reasons: [],
    })
  })

  it('is critical when a deactivated version carried requests in 24 h, and only then', () => {
    const v = versions(['v1', 'deactivated'], ['v2', 'active'])
    expect(keyAttention(v, ['v1', 'v2'], [])).toEqual({
      level: 'critical',
      reasons: ['v1 is deactivated but carried requests in the last 24 h'],
    })
    expect(keyAttention(v, ['v2'], [])).toEqual({ level: null, reasons: [] })
  })

  it('counts firing, unsilenced alerts at their severity, most urgent reason first', () => {
    const got = keyAttention(
      versions(['v1', 'deprecated'], ['v2', 'active']),
      ['v1', 'v2'],
      [
        alert({ type: 'deactivation_not_ready', severity: 'info' }),
        alert({ type: 'failure_spike', severity: 'critical', version: 'v2' }),
        alert({ type: 'usage_anomaly', severity: 'warning', status: 'pending' }),
        alert({ type: 'possible_leak', severity: 'critical', silenced_by: ['s-1'] }),
        alert({ type: 'unknown_key_surge', severity: 'warning', version: '' }),
      ],
    )
    expect(got).toEqual({
      level: 'critical',
      reasons: [
        'failure spike on v2 firing',
        'unknown key surge firing',
        'deactivation not ready on v1 firing',
        'rotation in progress: v1 not yet deactivated',
      ],
    })
  })
})

describe('attentionSortKey', () => {
  it('orders critical, warning, info, then nothing, each by key id', () => {
    const keys = [
      ['b', null],
      ['a', 'info'],
      ['c', 'critical'],
      ['a2', null],
      ['d', 'warning'],
      ['b2', 'critical'],
    ] as const
    const sorted = [...keys]
      .map(([id, level]) => ({ id, key: attentionSortKey(id, { level, reasons: [] }) }))
      .sort((x, y) => (x.key < y.key ? -1 : 1))
      .map((x) => x.id)
    expect(sorted).toEqual(['b2', 'c', 'd', 'a', 'a2', 'b'])
  })
})
