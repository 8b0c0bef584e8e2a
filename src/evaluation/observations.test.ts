import { describe, expect, it } from 'vitest'
import { alertingConfigSchema } from '../alerting/config.ts'
import { content, state, T0 } from '../alerting/pipeline/fixtures.test-helper.ts'
import type { AlertState } from '../alerting/pipeline/types.ts'
import type { Finding } from '../analysis/findings.ts'
import { keyVersion } from '../analysis/fixtures.ts'
import type { Readiness, ReadinessVerdict } from '../analysis/readiness.ts'
import {
  deadLetterObservation,
  deliveryFailingObservations,
  findingObservations,
  holdObservations,
  ingestLagObservation,
  readinessAlertId,
  readinessCandidates,
  readinessObservations,
} from './observations.ts'

const sm = alertingConfigSchema.parse({}).self_monitoring

function finding(over: Partial<Finding> = {}): Finding {
  const c = content(over as never)
  return {
    ...c,
    type: c.type as Finding['type'],
    firstSeen: T0 - 120_000,
    lastSeen: T0 - 60_000,
    ...over,
  } as Finding
}

describe('findingObservations', () => {
  it('observes each finding as an alert and a failures_after_deactivation also as the rollback signal', () => {
    const fad = finding()
    const spike = finding({
      type: 'new_version_failing',
      version: 'v2',
      id: 'new_version_failing:acme-payments:v2:*',
    })
    expect(findingObservations([fad, spike]).map((o) => [o.channel, o.alert.id, o.startedAt])).toEqual([
      ['alert', fad.id, T0 - 120_000],
      ['rollback', fad.id, T0 - 120_000],
      ['alert', spike.id, T0 - 120_000],
    ])
  })
})

describe('readinessCandidates', () => {
  it('watches deprecated versions and versions with a newer active one, never deactivated ones', () => {
    const versions = [
      keyVersion('v1', { state: 'deactivated', createdAt: 1 }),
      keyVersion('v2', { state: 'deprecated', createdAt: 2 }),
      keyVersion('v3', { state: 'active', createdAt: 3 }),
      keyVersion('v4', { state: 'active', createdAt: 4 }),
      keyVersion('v1', { keyId: 'solo', state: 'active', createdAt: 1 }),
    ]
    expect(readinessCandidates(versions).map((v) => `${v.keyId} ${v.version}`)).toEqual([
      'acme v2',
      'acme v3',
    ])
  })
})

describe('readinessObservations', () => {
  const v = { keyId: 'acme', version: 'v1' }
  const readiness = (verdict: ReadinessVerdict): Readiness => ({
    keyId: 'acme',
    version: 'v1',
    verdict,
    rules: [
      {
        id: 'old_traffic_below_threshold',
        outcome: verdict === 'not_ready' ? 'fail' : 'pass',
        detail: 'v1 had 0 request(s)',
        numbers: {},
      },
    ],
  })
  const readyState = state({
    channel: 'readiness',
    alert: content({
      id: readinessAlertId('deactivation_ready', v),
      type: 'deactivation_ready',
      keyId: 'acme',
    }),
  })
  const notReadyState = state({
    channel: 'readiness',
    alert: content({
      id: readinessAlertId('deactivation_not_ready', v),
      type: 'deactivation_not_ready',
      keyId: 'acme',
    }),
  })
  const table: Array<[string, Readiness | null, AlertState[], string[], boolean?]> = [
    ['ready: the ready signal', readiness('ready'), [], ['deactivation_ready']],
    ['not ready, never ready: nothing', readiness('not_ready'), [], []],
    [
      'not ready after a notified ready: the regression',
      readiness('not_ready'),
      [readyState],
      ['deactivation_not_ready'],
    ],
    [
      'not ready after a ready nobody was told of: nothing (the ready signal lapses)',
      readiness('not_ready'),
      [readyState],
      [],
      false,
    ],
    [
      'still not ready after the regression',
      readiness('not_ready'),
      [notReadyState],
      ['deactivation_not_ready'],
    ],
    ['ready again after the regression', readiness('ready'), [notReadyState], ['deactivation_ready']],
    ['unknown holds the ready signal', readiness('unknown'), [readyState], ['deactivation_ready']],
    ['unknown holds the regression', readiness('unknown'), [notReadyState], ['deactivation_not_ready']],
    ['a failed evaluation holds too', null, [readyState], ['deactivation_ready']],
    ['unknown with nothing before: nothing', readiness('unknown'), [], []],
  ]
  it.each(table)('%s', (_name, r, states, types, notified = true) => {
    const byKey = new Map(states.map((s) => [s.key, s]))
    const out = readinessObservations(
      [{ version: v, readiness: r }],
      (k) => byKey.get(k),
      (k) => notified && byKey.has(k),
    )
    expect(out.map((o) => o.alert.type)).toEqual(types)
    expect(out.every((o) => o.channel === 'readiness')).toBe(true)
  })

  it('writes what a person needs to read', () => {
    const [o] = readinessObservations(
      [{ version: v, readiness: readiness('ready') }],
      () => undefined,
      () => false,
    )
    expect(o!.alert).toEqual({
      id: 'deactivation_ready:acme:v1:*',
      type: 'deactivation_ready',
      severity: 'info',
      keyId: 'acme',
      version: 'v1',
      scope: '*',
      labels: {},
      title: 'acme v1 is ready to deactivate',
      summary: 'Every readiness rule passes for acme v1 (v1 had 0 request(s)); keyshift gate will pass.',
      evidence: { verdict: 'ready', old_traffic_below_threshold: 'pass: v1 had 0 request(s)' },
    })
  })
})

describe('self-monitoring', () => {
  it.each([
    [null, false],
    [300_000, false],
    [300_001, true],
  ])('ingest lag %s ms fires: %s', (lag, fires) => {
    const o = ingestLagObservation(lag, sm)
    expect(o !== null).toBe(fires)
    if (o)
      expect(o.alert).toMatchObject({
        id: 'ingest_lag:::*',
        type: 'ingest_lag',
        title: 'keyshift ingestion is 300 s behind',
      })
  })

  it.each([
    [{ deadLetters: 9, events: 0 }, false],
    [{ deadLetters: 10, events: 190 }, false],
    [{ deadLetters: 11, events: 189 }, true],
  ])('dead letters %j fire: %s', (counts, fires) => {
    const o = deadLetterObservation(counts, sm)
    expect(o !== null).toBe(fires)
    if (o) expect(o.alert.evidence).toMatchObject({ deadLetters: 11, events: 189, ratio: 0.055 })
  })

  it('raises one delivery_failing alert per receiver', () => {
    const out = deliveryFailingObservations(
      [{ receiver: 'ops', notifications: 2, since: T0, lastError: 'HTTP 503 from https://h/…' }],
      sm,
    )
    expect(out.map((o) => [o.alert.id, o.alert.severity, o.alert.labels])).toEqual([
      ['delivery_failing:::receiver=ops', 'critical', { receiver: 'ops' }],
    ])
  })

  it('holds open alerts whose source could not be read', () => {
    const lag = state({ alert: content({ type: 'ingest_lag', keyId: '', version: '' }) })
    expect(holdObservations([lag, state()], new Set(['ingest_lag'])).map((o) => o.alert.type)).toEqual([
      'ingest_lag',
    ])
  })
})
