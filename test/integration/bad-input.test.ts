// 24k malformed records (2 000 of each kind) interleaved with valid ones through the real broker
// and store: nothing crashes, every bad record is dead-lettered (Kafka topic
// with reason and source headers, dead_letters table, metric by reason), every
// good one is stored. A canary key planted in good and bad records, in headers,
// query strings and free text appears nowhere: not in the store, not in the
// dead-letter topic, not in logs, not in metrics.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { describe, expect, inject, it } from 'vitest'
import { createApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config/load.ts'
import { createFingerprinter } from '../../src/ingest/secrets/fingerprint.ts'
import { waitFor } from '../support/daemon.ts'
import { kongRecord, MALFORMED_KINDS, type MalformedKind, malformed, prng } from '../support/records.ts'
import { queryRows } from '../support/store-probe.ts'
import { createTopic, produceMessages, readTopic, uniqueTopic } from './kafka-helpers.ts'

const PEPPER = 'bad-input-pepper-0123456789'
const CANARY = 'ks_live_CANARY7d3f9a1b2c4e5f60718293a4b5c6d7e8'
// Volume bounded so the test holds on a loaded 2-core machine: every malformed kind
// still appears 2 000 times, in every partition.
const BAD = 24_000
const GOOD = BAD / 5

/** The decode reason each malformed kind must be dead-lettered with. */
const EXPECTED_REASON: Record<MalformedKind, string> = {
  random_bytes: 'invalid_utf8',
  // Its invalid bytes become U+FFFD and it parses; it has no time.
  bad_utf8: 'missing_time',
  not_json: 'invalid_json',
  json_array: 'not_an_object',
  wrong_types: 'bad_type',
  missing_time: 'missing_time',
  batch_missing_time: 'missing_time',
  absurd_time: 'time_out_of_range',
  future_time: 'time_out_of_range',
  huge_field: 'too_large',
  bad_status: 'bad_status',
  empty: 'missing_time',
}

describe('bad input never stops the pipeline and never leaks a secret', () => {
  it('dead-letters 24k malformed records and stores 4.8k valid ones exactly', async () => {
    const brokers = inject('kafkaBrokers')
    const topic = uniqueTopic('bad-input')
    const dlq = uniqueTopic('bad-input-dlq')
    await createTopic(brokers, topic, 6)
    await createTopic(brokers, dlq, 1)
    const now = Date.now()
    const rnd = prng(7)
    const messages: { value: Buffer }[] = []
    const expected = new Map<string, number>()
    let good = 0
    let badWithCanary = 0
    for (let i = 0; i < BAD; i++) {
      const kind = MALFORMED_KINDS[i % MALFORMED_KINDS.length]!
      let value = malformed(kind, i, now, rnd)
      // Plant the canary in free text and in JSON of bad records too.
      if (kind === 'not_json' || kind === 'bad_status') badWithCanary++
      if (kind === 'not_json') value = Buffer.from(`${value.toString()} GET /v1/pay?api_key=${CANARY}`)
      if (kind === 'bad_status') {
        const doc = JSON.parse(value.toString())
        doc.request.headers.apikey = CANARY
        value = Buffer.from(JSON.stringify(doc))
      }
      messages.push({ value })
      expected.set(EXPECTED_REASON[kind], (expected.get(EXPECTED_REASON[kind]) ?? 0) + 1)
      if (i % 5 === 0) {
        const rec = kongRecord({ i: good, time: now - 600_000 + (good % 500_000) })
        const req = rec.request as { headers: Record<string, string>; uri: string }
        if (good % 2 === 0) req.headers.apikey = CANARY
        else req.headers.authorization = `Bearer ${CANARY}`
        messages.push({ value: Buffer.from(JSON.stringify(rec)) })
        good++
      }
    }
    expect(good).toBe(GOOD)
    await produceMessages(brokers, topic, messages)

    const logs: string[] = []
    const logger = pino(
      { level: 'debug' },
      new Writable({
        write(chunk, _enc, cb) {
          logs.push(String(chunk))
          cb()
        },
      }),
    )
    const dir = mkdtempSync(join(tmpdir(), 'ks-bad-input-'))
    const app = await createApp(
      parseConfig({
        instance: 'bad-input',
        data_dir: join(dir, 'data'),
        http: { enabled: false },
        kafka: { brokers: [brokers], group_id: `g-${topic}`, dead_letter_topic: dlq },
        sources: [{ type: 'kafka', topic, decoder: { preset: 'kong', default_gateway: 'kong-bad' } }],
        secrets: { pepper: PEPPER },
      }),
      { logger },
    )
    const counts = async () => {
      const [r] = await queryRows<{ events: number; dead: number }>(
        app.store.client,
        'SELECT (SELECT count() FROM keyshift.auth_events) AS events, (SELECT count() FROM keyshift.dead_letters) AS dead',
      )
      return { events: Number(r!.events), dead: Number(r!.dead) }
    }
    try {
      await app.start()
      await waitFor(
        'every record handled',
        async () => {
          const c = await counts()
          return c.events === GOOD && c.dead === BAD
        },
        { timeoutMs: 240_000, intervalMs: 1_000 },
      )
      expect(await counts()).toEqual({ events: GOOD, dead: BAD })

      // Dead letters by reason, in the table and in the metric.
      const byReason = await queryRows<{ reason: string; n: number }>(
        app.store.client,
        'SELECT reason, count() AS n FROM keyshift.dead_letters GROUP BY reason ORDER BY reason',
      )
      const want = [...expected.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([reason, n]) => ({ reason, n }))
      expect(byReason.map((r) => ({ reason: r.reason, n: Number(r.n) }))).toEqual(want)
      const metric = await app.metrics.getSingleMetric('keyshift_events_rejected_total')!.get()
      const metricByReason = Object.fromEntries(metric.values.map((v) => [v.labels.reason, v.value]))
      expect(metricByReason).toEqual(Object.fromEntries(want.map((w) => [w.reason, w.n])))

      // The dead-letter topic holds every bad record, with reason and source headers.
      const dead = await readTopic(brokers, dlq)
      expect(dead.length).toBe(BAD)
      const stored = await queryRows<{ src_partition: number; src_offset: number; reason: string }>(
        app.store.client,
        'SELECT src_partition, src_offset, reason FROM keyshift.dead_letters',
      )
      const tableIds = new Set(stored.map((r) => `${r.src_partition}/${r.src_offset}/${r.reason}`))
      let withHeaders = 0
      for (const m of dead) {
        const h = m.headers
        const id = `${h['keyshift-source-partition']}/${h['keyshift-source-offset']}/${h['keyshift-reason']}`
        if (h['keyshift-source-topic'] === topic && tableIds.has(id)) withHeaders++
      }
      expect(withHeaders).toBe(BAD)

      // The canary appears nowhere; its fingerprint does.
      const fp = createFingerprinter(PEPPER)(CANARY)
      const [leak] = await queryRows<{ events: number; dead: number; fp: number }>(
        app.store.client,
        `SELECT
          (SELECT countIf(position(concat(event_id, key_id, key_version, key_fingerprint, client_id, source_address,
             user_agent, route, gateway), 'CANARY') > 0) FROM keyshift.auth_events) AS events,
          (SELECT countIf(position(detail, 'CANARY') > 0) FROM keyshift.dead_letters) AS dead,
          (SELECT countIf(key_fingerprint = {fp:String}) FROM keyshift.auth_events) AS fp`,
        { fp },
      )
      expect({ events: Number(leak!.events), dead: Number(leak!.dead), fp: Number(leak!.fp) }).toEqual({
        events: 0,
        dead: 0,
        fp: GOOD,
      })
      const dlqWithCanary = dead.filter(
        (m) => m.value.includes('CANARY') || Object.values(m.headers).some((v) => v.includes('CANARY')),
      )
      expect(dlqWithCanary.length).toBe(0)
      expect(badWithCanary).toBe((2 * BAD) / MALFORMED_KINDS.length)
      expect(dead.filter((m) => m.value.includes(fp)).length).toBe(badWithCanary)
      expect(logs.join('').includes('CANARY')).toBe(false)
      expect((await app.metrics.metrics()).includes('CANARY')).toBe(false)
    } finally {
      await app.stop()
    }
  })
})
