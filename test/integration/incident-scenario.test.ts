// The emergency story end to end on the real engine: a leaked key version
// (src/scenario/incident-scenario.ts) whose history is in the store; the
// incident is opened by a message on the real Kafka lifecycle topic; the rest
// of the story (emergency v2, clients moving, an attacker's source, v1
// deactivated while one gateway still accepts it) arrives as Envoy log lines
// through the file source into embedded ClickHouse. Checked at the receivers
// (a verified webhook, an SMTP server) and through the HTTP API: the alerts,
// the owner notice, the live view and checklist, the gate, the report, close.
import { randomBytes } from 'node:crypto'
import { appendFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { IncidentView } from '../../src/analysis/incident.ts'
import type { IncidentReport } from '../../src/analysis/incident-report.ts'
import { formatLine } from '../../src/scenario/formats.ts'
import { buildScenario, lifecycleYaml } from '../../src/scenario/generator.ts'
import { INCIDENT_STORY, incidentScenario } from '../../src/scenario/incident-scenario.ts'
import { waitUntil } from '../kit/http-peer.ts'
import { startSmtpServer, type TestSmtpServer } from '../kit/smtp-server.ts'
import { startWebhookReceiver, type WebhookReceiver } from '../kit/webhook-receiver.ts'
import {
  ADMIN_TOKEN,
  type Keyshift,
  kafkaSection,
  READ_TOKEN,
  startKeyshift,
  tempDataDir,
  waitForStored,
} from './alerting-harness.ts'
import { produceMessages } from './kafka-helpers.ts'

const brokers = inject('kafkaBrokers')
const secret = `whsec_${randomBytes(32).toString('base64')}`
const S = INCIDENT_STORY

let hooks: WebhookReceiver
let mail: TestSmtpServer
let ks: Keyshift
let base: string
// The story ends now: its leak was 25 minutes ago.
const story = incidentScenario({ leakAt: Date.now() - S.endAfterMs, historyHours: 3 })
const scenario = buildScenario(story.spec)
const before = [...scenario.events({ to: story.beats.leakAt })]
const after = [...scenario.events({ from: story.beats.leakAt })]
let incidentId = ''

async function api<T>(
  path: string,
  init: RequestInit & { token?: string } = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(new URL(path, base), {
    ...init,
    headers: {
      authorization: `Bearer ${init.token ?? READ_TOKEN}`,
      ...(init.body ? { 'content-type': 'application/json' } : {}),
    },
  })
  const text = await res.text()
  return {
    status: res.status,
    body: (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T,
  }
}

const webhookAlerts = () =>
  hooks.deliveries.flatMap((d) => {
    const p = d.payload as {
      type: string
      data: { alerts?: { type: string; labels: Record<string, string> }[] }
    }
    return (p.data.alerts ?? []).map((a) => ({ kind: p.type, id: d.id, type: a.type, labels: a.labels }))
  })

beforeAll(async () => {
  hooks = await startWebhookReceiver({ secret })
  mail = await startSmtpServer()
  const k = await kafkaSection(brokers, 'incident-scenario')
  const dir = tempDataDir('incident-scenario')
  const registry = join(dir, 'keys.yaml')
  writeFileSync(registry, lifecycleYaml(scenario.lifecycle))
  const log = join(dir, 'gateway.log')
  writeFileSync(log, before.map((e) => `${formatLine('envoy', e, scenario.materialOf(e))}\n`).join(''))
  ks = await startKeyshift({
    instance: 'incident-scenario',
    data_dir: dir,
    http: { enabled: true, port: 0, admin_tokens: [ADMIN_TOKEN], read_tokens: [READ_TOKEN] },
    kafka: k.kafka,
    registry: { files: [registry] },
    sources: [{ type: 'file', path: log, poll_interval_ms: 100, decoder: { preset: 'envoy' } }],
    ingest: { batch_max_wait_ms: 200, heartbeat_interval_ms: 1_000 },
    alerting: {
      receivers: {
        hooks: { type: 'webhook', url: hooks.url, secret },
        mail: {
          type: 'email',
          host: mail.host,
          port: mail.port,
          starttls: false,
          from: 'keyshift <alerts@example.com>',
          to: ['oncall@example.com'],
        },
      },
      routes: [
        {
          match: {
            type: ['incident_unknown_source', 'incident_accepted_after_deactivation', 'incident_open'],
          },
          receivers: ['hooks'],
        },
      ],
      group_wait_ms: 200,
      leadership: { topic: k.leaderTopic },
    },
  })
  base = ks.app.url()!
  await waitForStored(ks.app, S.keyId, before.length, 120_000)

  // Opened through the Kafka lifecycle topic, at the time of the leak.
  await produceMessages(brokers, k.kafka.lifecycle_topic, [
    {
      value: JSON.stringify({
        incident: 'open',
        key_id: S.keyId,
        version: 'v1',
        reason: 'leaked',
        time: story.beats.leakAt,
        actor: 'secops@example.com',
        note: `found in a public gist: sk_live_${'Q'.repeat(8)}9fK2mPz7LwX4vB8n`,
      }),
    },
  ])
  const deadline = Date.now() + 60_000
  for (;;) {
    const open = await ks.app.incidents.list({ state: 'open' })
    if (open.length === 1 && open[0]!.snapshot) {
      incidentId = open[0]!.id
      break
    }
    if (Date.now() > deadline) throw new Error('the incident opened on the lifecycle topic never appeared')
    await new Promise((r) => setTimeout(r, 100))
  }
  // The owners are told at once, before anyone moved: every known client is listed.
  await mail.waitForMessages(1, 60_000)
  appendFileSync(log, after.map((e) => `${formatLine('envoy', e, scenario.materialOf(e))}\n`).join(''))
  await waitForStored(ks.app, S.keyId, before.length + after.length, 120_000)
})

afterAll(async () => {
  await ks?.stop()
  await Promise.all([hooks?.close(), mail?.close()])
})

describe('a leaked key version handled as an incident', () => {
  it('opens from the lifecycle topic with the known users snapshot and a scrubbed note', async () => {
    const inc = (
      await api<{ incidents: { id: string; note: string; openedBy: string; snapshot: { users: number } }[] }>(
        '/api/v1/incidents?state=open',
      )
    ).body.incidents
    expect(inc.map((i) => i.id)).toEqual([incidentId])
    expect(inc[0]!.openedBy).toBe('secops@example.com')
    expect(inc[0]!.note).toMatch(/^found in a public gist: fp_[0-9a-f]{32}$/)
    // Known users: web from two addresses, the mobile backend, the batch job.
    const view = (await api<IncidentView>(`/api/v1/incidents/${incidentId}`)).body
    expect(view.knownUsers.map((u) => `${u.clientId}@${u.sourceAddress}`).sort()).toEqual([
      'ledger-batch@10.2.0.5',
      'ledger-mobile-api@10.3.0.7',
      'ledger-web@10.1.0.10',
      'ledger-web@10.1.0.11',
    ])
  })

  it('emailed the owners at once with their clients still on the version', () => {
    const m = mail.messages[0]!
    expect(mail.envelopes[0]!.to).toEqual(['ledger-team@example.com'])
    expect(m.subject).toBe('[keyshift] URGENT: acme-ledger v1 is leaked; move your clients now')
    for (const c of ['ledger-batch', 'ledger-mobile-api', 'ledger-web']) expect(m.text).toContain(c)
  })

  it('pages once for the unknown source and once for the gateway still accepting v1', async () => {
    await waitUntil(
      () =>
        webhookAlerts().some((a) => a.type === 'incident_unknown_source') &&
        webhookAlerts().some((a) => a.type === 'incident_accepted_after_deactivation'),
      60_000,
      'incident alerts at the webhook',
    )
    // Two more evaluations: no second page for the same source.
    await new Promise((r) => setTimeout(r, 5_000))
    const unknown = webhookAlerts().filter((a) => a.type === 'incident_unknown_source')
    expect(unknown.map((a) => [a.kind, a.labels.source, a.labels.gateway])).toEqual([
      ['dev.keyshift.alert.firing', S.attacker.address, S.attacker.gateway],
    ])
    const stale = webhookAlerts().filter((a) => a.type === 'incident_accepted_after_deactivation')
    expect(stale.map((a) => a.labels.gateway)).toEqual(['gw-us-1'])
    expect(hooks.duplicates.size).toBe(0)
    // No rollback advice for a leaked version, though its known users' late requests fail.
    expect(webhookAlerts().filter((a) => a.kind === 'dev.keyshift.rollback.advised')).toEqual([])
  })

  it('shows the live view: everyone moved, the attacker, the checklist from the data', async () => {
    const v = (await api<IncidentView>(`/api/v1/incidents/${incidentId}`)).body
    expect(v.knownUsers.map((u) => u.state)).toEqual(['moved', 'moved', 'moved', 'moved'])
    expect(v.unknownSources.map((u) => [u.sourceAddress, u.userAgents, u.gateways, u.clients])).toEqual([
      [S.attacker.address, [S.attacker.userAgent], [S.attacker.gateway], ['ledger-web']],
    ])
    const attackerEvents = after.filter((e) => e.sourceAddress === S.attacker.address)
    expect(v.unknownSources[0]!.requests).toBe(attackerEvents.length)
    expect(v.unknownSources[0]!.accepted).toBe(attackerEvents.filter((e) => e.outcome === 'success').length)
    expect(v.unknownSources[0]!.routes).toEqual([...new Set(attackerEvents.map((e) => e.route))].sort())
    expect(v.afterDeactivation.acceptedByGateway.map((g) => [g.gateway, g.requests])).toEqual([
      [
        'gw-us-1',
        after.filter(
          (e) => e.time >= story.beats.deactivatedAt && e.keyVersion === 'v1' && e.outcome === 'success',
        ).length,
      ],
    ])
    expect(Object.fromEntries(v.checklist.map((c) => [c.id, c.state]))).toEqual({
      new_version_active_everywhere: 'done',
      known_users_moved: 'done',
      old_version_deactivated: 'done',
      no_accepted_use_after_deactivation: 'failed',
      no_unknown_source_recently: 'failed',
    })
    expect(v.scopes).toEqual(['ledger:read', 'ledger:write'])
  })

  it('answers the gate under incident rules: ready, every known user moved, no overlap needed', async () => {
    const r = await api<{ verdict: string; rules: { id: string; outcome: string }[]; incidentId: string }>(
      `/api/v1/keys/${S.keyId}/versions/v1/readiness?asked_by=ci`,
    )
    expect(r.body.incidentId).toBe(incidentId)
    expect(r.body.rules.map((x) => [x.id, x.outcome])).toEqual([
      ['snapshot_has_users', 'pass'],
      ['newer_version_active', 'pass'],
      ['known_users_moved', 'pass'],
      ['data_fresh', 'pass'],
    ])
    expect(r.body.verdict).toBe('ready')
  })

  it('refuses a second incident on the same version and a read token on writes', async () => {
    const body = JSON.stringify({ key_id: S.keyId, version: 'v1', reason: 'suspected' })
    expect((await api('/api/v1/incidents', { method: 'POST', body, token: ADMIN_TOKEN })).status).toBe(409)
    expect((await api('/api/v1/incidents', { method: 'POST', body })).status).toBe(403)
    const bad = JSON.stringify({ key_id: S.keyId, version: 'v1', reason: 'oops' })
    const r = await api<{ detail: string }>('/api/v1/incidents', {
      method: 'POST',
      body: bad,
      token: ADMIN_TOKEN,
    })
    expect(r.status).toBe(400)
    expect(r.body.detail).toContain('reason')
  })

  it('closes and reports the timeline with evidence', async () => {
    const closed = await api<{ incident: { state: string; closedBy: string } }>(
      `/api/v1/incidents/${incidentId}/close`,
      {
        method: 'POST',
        body: JSON.stringify({ actor: 'secops@example.com', note: 'v1 revoked everywhere' }),
        token: ADMIN_TOKEN,
      },
    )
    expect(closed.body.incident).toMatchObject({ state: 'closed', closedBy: 'secops@example.com' })
    const report = (await api<IncidentReport>(`/api/v1/incidents/${incidentId}/report`)).body
    const steps = report.timeline.map((t) => t.step)
    expect(steps[0]).toBe('opened')
    expect(steps.at(-1)).toBe('closed')
    expect(steps.filter((s) => s === 'known_user_moved')).toHaveLength(4)
    for (const s of [
      'snapshot_taken',
      'owners_notified',
      'new_version_activated',
      'first_unknown_use',
      'last_unknown_use',
      'deactivated',
      'accepted_after_deactivation',
      'gate_verdict',
    ])
      expect(steps).toContain(s)
    const first = report.timeline.find((t) => t.step === 'first_unknown_use')!
    expect(first.time).toBe(
      Math.min(...after.filter((e) => e.sourceAddress === S.attacker.address).map((e) => e.time)),
    )
    expect(report.timeline.find((t) => t.step === 'deactivated')!.time).toBe(story.beats.deactivatedAt)
    const md = (await api<string>(`/api/v1/incidents/${incidentId}/report?format=md`)).body
    expect(md).toContain(`# Incident ${incidentId}: acme-ledger v1 (leaked)`)
    expect(md).toContain(`| first_unknown_use |`)
    expect((await api<{ incidents: unknown[] }>('/api/v1/incidents?state=open')).body.incidents).toEqual([])
  })
})
