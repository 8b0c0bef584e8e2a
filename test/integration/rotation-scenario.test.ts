// The whole product on one story: the default scenario's gateway logs (Kong on
// gw-us-1, Envoy on gw-eu-1/gw-eu-2, each fleet on its own 6-partition topic) go
// through a real Kafka broker into createApp(config) — decoders, exactly-once
// pipeline, embedded ClickHouse rollups, a registry loaded from the scenario's
// lifecycle file — and the RotationService must then report exactly what the
// generator knows happened: shares, stragglers, the story's findings with their
// evidence, and readiness verdicts. Expected numbers are tallied from the generated
// events (never from the store); the story's shape (which findings fire, which rules
// fail) is written out by hand.
//
// The story always ends at 15:00 UTC (the latest one at least a minute ago), so the
// daily traffic cycle has the same phase on every run and every count is the same;
// the service is asked with now = end − 1 ms, which makes its minute-aligned windows
// end exactly at the story's end.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { Finding } from '../../src/analysis/findings.ts'
import { type App, createApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config/load.ts'
import type { AuthEvent } from '../../src/domain/auth-event.ts'
import { createFingerprinter } from '../../src/ingest/secrets/fingerprint.ts'
import { defaultScenario, STORY } from '../../src/scenario/default-scenario.ts'
import { type FormatPreset, formatLine, formatLoss } from '../../src/scenario/formats.ts'
import { buildScenario, lifecycleYaml } from '../../src/scenario/generator.ts'
import { silentLogger } from '../../src/telemetry/logger.ts'
import { queryRows } from '../support/store-probe.ts'
import { createTopic, deleteTopic, produceMessages, uniqueTopic } from './kafka-helpers.ts'

const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000

function storyEnd(): number {
  const latest = Date.now() - MIN
  const end = Math.floor(latest / DAY) * DAY + 15 * HOUR
  return end > latest ? end - DAY : end
}

const END = storyEnd()
const START = END - 36 * HOUR
const NOW = END - 1
const PEPPER = 'rotation-scenario-test-pepper-0001'
const fingerprint = createFingerprinter(PEPPER)
const scenario = buildScenario(
  defaultScenario({ start: START, hours: 36, seed: 20_251_128, scale: 0.25, keys: 6 }),
  { fingerprint },
)
const events: AuthEvent[] = [...scenario.events()]
const truth = scenario.truth

/** Which gateway fleet logs in which format, on which topic. */
const FLEETS: { preset: FormatPreset; defaultGateway: string; gateways: string[] }[] = [
  { preset: 'kong', defaultGateway: 'gw-us-1', gateways: ['gw-us-1'] },
  { preset: 'envoy', defaultGateway: 'gw-eu-1', gateways: ['gw-eu-1', 'gw-eu-2'] },
]

// --- tallies over the generated events (the expectations' only source) ----------------

type Pred = (e: AuthEvent) => boolean
const inWindow =
  (from: number, to: number): Pred =>
  (e) =>
    e.time >= from && e.time < to
const count = (...preds: Pred[]) => events.filter((e) => preds.every((p) => p(e))).length
const of =
  (keyId: string, version?: string): Pred =>
  (e) =>
    e.keyId === keyId && (version === undefined || e.keyVersion === version)
const failed: Pred = (e) => e.outcome === 'failure'
const uniqSorted = (xs: Iterable<string>) => [...new Set(xs)].filter((x) => x !== '').sort()
const last24h = inWindow(END - DAY, END)

function sharesOf(keyId: string, from: number, to: number) {
  const rows = events.filter((e) => of(keyId)(e) && e.time >= from && e.time < to)
  const versions = uniqSorted(rows.map((e) => e.keyVersion))
  return versions.map((version) => {
    const requests = rows.filter((e) => e.keyVersion === version).length
    return {
      version,
      requests,
      failures: rows.filter((e) => e.keyVersion === version && e.outcome === 'failure').length,
      share: requests / rows.length,
    }
  })
}

// --- the real daemon ---------------------------------------------------------------------

describe('rotation scenario through Kafka, the ingest pipeline and the store', () => {
  const brokers = inject('kafkaBrokers')
  const dir = mkdtempSync(join(tmpdir(), 'keyshift-scenario-'))
  const topics = FLEETS.map((f) => uniqueTopic(`scenario-${f.preset}`))
  const lifecycleTopic = uniqueTopic('scenario-lifecycle')
  const deadLetterTopic = uniqueTopic('scenario-dead-letter')
  const losses: string[] = []
  let app: App

  beforeAll(async () => {
    const lifecycleFile = join(dir, 'keys.yaml')
    writeFileSync(lifecycleFile, lifecycleYaml(scenario.lifecycle))
    await Promise.all([
      ...topics.map((t) => createTopic(brokers, t, 6)),
      createTopic(brokers, lifecycleTopic, 1),
      createTopic(brokers, deadLetterTopic, 1),
    ])
    for (const [i, fleet] of FLEETS.entries()) {
      const lines = events
        .filter((e) => fleet.gateways.includes(e.gateway))
        .map((e) => {
          const loss = formatLoss(fleet.preset, e, fleet.defaultGateway)
          if (loss !== null) losses.push(`${e.eventId} (${fleet.preset}): ${loss}`)
          return {
            key: e.clientId || e.sourceAddress,
            value: formatLine(fleet.preset, e, scenario.materialOf(e)),
          }
        })
      await produceMessages(brokers, topics[i]!, lines)
    }

    const config = parseConfig({
      instance: 'scenario-test',
      data_dir: join(dir, 'data'),
      http: { enabled: false },
      kafka: {
        brokers: [brokers],
        group_id: uniqueTopic('scenario-group'),
        lifecycle_topic: lifecycleTopic,
        dead_letter_topic: deadLetterTopic,
      },
      sources: FLEETS.map((f, i) => ({
        type: 'kafka',
        topic: topics[i],
        decoder: { preset: f.preset, default_gateway: f.defaultGateway },
      })),
      secrets: { pepper: PEPPER },
      registry: { files: [lifecycleFile] },
      ingest: { heartbeat_interval_ms: 250, batch_max_wait_ms: 200 },
      // A quarter-scale story sends a few events a minute over 3 gateways and 12
      // partitions: each place declares that it may stay quiet for up to 12 h.
      analysis: {
        freshness: { silent_after_ms: 12 * HOUR },
        // The story stores 14 h of initech-sync before its v1 was deprecated
        // (22 h before the end of a 36 h story); the default asks for 24 h.
        findings: { possible_leak_min_history_ms: 12 * HOUR },
      },
    })
    app = await createApp(config, { logger: silentLogger() })
    await app.start()
    const deadline = Date.now() + 90_000
    for (;;) {
      const [row] = await queryRows<{ n: string }>(
        app.store.client,
        'SELECT count() AS n FROM keyshift.auth_events',
      )
      if (Number(row!.n) >= events.length) break
      if (Date.now() > deadline)
        throw new Error(`only ${row!.n} of ${events.length} events stored after 90 s`)
      await new Promise((r) => setTimeout(r, 250))
    }
    // Freshness comes from heartbeats: wait for one. Every heartbeat is later than NOW (the
    // story ended at least a minute ago), so the data counts as fresh at NOW.
    while ((await app.status.freshness(NOW)).lagMs === null) await new Promise((r) => setTimeout(r, 100))
  }, 180_000)

  afterAll(async () => {
    await app?.stop()
    await Promise.all(
      [...topics, lifecycleTopic, deadLetterTopic].map((t) => deleteTopic(brokers, t).catch(() => {})),
    )
    rmSync(dir, { recursive: true, force: true })
  })

  it('generates a story of a few thousand events, and each fleet format carries its events exactly', () => {
    expect(events.length).toBe(truth.total)
    expect(events.length).toBeGreaterThan(3_000)
    expect(events.length).toBeLessThan(15_000)
    expect(losses).toEqual([])
  })

  it('stores every event exactly once and dead-letters nothing', async () => {
    const [row] = await queryRows<{ events: string; distinct: string; rollup: string; dead: string }>(
      app.store.client,
      `SELECT (SELECT count() FROM keyshift.auth_events) AS events,
              (SELECT uniqExact(event_id) FROM keyshift.auth_events) AS distinct,
              (SELECT sum(requests) FROM keyshift.auth_minute) AS rollup,
              (SELECT count() FROM keyshift.dead_letters) AS dead`,
    )
    expect(Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, Number(v)]))).toEqual({
      events: truth.total,
      distinct: truth.total,
      rollup: truth.total,
      dead: 0,
    })
  })

  it('reports per-version requests over the whole story and over the last 24 h, exactly', async () => {
    for (const k of scenario.spec.keys) {
      const detail = await app.rotation.keyDetail(k.keyId, NOW, { from: START, to: END })
      const whole = Object.entries(truth.byVersion[k.keyId]!).map(([version, t]) => ({
        version,
        requests: t.requests,
        failures: t.failures,
      }))
      expect(
        detail.shares.custom!.versions.map(({ share: _, ...v }) => v),
        k.keyId,
      ).toEqual(whole.sort((a, b) => a.version.localeCompare(b.version)))
      expect(detail.shares['24h'], k.keyId).toMatchObject({ from: END - DAY, to: END })
      expect(detail.shares['24h'].versions, k.keyId).toEqual(sharesOf(k.keyId, END - DAY, END))
    }
    // Hand-checked shape: hooli-search moved completely more than a day ago.
    const hooli = await app.rotation.keyDetail(STORY.migrated.keyId, NOW)
    expect(hooli.shares['24h'].versions.map((v) => [v.version, v.share])).toEqual([['v2', 1]])
  })

  it('lists each key’s stragglers on v1 with their counts, and the clients that moved', async () => {
    for (const [keyId, expected] of Object.entries(truth.stragglers)) {
      const report = await app.rotation.stragglers(keyId, expected.oldVersion, NOW)
      expect(
        report.stragglers.map((s) => ({ clientId: s.clientId, requests: s.requests, failures: s.failures })),
        keyId,
      ).toEqual(expected.clients)
      // Moved: used v1 before the window, only v2 within it.
      const mine = (c: string) => events.filter((e) => e.keyId === keyId && e.clientId === c)
      const movedIds = uniqSorted(events.filter((e) => of(keyId)(e)).map((e) => e.clientId)).filter((c) => {
        const own = mine(c)
        return (
          own.some((e) => e.keyVersion === 'v1') &&
          !own.some((e) => e.keyVersion === 'v1' && last24h(e)) &&
          own.some((e) => e.keyVersion === 'v2' && last24h(e))
        )
      })
      expect(report.moved.map((m) => m.clientId).sort(), keyId).toEqual(movedIds)
      for (const m of report.moved) {
        const own = mine(m.clientId)
        expect(m, `${keyId} ${m.clientId}`).toMatchObject({
          movedAt: Math.min(...own.filter((e) => e.keyVersion === 'v2').map((e) => e.time)),
          lastSeenOld: Math.max(...own.filter((e) => e.keyVersion === 'v1').map((e) => e.time)),
          requests: own.filter((e) => e.keyVersion === 'v2' && last24h(e)).length,
        })
      }
    }
    // Hand-checked: who is left on v1 in the story.
    const left = (k: string) => truth.stragglers[k]!.clients.map((c) => c.clientId)
    expect(left('acme-payments')).toEqual(['acme-batch'])
    expect(left('globex-api')).toEqual(['globex-legacy-crm'])
    expect(left('initech-sync').sort()).toEqual(['', 'initech-reports-cron'])
    expect(left('umbrella-billing')).toEqual(['umbrella-erp'])
    expect(left('hooli-search')).toEqual([])
    const moved = async (k: string) =>
      (await app.rotation.stragglers(k, 'v1', NOW)).moved.map((m) => m.clientId).sort()
    expect(await moved('acme-payments')).toEqual(['acme-billing', 'acme-checkout', 'acme-mobile-bff'])
    expect(await moved('hooli-search')).toEqual(['hooli-indexer', 'hooli-ios', 'hooli-web'])

    const leak = (await app.rotation.stragglers(STORY.leak.keyId, 'v1', NOW)).stragglers.find(
      (s) => s.clientId === '',
    )!
    expect(leak).toMatchObject({
      sourceAddresses: [...STORY.leak.addresses].sort(),
      userAgents: [STORY.leak.userAgent],
      partiallyMigrated: false,
    })
    const batch = (await app.rotation.stragglers('acme-payments', 'v1', NOW)).stragglers[0]!
    expect(batch).toMatchObject({
      clientId: 'acme-batch',
      gateways: ['gw-eu-1', 'gw-eu-2'],
      sourceAddresses: ['203.0.113.45'],
    })
  })

  describe('findings', () => {
    let findings: Finding[]
    const find = (id: string) => {
      const f = findings.find((x) => x.id === id)
      if (!f) throw new Error(`no finding ${id}; got ${findings.map((x) => x.id).join(', ')}`)
      return f
    }
    beforeAll(async () => {
      findings = await app.rotation.findings(NOW)
    })

    it('are exactly the story beats', () => {
      expect(findings.map((f) => `${f.severity} ${f.id}`).sort()).toEqual([
        'critical failures_after_deactivation:acme-payments:v1:*',
        'critical new_version_failing:globex-api:v2:gateway=gw-eu-2',
        'warning expiring_with_traffic:umbrella-billing:v1:*',
        'warning migration_stalled:umbrella-billing:v1:*',
        'warning possible_leak:initech-sync:v1:address=198.51.100.201',
        'warning possible_leak:initech-sync:v1:address=198.51.100.23',
        'warning unknown_key_surge:unknown::*',
      ])
    })

    it('read for all keys at once, equal what each key read alone gives', async () => {
      const byId = (fs: Finding[]) => [...fs].sort((a, b) => (a.id < b.id ? -1 : 1))
      const keys = ['acme-payments', 'globex-api', 'initech-sync', 'umbrella-billing']
      const alone = (await Promise.all(keys.map((k) => app.rotation.findings(NOW, k)))).flat()
      expect(alone).toHaveLength(6)
      expect(byId(alone)).toEqual(byId(findings.filter((f) => f.type !== 'unknown_key_surge')))
    })

    it('(a) acme-payments v1 deactivated while acme-batch still used it: rollback advised', () => {
      const deactivatedAt = END - STORY.prematureDeactivation.beforeEndMs
      const rejected = events.filter(
        (e) =>
          of('acme-payments', 'v1')(e) &&
          e.reason === 'revoked' &&
          e.time >= Math.floor(deactivatedAt / MIN) * MIN,
      )
      // Hand-checked: deactivated at 14:48; the job runs at :x2 and :x7 with 3 calls → 14:52 and 14:57.
      expect(rejected.length).toBe(6)
      expect(
        rejected.every((e) => e.clientId === STORY.prematureDeactivation.clientId && e.status === 401),
      ).toBe(true)
      expect(find('failures_after_deactivation:acme-payments:v1:*').evidence).toEqual({
        deactivatedAt,
        failures: rejected.length,
        affectedClients: 1,
        clients: [
          {
            clientId: 'acme-batch',
            failures: rejected.length,
            gateways: uniqSorted(rejected.map((e) => e.gateway)),
          },
        ],
        gateways: uniqSorted(rejected.map((e) => e.gateway)),
        reasons: { revoked: rejected.length },
      })
    })

    it('(b) globex-api v2 is rejected on gw-eu-2 only', () => {
      const recent = inWindow(END - 15 * MIN, END)
      const onEu2 = events.filter((e) => of('globex-api', 'v2')(e) && recent(e) && e.gateway === 'gw-eu-2')
      expect(onEu2.length).toBeGreaterThanOrEqual(5)
      expect(onEu2.every((e) => e.reason === 'unknown_key')).toBe(true)
      const f = find('new_version_failing:globex-api:v2:gateway=gw-eu-2')
      expect(f.evidence).toEqual({
        gateway: 'gw-eu-2',
        requests: onEu2.length,
        rejections: onEu2.length,
        successes: 0,
        rejectionRate: 1,
        clients: uniqSorted(onEu2.map((e) => e.clientId)),
        workingGateways: ['gw-eu-1', 'gw-us-1'],
      })
      expect(count(of('globex-api', 'v2'), recent, (e) => e.gateway !== 'gw-eu-2', failed)).toBe(0)
    })

    it('(c) the deprecated initech-sync v1 is used from 198.51.100.0/24, never seen before', () => {
      const cutoff = scenario.spec.keys.find((k) => k.keyId === STORY.leak.keyId)!.versions[0]!.deprecatedAt!
      for (const address of STORY.leak.addresses) {
        const used = events.filter(
          (e) => of(STORY.leak.keyId, 'v1')(e) && e.sourceAddress === address && last24h(e),
        )
        expect(count(of(STORY.leak.keyId), (e) => e.sourceAddress === address && e.time < cutoff)).toBe(0)
        expect(find(`possible_leak:initech-sync:v1:address=${address}`).evidence).toEqual({
          state: 'deprecated',
          cutoff,
          cutoffEvent: 'deprecated',
          // Judged against the key's history as stored: from its first event in the story.
          historyFrom: Math.min(...events.filter(of(STORY.leak.keyId)).map((e) => e.time)),
          requests: used.length,
          successes: used.length,
          failures: 0,
          sourceAddresses: [address],
          clients: [],
          userAgents: [STORY.leak.userAgent],
          gateways: uniqSorted(used.map((e) => e.gateway)),
          routes: uniqSorted(used.map((e) => e.route)),
        })
      }
    })

    it('(d) umbrella-billing v1 expires in 30 h and still carries traffic', () => {
      const v1 = events.filter((e) => of(STORY.expiring.keyId, 'v1')(e) && last24h(e))
      const all = count(of(STORY.expiring.keyId), last24h)
      const expiresAt = END + STORY.expiring.expiresAfterEndMs
      expect(find('expiring_with_traffic:umbrella-billing:v1:*').evidence).toEqual({
        expiresAt,
        requests: v1.length,
        share: v1.length / all,
        clients: [{ clientId: 'umbrella-erp', requests: v1.length }],
      })
      expect(find('migration_stalled:umbrella-billing:v1:*').evidence).toMatchObject({
        expiresAt,
        newestVersion: 'v2',
        requests: v1.length,
        share: v1.length / all,
      })
    })

    it('(e) a surge of unknown keys from 203.0.113.240–247 on gw-us-1', () => {
      const lastHour = events.filter((e) => e.keyId === 'unknown' && inWindow(END - HOUR, END)(e))
      const byAddress = new Map<string, number>()
      for (const e of lastHour) byAddress.set(e.sourceAddress, (byAddress.get(e.sourceAddress) ?? 0) + 1)
      const top = [...byAddress]
        .map(([address, failures]) => ({ address, failures }))
        .sort((a, b) => b.failures - a.failures || (a.address < b.address ? -1 : 1))
      const f = find('unknown_key_surge:unknown::*')
      expect(f.evidence.sourceAddresses).toEqual(top.slice(0, 20))
      expect(f.evidence.gateways).toEqual(uniqSorted(lastHour.map((e) => e.gateway)))
      expect((f.evidence.sourceAddresses as { address: string }[])[0]!.address).toMatch(
        /^203\.0\.113\.24[0-7]$/,
      )
      expect(f.labels.gateway).toContain(STORY.surge.gateway)
    })
  })

  describe('readiness', () => {
    const verdict = (keyId: string, version: string) =>
      app.rotation.readiness({ keyId, version, askedBy: 'scenario-test', via: 'api', audit: false }, NOW)
    const outcomes = (r: Awaited<ReturnType<typeof verdict>>) =>
      Object.fromEntries(r.rules.map((x) => [x.id, x.outcome]))

    it('acme-payments v1: not ready — still in use, and its deactivation broke a client', async () => {
      const r = await verdict('acme-payments', 'v1')
      expect(r.verdict).toBe('not_ready')
      expect(outcomes(r)).toEqual({
        newer_version_active: 'pass',
        old_traffic_below_threshold: 'fail',
        no_failures_on_newer: 'fail',
        min_overlap_elapsed: 'pass',
        data_fresh: 'pass',
        places_reporting: 'pass',
      })
      const traffic = r.rules.find((x) => x.id === 'old_traffic_below_threshold')!
      const v1 = count(of('acme-payments', 'v1'), last24h)
      expect(traffic.numbers).toMatchObject({
        requests: v1,
        totalRequests: count(of('acme-payments'), last24h),
      })
      expect(r.rules.find((x) => x.id === 'no_failures_on_newer')!.detail).toContain(
        'failures_after_deactivation:acme-payments:v1:*',
      )
    })

    it('hooli-search v1: ready — every client moved more than a day ago', async () => {
      const r = await verdict(STORY.migrated.keyId, 'v1')
      expect(r.verdict).toBe('ready')
      expect(new Set(r.rules.map((x) => x.outcome))).toEqual(new Set(['pass']))
      expect(r.rules.find((x) => x.id === 'old_traffic_below_threshold')!.numbers).toMatchObject({
        requests: 0,
        share: 0,
        totalRequests: count(of(STORY.migrated.keyId), last24h),
      })
      expect(r.ingestLagMs).toBe(0)
      // The places that carried the key in the last 24 h: its gateways, tallied from the story.
      const places = r.rules.find((x) => x.id === 'places_reporting')!.places!
      expect(places.filter((p) => p.kind === 'gateway').map((p) => p.name)).toEqual(
        uniqSorted(events.filter((e) => of(STORY.migrated.keyId)(e) && last24h(e)).map((e) => e.gateway)),
      )
      expect(places.filter((p) => p.kind === 'source').every((p) => /^kafka:.+#[0-5]$/.test(p.name))).toBe(
        true,
      )
    })

    it('globex-api v1: not ready — globex-legacy-crm still uses it and v2 fails on gw-eu-2', async () => {
      const r = await verdict('globex-api', 'v1')
      expect(r.verdict).toBe('not_ready')
      expect(outcomes(r)).toMatchObject({ old_traffic_below_threshold: 'fail', no_failures_on_newer: 'fail' })
      expect(r.rules.find((x) => x.id === 'old_traffic_below_threshold')!.numbers.requests).toBe(
        count(of('globex-api', 'v1'), last24h),
      )
    })

    it('initech-sync and umbrella-billing v1: not ready — traffic only', async () => {
      for (const keyId of ['initech-sync', 'umbrella-billing']) {
        const r = await verdict(keyId, 'v1')
        expect(r.verdict, keyId).toBe('not_ready')
        expect(outcomes(r), keyId).toEqual({
          newer_version_active: 'pass',
          old_traffic_below_threshold: 'fail',
          no_failures_on_newer: 'pass',
          min_overlap_elapsed: 'pass',
          data_fresh: 'pass',
          places_reporting: 'pass',
        })
      }
    })

    it('a version the registry does not know: unknown, never ready', async () => {
      const r = await verdict('acme-payments', 'v9')
      expect(r.verdict).toBe('unknown')
      expect(outcomes(r)).toMatchObject({ newer_version_active: 'unknown', no_failures_on_newer: 'unknown' })
    })
  })
})
