import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import type { AuthEvent } from '../domain/auth-event.ts'
import { ValidationError } from '../domain/errors.ts'
import { foldLifecycle } from '../domain/key-version.ts'
import { createFingerprinter } from '../ingest/secrets/fingerprint.ts'
import { parseLifecycle } from '../registry/lifecycle-input.ts'
import { defaultScenario, STORY } from './default-scenario.ts'
import { buildScenario, diurnal, lifecycleYaml, SCENARIO_PEPPER } from './generator.ts'
import { meanRatePerSecond, type ScenarioSpec, scaleRates } from './spec.ts'

const MIN = 60_000
const HOUR = 3_600_000
/** 15:00 UTC: the story's "now". */
const END = Date.UTC(2026, 10, 27, 15, 0, 0)
const START = END - 36 * HOUR
const spec = defaultScenario({ start: START, hours: 36, seed: 3, scale: 0.25 })
const scenario = buildScenario(spec)
const events = [...scenario.events()]
const by = (p: (e: AuthEvent) => boolean) => events.filter(p)

describe('buildScenario', () => {
  it('is deterministic for a spec and different for another seed', () => {
    const again = [...buildScenario(spec).events()]
    expect(again).toEqual(events)
    const other = [...buildScenario({ ...spec, seed: 4 }).events()]
    expect(other.length).not.toBe(events.length)
  })

  it('yields events in time order within [start, end), with unique ids', () => {
    for (let i = 1; i < events.length; i++)
      expect(events[i]!.time).toBeGreaterThanOrEqual(events[i - 1]!.time)
    expect(events[0]!.time).toBeGreaterThanOrEqual(START)
    expect(events.at(-1)!.time).toBeLessThan(END)
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length)
    for (const e of events.slice(0, 200)) expect(e.eventId).toMatch(/^[0-9a-f]{32}$/)
  })

  it('keeps events consistent: failures are 401/403 with a reason, successes are not', () => {
    for (const e of events) {
      if (e.outcome === 'failure') {
        expect([401, 403]).toContain(e.status)
        expect(e.reason).not.toBe('none')
      } else {
        expect([401, 403]).not.toContain(e.status)
        expect(e.reason).toBe(e.status === 429 ? 'rate_limited' : 'none')
      }
      expect(Number.isInteger(e.time) && Number.isInteger(e.latencyMs)).toBe(true)
    }
  })

  it('fingerprints presented keys and can tell the material behind each fingerprint', () => {
    const fp = createFingerprinter(SCENARIO_PEPPER)
    for (const e of events.slice(0, 2_000)) {
      const m = scenario.materialOf(e)
      expect(m === '' ? '' : fp(m)).toBe(e.keyFingerprint)
    }
    const own = buildScenario(spec, { fingerprint: createFingerprinter('another-pepper-0123456789') })
    const first = own.events().next().value!
    expect(first.keyFingerprint).not.toBe(events[0]!.keyFingerprint)
  })

  it('never uses a version before its activation', () => {
    for (const k of spec.keys) {
      for (const v of k.versions) {
        const early = by((e) => e.keyId === k.keyId && e.keyVersion === v.version && e.time < v.activatedAt)
        expect(early, `${k.keyId} ${v.version}`).toEqual([])
      }
    }
  })

  it('tallies truth from the same events', () => {
    const t = scenario.truth
    expect(t.total).toBe(events.length)
    expect(t.failures).toBe(by((e) => e.outcome === 'failure').length)
    let sum = 0
    for (const versions of Object.values(t.byVersion))
      for (const v of Object.values(versions)) sum += v.requests
    expect(sum).toBe(events.length)
    expect(t.byClient['acme-payments']!.v1!['acme-batch']).toEqual({
      requests: by((e) => e.clientId === 'acme-batch').length,
      failures: by((e) => e.clientId === 'acme-batch' && e.outcome === 'failure').length,
    })
    expect(t.window).toEqual({ from: START, to: END })
  })
})

describe('the default story', () => {
  it('(a) acme-batch runs every 5 minutes, 3 calls, and is rejected (revoked) once v1 is deactivated', () => {
    const batch = by((e) => e.clientId === STORY.prematureDeactivation.clientId)
    // Hand-checked: 36 h × 12 runs × 3 calls, all on v1 through the EU gateways.
    expect(batch.length).toBe(1_296)
    expect(new Set(batch.map((e) => `${e.keyId} ${e.keyVersion}`))).toEqual(new Set(['acme-payments v1']))
    expect(new Set(batch.map((e) => e.gateway))).toEqual(new Set(['gw-eu-1', 'gw-eu-2']))
    const deactivatedAt = END - 12 * MIN
    const after = batch.filter((e) => e.time >= deactivatedAt)
    expect(after.map((e) => [e.outcome, e.reason, e.status])).toEqual(
      Array(6).fill(['failure', 'revoked', 401]),
    )
    expect(
      batch.filter((e) => e.time < deactivatedAt).every((e) => e.outcome === 'success' || e.status === 429),
    ).toBe(true)
    expect(scenario.truth.stragglers['acme-payments']!.clients.map((c) => c.clientId)).toEqual(['acme-batch'])
  })

  it('(b) globex-api v2 fails with unknown_key on gw-eu-2 only, and only for the last 3 hours', () => {
    const v2 = by((e) => e.keyId === 'globex-api' && e.keyVersion === 'v2')
    const failing = v2.filter((e) => e.outcome === 'failure')
    expect(failing.length).toBeGreaterThan(10)
    for (const e of failing) {
      expect([e.gateway, e.reason, e.status]).toEqual(['gw-eu-2', 'unknown_key', 401])
      expect(e.time).toBeGreaterThanOrEqual(END - 3 * HOUR)
    }
    expect(
      v2.filter((e) => e.gateway === 'gw-eu-2' && e.time >= END - 3 * HOUR && e.outcome === 'success'),
    ).toEqual([])
  })

  it('(c) initech-sync v1 is used from 198.51.100.0/24 only after its deprecation, with no client id', () => {
    const fromLeak = by((e) => e.sourceAddress.startsWith('198.51.100.'))
    expect(fromLeak.length).toBeGreaterThan(40)
    const deprecatedAt = spec.keys.find((k) => k.keyId === 'initech-sync')!.versions[0]!.deprecatedAt!
    for (const e of fromLeak) {
      expect([e.keyId, e.keyVersion, e.clientId, e.outcome]).toEqual(['initech-sync', 'v1', '', 'success'])
      expect(e.time).toBeGreaterThanOrEqual(Math.max(deprecatedAt, END - 4 * HOUR))
    }
    expect(new Set(fromLeak.map((e) => e.sourceAddress))).toEqual(new Set(STORY.leak.addresses))
  })

  it('(d) umbrella-billing v1 expires 30 h after the end and still serves umbrella-erp', () => {
    const v1 = spec.keys.find((k) => k.keyId === 'umbrella-billing')!.versions[0]!
    expect(v1.expiresAt).toBe(END + 30 * HOUR)
    expect(scenario.truth.stragglers['umbrella-billing']!.clients.map((c) => c.clientId)).toEqual([
      'umbrella-erp',
    ])
  })

  it('(e) a surge of unknown keys in the last 5 minutes on gw-us-1', () => {
    const surge = by((e) => STORY.surge.addresses.includes(e.sourceAddress as never))
    expect(surge.length).toBeGreaterThan(30)
    for (const e of surge) {
      expect([e.keyId, e.keyVersion, e.reason, e.gateway, e.route]).toEqual([
        'unknown',
        'unknown',
        'unknown_key',
        'gw-us-1',
        '/v1/payments',
      ])
      expect(e.time).toBeGreaterThanOrEqual(END - 5 * MIN)
    }
  })

  it('hooli-search has moved completely a day before the end', () => {
    expect(
      by((e) => e.keyId === 'hooli-search' && e.keyVersion === 'v1' && e.time >= END - 28 * HOUR),
    ).toEqual([])
    expect(scenario.truth.stragglers['hooli-search']!.clients).toEqual([])
  })

  it('uses documentation address ranges only', () => {
    for (const e of events) expect(e.sourceAddress).toMatch(/^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d{1,3}$/)
  })

  it('needs 36 hours and the 5 story keys', () => {
    expect(() => defaultScenario({ start: START, hours: 12 })).toThrow(ValidationError)
    expect(() => defaultScenario({ start: START, keys: 3 })).toThrow(ValidationError)
    const big = defaultScenario({ start: START, keys: 30 })
    expect(new Set(big.keys.map((k) => k.keyId)).size).toBe(30)
  })
})

describe('lifecycle', () => {
  const fp = createFingerprinter(SCENARIO_PEPPER)
  const parsed = scenario.lifecycle.map((l, i) =>
    parseLifecycle(l, { now: END, fingerprint: fp, origin: 'test', defaultEventId: `e${i}` }),
  )
  const versions = foldLifecycle(parsed)

  it('is valid registry input, in time order, one create and activate per version', () => {
    const times = parsed.map((p) => p.time)
    expect(times).toEqual([...times].sort((a, b) => a - b))
    const versionCount = spec.keys.reduce((n, k) => n + k.versions.length, 0)
    expect(parsed.filter((p) => p.action === 'create')).toHaveLength(versionCount)
    expect(parsed.filter((p) => p.action === 'activate')).toHaveLength(versionCount)
  })

  it('folds into the story’s states', () => {
    const state = (k: string, v: string) => versions.get(`${k}/${v}`)?.state
    expect(state('acme-payments', 'v1')).toBe('deactivated')
    expect(state('acme-payments', 'v2')).toBe('active')
    expect(state('globex-api', 'v1')).toBe('deprecated')
    expect(state('initech-sync', 'v1')).toBe('deprecated')
    expect(state('hooli-search', 'v2')).toBe('active')
    expect(versions.get('umbrella-billing/v1')!.expiresAt).toBe(END + 30 * HOUR)
    const fps = versions.get('acme-payments/v2')!.fingerprints
    const acmeV2 = events.find((e) => e.keyId === 'acme-payments' && e.keyVersion === 'v2')!
    expect(fps).toEqual([acmeV2.keyFingerprint])
  })

  it('round-trips through a YAML registry file', () => {
    const yaml = lifecycleYaml(scenario.lifecycle)
    expect(yaml.startsWith('# ')).toBe(true)
    expect(parseYaml(yaml)).toEqual(scenario.lifecycle)
  })
})

describe('live continuation and rates', () => {
  it('keeps generating after the end, in the last state, with fresh ids', () => {
    const later = scenario.events({ from: END, to: Number.POSITIVE_INFINITY })
    const next: AuthEvent[] = []
    for (const e of later) {
      next.push(e)
      if (next.length === 300) break
    }
    expect(next[0]!.time).toBeGreaterThanOrEqual(END)
    expect(next.some((e) => e.clientId === 'acme-batch' && e.reason === 'revoked')).toBe(true)
    const ids = new Set(events.map((e) => e.eventId))
    expect(next.filter((e) => ids.has(e.eventId))).toEqual([])
  })

  it('follows a daily cycle that averages 1 and peaks at 14:00 UTC', () => {
    let sum = 0
    for (let m = 0; m < 1440; m++) sum += diurnal(END + m * MIN)
    expect(sum / 1440).toBeCloseTo(1, 6)
    expect(diurnal(Date.UTC(2026, 0, 1, 14))).toBeCloseTo(1.6, 6)
    expect(diurnal(Date.UTC(2026, 0, 1, 2))).toBeCloseTo(0.4, 6)
  })

  it('runs the daily cycle faster after clockWarp.from', () => {
    const flat = (s: ScenarioSpec) => ({ ...s, keys: s.keys.slice(0, 1), unknownKeys: [] })
    const base = flat(scaleRates(spec, 40))
    const plain = [...buildScenario(base).events({ from: END, to: END + 2 * HOUR })].length
    const warped = [
      ...buildScenario({ ...base, clockWarp: { from: END, speedup: 24 } }).events({
        from: END,
        to: END + 2 * HOUR,
      }),
    ].length
    // 15:00–17:00 is near the daily peak; warped, two hours cover two whole days (average 1).
    expect(warped / plain).toBeLessThan(0.9)
  })

  it('scales Poisson rates and reports the mean rate', () => {
    const doubled = scaleRates(spec, 2)
    const poissonShare = (s: ScenarioSpec) =>
      s.keys
        .flatMap((k) => k.clients)
        .filter((c) => c.traffic.kind === 'poisson')
        .reduce((n, c) => n + (c.traffic as { perHour: number }).perHour, 0)
    expect(poissonShare(doubled)).toBeCloseTo(2 * poissonShare(spec), 6)
    expect(meanRatePerSecond(doubled)).toBeGreaterThan(meanRatePerSecond(spec))
    expect(() => scaleRates(spec, 0)).toThrow(RangeError)
  })

  it('rejects a client that migrates before the new version is active', () => {
    const k = spec.keys[0]!
    const bad: ScenarioSpec = {
      ...spec,
      keys: [{ ...k, clients: [{ ...k.clients[0]!, migration: { to: 'v2', at: START, rampMs: 0 } }] }],
    }
    expect(() => buildScenario(bad)).toThrow(/before it is activated/)
    expect(() => buildScenario({ ...spec, start: END, end: START })).toThrow(ValidationError)
  })
})
