// The canary suite of issue 14: one known secret planted in every field of every
// edge that takes text from outside (HTTP bodies, query strings, path parameters
// and headers; CLI arguments and environment-derived defaults; a registry file;
// the lifecycle topic; gateway log lines through Kafka and a file, including a
// line cut at the line limit in the middle of the key), then searched for, as
// the whole key and as every 8-character fragment of it, in every table of the
// store (by SQL), the store's data files, the log at trace level, every API
// response, the metrics, the status page, the dead-letter topic, every webhook
// notification and the CLI's output. Positive controls show each value arrived
// (as its fingerprint), so "not found" cannot mean "dropped".
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { type App, createApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config/load.ts'
import { createFingerprinter } from '../../src/ingest/secrets/fingerprint.ts'
import { DEFAULT_MAX_LINE_BYTES } from '../../src/ingest/sources/line-splitter.ts'
import { createLogger } from '../../src/telemetry/logger.ts'
import { startWebhookReceiver, type WebhookReceiver } from '../kit/webhook-receiver.ts'
import { runKeyshift, writeConfig } from '../support/daemon.ts'
import { queryRows, withStore } from '../support/store-probe.ts'
import {
  ADMIN_TOKEN,
  kafkaSection,
  MAPPING_DECODER,
  READ_TOKEN,
  tempDataDir,
  waitForStored,
} from './alerting-harness.ts'
import { produceMessages, readTopic } from './kafka-helpers.ts'

const PEPPER = 'canary-edges-pepper-0123456789'
const fp = createFingerprinter(PEPPER)
// Two canaries: a version's secret must differ from the other version's.
const CANARY = 'sk_live_CANARYq7Zt4Xw9Lm2Rb8Vn5Kd3Hf6Gj1Pc0Sy'
const CANARY2 = 'ghp_CANARYb3Nq8Wv5Yc2Rt7Lm4Xk9Hd6Fs1Gz0Pa'
const F = fp(CANARY)
const F2 = fp(CANARY2)
/** The whole keys and every 8-character window of them but the bare heads. */
const NEEDLES = [CANARY, CANARY2].flatMap((k) => {
  const out = [k]
  for (let i = 0; i + 8 <= k.length; i++) {
    const w = k.slice(i, i + 8)
    if (w.includes('CA') || i >= 8) out.push(w)
  }
  return out
})
const KEY = 'canary-key'
const DAY = 86_400_000

function leaks(where: string, text: string): string[] {
  return NEEDLES.filter((n) => text.includes(n)).map((n) => `${where}: ${n}`)
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? filesUnder(p) : [p]
  })
}

/** A gateway record for MAPPING_DECODER with the canary in every descriptive field. */
function gatewayLine(version: string, status: number, time: number, reason = '-'): string {
  return JSON.stringify({
    id: `req-${randomBytes(8).toString('hex')}`,
    ts: new Date(time).toISOString(),
    key_id: KEY,
    key_version: version,
    status,
    reason,
    client_id: `partner-${CANARY}`,
    source_address: '203.0.113.7',
    user_agent: `svc-06/okhttp/4.12.0 ${CANARY}`,
    method: 'POST',
    route: `/v1/payments?api_key=${CANARY}`,
    gateway: 'kong-eu',
  })
}

let hooks: WebhookReceiver | undefined
let app: App | undefined
afterAll(async () => {
  await app?.stop()
  await hooks?.close()
})

describe('a canary secret through every edge appears nowhere', () => {
  it('is fingerprinted at the HTTP API, CLI, registry file, lifecycle topic, log and ingest edges', async () => {
    const brokers = inject('kafkaBrokers')
    const dataDir = tempDataDir('canary-data')
    const outside = tempDataDir('canary-inputs') // the inputs hold the raw canary: not under the data dir
    const whsec = `whsec_${randomBytes(32).toString('base64')}`
    hooks = await startWebhookReceiver({ secret: whsec })
    const k = await kafkaSection(brokers, 'canary-edges')
    const now = Date.now()
    let placements = 0

    // Registry file: the secret and every free-text field.
    const registryFile = join(outside, 'keys.yaml')
    writeFileSync(
      registryFile,
      `events:
  - key_id: ${KEY}
    version: v1
    action: create
    time: ${new Date(now - 3 * DAY).toISOString()}
    secret: ${CANARY}
    note: "issued to partner; old key ${CANARY}"
    actor: "ops ${CANARY}"
    owners: ["${CANARY}@example.com"]
    scopes: ["payments:${CANARY}"]
`,
    )
    placements += 5

    // Gateway log file: good lines, a line that is not JSON, and a line over the
    // line limit cut 16 characters into the canary.
    const head = '{"ts":"2026-01-01T00:00:00Z","pad":"'
    const tail = `","user_agent":"sdk ${CANARY}"}`
    const pad = 'x'.repeat(DEFAULT_MAX_LINE_BYTES - head.length - tail.indexOf(CANARY) - 16)
    const oversized = `${head}${pad}${tail}`
    expect(Buffer.byteLength(oversized.slice(0, DEFAULT_MAX_LINE_BYTES)).toString()).toBe(
      String(DEFAULT_MAX_LINE_BYTES),
    )
    expect(oversized.slice(DEFAULT_MAX_LINE_BYTES - 16, DEFAULT_MAX_LINE_BYTES)).toBe(CANARY.slice(0, 16))
    const logFile = join(outside, 'gateway.log')
    writeFileSync(
      logFile,
      `${gatewayLine('v1', 200, now - 90_000)}\nGET /v1/pay?key=${CANARY} HTTP/1.1 not json\n${oversized}\n`,
    )
    placements += 6

    const logLines: string[] = []
    const logger = createLogger({
      level: 'trace',
      destination: new Writable({
        write(chunk, _enc, done) {
          logLines.push(chunk.toString())
          done()
        },
      }),
    })
    const config = {
      instance: 'canary-edges',
      data_dir: dataDir,
      secrets: { pepper: PEPPER },
      http: { port: 0, read_tokens: [READ_TOKEN], admin_tokens: [ADMIN_TOKEN] },
      kafka: k.kafka,
      sources: [
        { type: 'kafka', topic: k.topic, decoder: MAPPING_DECODER },
        { type: 'file', path: logFile, decoder: MAPPING_DECODER, poll_interval_ms: 50 },
      ],
      registry: { files: [registryFile] },
      ingest: { heartbeat_interval_ms: 1_000 },
      alerting: {
        receivers: { hooks: { type: 'webhook', url: hooks.url, secret: whsec } },
        default_receivers: ['hooks'],
        leadership: { topic: k.leaderTopic },
      },
    }
    app = await createApp(parseConfig(config, 'test'), { logger })
    await app.start()
    const base = app.url()!

    // --- HTTP API ------------------------------------------------------------------
    const responses: string[] = []
    const call = async (method: string, path: string, body?: unknown, token = ADMIN_TOKEN) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          'user-agent': `curl/8.4.0 ${CANARY}`,
          'x-request-id': CANARY,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
      const text = await res.text()
      // What came back (status, headers, body); the request itself holds the canary.
      responses.push(`${res.status} ${JSON.stringify([...res.headers])} ${text}`)
      return { status: res.status, text }
    }
    const lifecycleBody = (version: string, action: string, time: number, secret?: string) => ({
      event_id: `change-${action}-${version}-${CANARY}`,
      key_id: KEY,
      version,
      action,
      time,
      ...(secret ? { secret } : {}),
      note: `ticket OPS-1; leaked ${CANARY}`,
      actor: `alice ${CANARY}`,
      owners: [`${CANARY}@example.com`],
      scopes: [`payments:${CANARY}`],
    })
    expect(
      (await call('POST', '/api/v1/lifecycle', lifecycleBody('v1', 'activate', now - 2 * DAY))).status,
    ).toBe(201)
    expect(
      (await call('POST', '/api/v1/lifecycle', lifecycleBody('v2', 'create', now - DAY, CANARY2))).status,
    ).toBe(201)
    expect(
      (await call('POST', '/api/v1/lifecycle', lifecycleBody('v2', 'activate', now - 3_600_000))).status,
    ).toBe(201)
    placements += 3 * 7 + 1
    // Refused bodies must not echo what they refused.
    expect(
      (await call('POST', '/api/v1/lifecycle', { key_id: KEY, version: 'v9', action: CANARY })).status,
    ).toBe(400)
    expect((await call('POST', '/api/v1/silences', { comment: CANARY })).status).toBe(400)
    placements += 2
    const silence = await call('POST', '/api/v1/silences', {
      matchers: { key: [`other-${CANARY}`] },
      duration: '1h',
      created_by: `bob ${CANARY}`,
      comment: `INC-7 ${CANARY}`,
    })
    expect(silence.status).toBe(201)
    placements += 3
    for (const path of [
      `/api/v1/keys/${CANARY}/versions/v1/readiness?asked_by=${CANARY}`,
      `/api/v1/keys/${KEY}/versions/v1/readiness?asked_by=ci%20${CANARY}`,
      `/api/v1/keys/${KEY}/versions/${CANARY}/readiness`,
      `/api/v1/findings?key=${CANARY}`,
      `/api/v1/keys/${CANARY}/versions/v1/stragglers?lookback=1h`,
      `/api/v1/keys/${CANARY}?from=${CANARY}`,
      `/api/v1/no-such-route/${CANARY}`,
      `/api/v1/keys/${KEY}?${CANARY}=1`,
    ]) {
      await call('GET', path, undefined, READ_TOKEN)
      placements += 3 // the path or query value, and two headers
    }

    // --- Kafka: gateway records (also in headers) and the lifecycle topic -----------
    await produceMessages(brokers, k.topic, [
      { key: CANARY, value: gatewayLine('v1', 200, now - 60_000) },
      { value: gatewayLine('v1', 200, now - 30_000) },
      { value: `{"ts": "${CANARY}"` },
    ])
    placements += 3 + 5 * 2
    await produceMessages(brokers, k.kafka.lifecycle_topic, [
      { value: JSON.stringify({ ...lifecycleBody('v0', 'create', now - 4 * DAY), event_id: undefined }) },
      { value: `{"key_id": "${KEY}", "note": "${CANARY}"` },
    ])
    placements += 6 + 1
    await waitForStored(app, KEY, 3, 60_000) // one from the file, two from Kafka

    // --- An alert: v1 deactivated (through the API) while its client still uses it ---
    expect(
      (await call('POST', '/api/v1/lifecycle', lifecycleBody('v1', 'deactivate', Date.now() - 1_000))).status,
    ).toBe(201)
    placements += 6
    const failedAt = Date.now()
    await produceMessages(
      brokers,
      k.topic,
      Array.from({ length: 5 }, () => ({ value: gatewayLine('v1', 401, failedAt, 'revoked') })),
    )
    placements += 5 * 3
    const deadline = Date.now() + 120_000
    while (hooks.deliveries.length === 0 || (await deadLetterCount(app)) < 3) {
      if (Date.now() > deadline) throw new Error('timed out waiting for a notification and 3 dead letters')
      await new Promise((r) => setTimeout(r, 100))
    }
    await call('GET', '/api/v1/alerts', undefined, READ_TOKEN)
    await call('GET', '/api/v1/lifecycle', undefined, READ_TOKEN)
    await call('GET', '/api/v1/silences', undefined, READ_TOKEN)
    await call('GET', `/api/v1/keys/${KEY}`, undefined, READ_TOKEN)
    await call('GET', '/', undefined, READ_TOKEN)
    await call('GET', '/metrics', undefined, READ_TOKEN)
    await app.stop()
    app = undefined

    // --- CLI: arguments, options and environment defaults, against the store -------
    const cfgFile = writeConfig(outside, { data_dir: dataDir, secrets: { pepper: PEPPER } })
    const env = { USER: `ci-${CANARY}`, GITHUB_ACTOR: '' }
    const cli = [
      await runKeyshift(
        ['key', 'create', KEY, 'v3', '-c', cfgFile, '--note', `cli ${CANARY}`, '--owners', CANARY],
        {
          env,
        },
      ),
      await runKeyshift(
        [
          'silence',
          'add',
          '-c',
          cfgFile,
          '--key',
          `x-${CANARY}`,
          '--duration',
          '1h',
          '--comment',
          `cli ${CANARY}`,
        ],
        { env },
      ),
      await runKeyshift(['gate', KEY, 'v1', '-c', cfgFile], { env }),
      await runKeyshift(['gate', CANARY, 'v1', '-c', cfgFile, '--asked-by', CANARY], { env }),
    ]
    placements += 4 + 3 + 1 + 3
    expect(cli.map((r) => r.code)).toEqual([0, 0, 1, 2])

    // --- Search everywhere -------------------------------------------------------------
    const found: string[] = []
    const controls = await withStore(dataDir, async (c) => {
      const tables = await queryRows<{ name: string }>(
        c,
        `SELECT name FROM system.tables WHERE database = 'keyshift' AND engine NOT LIKE '%View' ORDER BY name`,
      )
      for (const { name } of tables) {
        const rows = await queryRows<{ row: string }>(
          c,
          `SELECT formatRowNoNewline('TSV', *) AS row FROM keyshift.${name}`,
        )
        found.push(...leaks(`table ${name}`, rows.map((r) => r.row).join('\n')))
      }
      return {
        tables: tables.length,
        notes: await queryRows<{ note: string }>(
          c,
          `SELECT DISTINCT note FROM keyshift.key_lifecycle WHERE note != '' ORDER BY note`,
        ),
        silences: await queryRows<{ created_by: string; comment: string }>(
          c,
          'SELECT DISTINCT created_by, comment FROM keyshift.alert_silences ORDER BY comment',
        ),
        askedBy: await queryRows<{ asked_by: string }>(
          c,
          'SELECT DISTINCT asked_by FROM keyshift.readiness_audit ORDER BY asked_by',
        ),
        fingerprints: await queryRows<{ version: string; fps: string[] }>(
          c,
          `SELECT version, groupUniqArrayArray(fingerprints) AS fps FROM keyshift.key_lifecycle
           WHERE key_id = {key:String} GROUP BY version HAVING length(fps) > 0 ORDER BY version`,
          { key: KEY },
        ),
        clients: await queryRows<{ client_id: string; user_agent: string }>(
          c,
          'SELECT DISTINCT client_id, user_agent FROM keyshift.auth_events',
        ),
      }
    })
    for (const file of filesUnder(dataDir)) found.push(...leaks(`file ${file}`, readFileSync(file, 'latin1')))
    found.push(...leaks('log', logLines.join('')))
    found.push(...leaks('API responses', responses.join('\n')))
    for (const d of hooks.deliveries)
      found.push(...leaks('webhook', `${JSON.stringify(d.headers)} ${d.body}`))
    for (const m of await readTopic(brokers, k.kafka.dead_letter_topic)) {
      found.push(...leaks('dead-letter topic', `${JSON.stringify(m.headers)} ${m.value.toString('latin1')}`))
    }
    for (const [i, r] of cli.entries()) found.push(...leaks(`cli #${i + 1}`, `${r.stdout}${r.stderr}`))
    expect(found).toEqual([])

    // Positive controls: the values arrived, as fingerprints under the daemon's pepper.
    expect(controls.tables).toBeGreaterThanOrEqual(14)
    expect(controls.notes.map((r) => r.note)).toEqual([
      `cli ${F}`,
      `issued to partner; old key ${F}`,
      `ticket OPS-1; leaked ${F}`,
    ])
    expect(controls.silences).toEqual([
      { created_by: `bob ${F}`, comment: `INC-7 ${F}` },
      { created_by: `ci-${F}`, comment: `cli ${F}` },
    ])
    expect(controls.askedBy.map((r) => r.asked_by)).toEqual(
      expect.arrayContaining([F, `ci ${F}`, `cli:ci-${F}`]),
    )
    expect(controls.fingerprints).toEqual([
      { version: 'v1', fps: [F] },
      { version: 'v2', fps: [F2] },
    ])
    expect(controls.clients).toEqual([{ client_id: `partner-${F}`, user_agent: `svc-06/okhttp/4.12.0 ${F}` }])
    expect(logLines.join('')).toContain(F)
    expect(hooks.deliveries.length).toBeGreaterThan(0)
    console.info(
      `canary suite: ${placements} placements, ${NEEDLES.length} needles, ${controls.tables} tables, ` +
        `${filesUnder(dataDir).length} data files, ${logLines.length} log lines, ${responses.length} API responses, ` +
        `${hooks.deliveries.length} notifications, ${cli.length} CLI runs: ${found.length} leaks`,
    )
  })
})

async function deadLetterCount(a: App): Promise<number> {
  const [r] = await queryRows<{ n: number }>(a.store.client, 'SELECT count() AS n FROM keyshift.dead_letters')
  return Number(r?.n ?? 0)
}
