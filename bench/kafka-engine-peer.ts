// The peer a ClickHouse user would pick instead of keyshift's consumer:
// ClickHouse's own Kafka table engine (in the embedded engine keyshift ships)
// with a materialized view that extracts the same fields into a MergeTree. Run
// by bench/ingest.ts as a child process, so its CPU and RSS are its own:
//   node --import tsx bench/kafka-engine-peer.ts <brokers> <topic> <events> <consumers>
// The topic already holds the records; the engine reads them from the start.
// Prints one JSON line once all <events> are stored: the rows at the first stored
// block, the seconds from it to the end, and the CPU seconds (the whole process,
// every engine thread) from before the Kafka table was created to the end.
// At least once, no scrubbing, no key resolution: a floor, not a like-for-like.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Session } from 'chdb'
import { runBench } from './run.ts'

const [brokers, topic, eventsArg, consumersArg] = process.argv.slice(2)
const events = Number(eventsArg)
const consumers = Number(consumersArg ?? 1)
const dir = mkdtempSync(join(tmpdir(), 'ks-bench-peer-'))
const session = new Session(dir)
const cpuSeconds = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}
const q = (sql: string) => session.query(sql, 'CSV')

q('CREATE DATABASE IF NOT EXISTS peer')
q(`CREATE TABLE peer.events (
  time DateTime64(3, 'UTC'), key_id String, version LowCardinality(String), status UInt16,
  client_id String, source_address String, user_agent String, route String
) ENGINE = MergeTree ORDER BY (key_id, time)`)
// CPU is counted from here (before the engine reads anything) to the end, over every event.
const cpuAtStart = cpuSeconds()
q(`CREATE TABLE peer.queue (raw String) ENGINE = Kafka SETTINGS
  kafka_broker_list = '${brokers}', kafka_topic_list = '${topic}', kafka_group_name = 'peer-${topic}-${consumers}',
  kafka_format = 'JSONAsString', kafka_num_consumers = ${consumers}, kafka_thread_per_consumer = 1,
  kafka_max_block_size = 65536, kafka_flush_interval_ms = 500`)
q(`CREATE MATERIALIZED VIEW peer.mv TO peer.events AS SELECT
  fromUnixTimestamp64Milli(JSONExtractInt(raw, 'started_at')) AS time,
  splitByChar(':', JSONExtractString(raw, 'consumer', 'custom_id'))[1] AS key_id,
  splitByChar(':', JSONExtractString(raw, 'consumer', 'custom_id'))[2] AS version,
  JSONExtractUInt(raw, 'response', 'status') AS status,
  JSONExtractString(raw, 'consumer', 'username') AS client_id,
  JSONExtractString(raw, 'client_ip') AS source_address,
  JSONExtractString(raw, 'request', 'headers', 'user-agent') AS user_agent,
  JSONExtractString(raw, 'request', 'uri') AS route
FROM peer.queue`)

const count = () => Number(q('SELECT count() FROM peer.events').trim())
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function main() {
  let first = 0
  let firstCount = 0
  for (;;) {
    const n = count()
    if (n > 0 && first === 0) {
      first = performance.now()
      firstCount = n
    }
    if (n >= events) {
      const seconds = (performance.now() - first) / 1000
      const cpu = cpuSeconds() - cpuAtStart
      process.stdout.write(`${JSON.stringify({ stored: n, firstCount, seconds, cpu })}\n`)
      break
    }
    await sleep(20)
  }
  session.close()
  rmSync(dir, { recursive: true, force: true })
}

runBench(main)
