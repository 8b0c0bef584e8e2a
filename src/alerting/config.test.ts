import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../domain/errors.ts'
import { alertingConfigSchema, forMsOf, resolveRoutes, validateAlertingConfig } from './config.ts'

const secret = `whsec_${randomBytes(32).toString('base64')}`
const hook = { type: 'webhook', url: 'https://hooks.example.com/keyshift', secret }

describe('alertingConfigSchema', () => {
  it('has the documented defaults', () => {
    const c = alertingConfigSchema.parse({})
    expect(c).toEqual({
      receivers: {},
      routes: [],
      default_receivers: [],
      group_by: ['type', 'keyId'],
      group_by_by_type: {
        incident_unknown_source: ['labels.source'],
        incident_accepted_after_deactivation: ['labels.gateway'],
      },
      group_wait_ms: 500,
      group_interval_ms: 60_000,
      repeat_interval_ms: 14_400_000,
      for_ms: 0,
      for_ms_by_type: { ingest_lag: 60_000, dead_letter_rate: 60_000 },
      resolve_after_ms: 60_000,
      max_delivery_age_ms: 3_600_000,
      delivery_retry_base_ms: 1_000,
      delivery_retry_max_ms: 60_000,
      delivery_concurrency: 4,
      event_source: 'keyshift',
      reminders: { enabled: false, interval_ms: 86_400_000 },
      self_monitoring: {
        ingest_lag_ms: 300_000,
        dead_letter_ratio: 0.05,
        dead_letter_min_count: 10,
        delivery_failing_after_ms: 600_000,
      },
      leadership: { topic: 'keyshift.leader', session_timeout_ms: 10_000 },
    })
    expect(forMsOf(c, 'ingest_lag')).toBe(60_000)
    expect(forMsOf(c, 'failures_after_deactivation')).toBe(0)
  })

  it.each([
    [{ group_wait: 1000 }, 'Unrecognized key'],
    [{ routes: [{ receivers: ['a'], match: { typ: ['x'] } }] }, 'Unrecognized key'],
    [{ routes: [{ receivers: [] }] }, 'list at least one receiver'],
    [{ routes: [{ receivers: ['a'], match: { type: ['nope'] } }] }, 'Invalid option'],
    [{ group_by: ['client'] }, 'group_by entries are type, severity, keyId, version, scope or labels.<name>'],
    [{ routes: [{ receivers: ['a'], match: { key: ['acme payments'] } }] }, 'globs may use'],
    [{ receivers: { Ops: hook } }, 'receiver names are 1-63 characters'],
    [{ receivers: { ops: { type: 'slack' } } }, 'must be a URL string'],
  ])('rejects %j', (input, message) => {
    const r = alertingConfigSchema.safeParse(input)
    expect(r.success).toBe(false)
    expect(JSON.stringify(r.error?.issues)).toContain(message)
  })

  it('lets routes inherit the section timing and ends with the default route', () => {
    const c = alertingConfigSchema.parse({
      receivers: { ops: hook },
      routes: [{ match: { key: ['acme-*'] }, receivers: ['ops'], group_wait_ms: 0, continue: true }],
      default_receivers: ['ops'],
      repeat_interval_ms: 3_600_000,
    })
    expect(resolveRoutes(c)).toEqual([
      {
        index: 0,
        match: { key: ['acme-*'] },
        receivers: ['ops'],
        continue: true,
        groupBy: ['type', 'keyId'],
        groupByType: {
          incident_unknown_source: ['labels.source'],
          incident_accepted_after_deactivation: ['labels.gateway'],
        },
        groupWaitMs: 0,
        groupIntervalMs: 60_000,
        repeatIntervalMs: 3_600_000,
      },
      {
        index: -1,
        match: {},
        receivers: ['ops'],
        continue: false,
        groupBy: ['type', 'keyId'],
        groupByType: {
          incident_unknown_source: ['labels.source'],
          incident_accepted_after_deactivation: ['labels.gateway'],
        },
        groupWaitMs: 500,
        groupIntervalMs: 60_000,
        repeatIntervalMs: 3_600_000,
      },
    ])
  })
})

describe('validateAlertingConfig', () => {
  it('names the route, the unknown receiver and the fix', () => {
    const c = alertingConfigSchema.parse({
      receivers: { ops: hook },
      routes: [{ receivers: ['ops'] }, { match: { severity: ['critical'] }, receivers: ['ops', 'pager'] }],
      default_receivers: ['mail'],
    })
    expect(() => validateAlertingConfig(c)).toThrow(ConfigError)
    expect(() => validateAlertingConfig(c)).toThrow(
      'invalid alerting configuration:\n' +
        '  - alerting.routes[1].receivers: unknown receiver "pager"; define it under alerting.receivers or fix the name (defined receivers: ops)\n' +
        '  - alerting.default_receivers: unknown receiver "mail"; define it under alerting.receivers or fix the name (defined receivers: ops)',
    )
  })

  it('needs an email receiver for owner reminders', () => {
    const c = alertingConfigSchema.parse({ receivers: { ops: hook }, reminders: { enabled: true } })
    expect(() => validateAlertingConfig(c)).toThrow(
      '  - alerting.reminders: owner reminders are sent by email; define an email receiver or set enabled: false',
    )
    const named = alertingConfigSchema.parse({
      receivers: { ops: hook },
      reminders: { enabled: true, receiver: 'ops' },
    })
    expect(() => validateAlertingConfig(named)).toThrow(
      'alerting.reminders.receiver: "ops" is not an email receiver',
    )
  })

  it('accepts a consistent configuration', () => {
    expect(() =>
      validateAlertingConfig(
        alertingConfigSchema.parse({ receivers: { ops: hook }, default_receivers: ['ops'] }),
      ),
    ).not.toThrow()
  })
})
