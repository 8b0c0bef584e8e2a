// bench:ingest — keyshift's end-to-end ingest rate (Kafka → decode → embedded
// store, exactly-once bookkeeping included) against a bare kafkajs consumer
// that only JSON-parses the same topic, measured in the same run on the same
// broker, and against ClickHouse's own Kafka engine with a materialized view
// (1 and 2 consumers, bench/kafka-engine-peer.ts; KEYSHIFT_BENCH_PEER=0 skips it),
// then keyshift again on the server path (clickhouse.url, the test HTTP server in
// front of chDB; KEYSHIFT_BENCH_SERVER=0 skips it). Prints the rates, CPU per
// event, peak RSS and their ratios. Stage figures: docs/ingest-performance.md.
//   npm run bench:ingest   (1M events in 8 partitions; KEYSHIFT_BENCH_EVENTS and
//                           KEYSHIFT_BENCH_PARTITIONS to change; KEYSHIFT_* config
//                           overrides reach the daemon; KEYSHIFT_BENCH_CPU_PROF=<dir> writes
//                           the daemon's V8 CPU profile there, for bench/cpu-profile-stages.ts;
//                           KEYSHIFT_BENCH_NODE_ARGS: node flags for the daemon;
//                           KEYSHIFT_BENCH_DAEMON_LOG=<path>: its output, in <path>.embedded|server)
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { createTopic, deleteTopic, produceMessages, uniqueTopic } from '../test/integration/kafka-helpers.ts'
import { spawnClickHouseHttpServer } from '../test/support/clickhouse-http/process.ts'
import { REPO_ROOT, spawnKeyshift, waitFor, writeConfig } from '../test/support/daemon.ts'
import { runBench } from './run.ts'

const EVENTS = Number(process.env.KEYSHIFT_BENCH_EVENTS ?? 1_000_000)
const PARTITIONS = Number(process.env.KEYSHIFT_BENCH_PARTITIONS ?? 8)
const BROKERS = process.env.KEYSHIFT_BENCH_BROKERS ?? '127.0.0.1:29092'

/**
 * A realistic ~300-byte Kong http-log record. As in a real Kong log, the key
 * (`consumer.custom_id`), its version, the address and the user agent belong
 * to the client (`consumer.username`): 3 001 clients on 400 keys, a quarter of
 * the clients still on v1, requests spread over routes and an hour of time.
 */
function record(i: number, now: number): string {
  const client = i % 3001
  const key = `key-${client % 400}`
  return JSON.stringify({
    request: {
      id: `r${i.toString(36)}`,
      method: i % 5 ? 'GET' : 'POST',
      uri: `/v1/orders/${i % 977}`,
      headers: { 'user-agent': `sdk-go/1.${client % 9}` },
    },
    response: { status: i % 50 === 0 ? 401 : 200 },
    consumer: { username: `client-${client}`, custom_id: `${key}:${client % 4 === 0 ? 'v1' : 'v2'}` },
    client_ip: `198.51.100.${client % 250}`,
    started_at: now - 3_600_000 + (i % 3_600_000),
    latencies: { request: 5 + (i % 90) },
  })
}

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024)

interface Rss {
  /** Peak resident set so far (VmHWM), bytes. */
  peak: number
  /** Resident now: anonymous memory, and file-backed pages (mapped code of Node and chDB). */
  anon: number
  file: number
}

function rssOf(pid: number): Rss {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024
    return { peak: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem') }
  } catch {
    return { peak: 0, anon: 0, file: 0 }
  }
}

/** The name and CPU seconds (user + system) in a /proc `stat` file. */
function readStat(path: string): { name: string; cpu: number } {
  const stat = readFileSync(path, 'utf8')
  // Fields after the parenthesised name: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
  return {
    name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    cpu: (Number(fields[11]) + Number(fields[12])) / 100,
  }
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  try {
    return readStat(`/proc/${pid}/stat`).cpu
  } catch {
    return Number.NaN
  }
}

/** CPU seconds per thread name (the main thread is named after the process). */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>()
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const { name, cpu } = readStat(`/proc/${pid}/task/${tid}/stat`)
      out.set(name, (out.get(name) ?? 0) + cpu)
    }
  } catch {
    // the process ended
  }
  return out
}

/** CPU seconds of every thread but the main one (the engine's, libuv's and V8's helpers). */
function sumOtherThreads(pid: number): number {
  let sum = 0
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`))
      if (Number(tid) !== pid) sum += readStat(`/proc/${pid}/task/${tid}/stat`).cpu
  } catch {
    // the process ended
  }
  return sum
}

/** CPU seconds the Kafka broker started by scripts/kafka.sh has used so far. */
function brokerCpu(): number {
  const dir =
    process.env.KEYSHIFT_KAFKA_STATE_DIR ?? process.env.KEYSHIFT_KAFKA_DIR ?? join(REPO_ROOT, '.kafka')
  try {
    return cpuSeconds(Number(readFileSync(join(dir, 'broker.pid'), 'utf8').trim()))
  } catch {
    return Number.NaN
  }
}
const µsPerEvent = (seconds: number, events: number) => `${((seconds / events) * 1e6).toFixed(1)} µs`

interface PeerResult extends ChildResult {
  consumers: number
}

/**
 * ClickHouse's own Kafka engine with a materialized view, in the same embedded
 * engine (bench/kafka-engine-peer.ts), reading the same records from a topic of
 * its own from the start. Rate from its first stored block to the last; CPU from
 * before it reads anything to the end, over every event (as keyshift's).
 */
async function kafkaEnginePeer(consumers: number, now: number): Promise<PeerResult> {
  const topic = uniqueTopic(`bench-peer-${consumers}`)
  await createTopic(BROKERS, topic, PARTITIONS)
  for (let from = 0; from < EVENTS; from += 100_000) {
    const batch = Array.from({ length: Math.min(100_000, EVENTS - from) }, (_, k) => ({
      value: record(from + k, now),
    }))
    await produceMessages(BROKERS, topic, batch)
  }
  const r = await runChild('bench/kafka-engine-peer.ts', [BROKERS, topic, String(EVENTS), String(consumers)])
  await deleteTopic(BROKERS, topic)
  return { consumers, ...r }
}

interface ChildResult {
  rate: number
  /** CPU seconds per event of the child process (all its threads). */
  cpuPerEvent: number
  peakRss: number
  /** CPU seconds per event the broker spent meanwhile. */
  brokerPerEvent: number
}

/**
 * Runs a consumer (bench/bare-consumer.ts, bench/kafka-engine-peer.ts) in its own
 * process until it prints its JSON line: rate from its first batch to the last,
 * its CPU over every event, and its peak RSS sampled from /proc.
 */
async function runChild(script: string, args: string[]): Promise<ChildResult> {
  const brokerAtStart = brokerCpu()
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, script), ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout!.on('data', (d) => {
    out += d
  })
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  let peak = 0
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(child.pid!).peak)
  }, 200)
  await waitFor(`${script} to read every event`, async () => out.includes('\n'), {
    timeoutMs: 600_000,
    intervalMs: 50,
  })
  clearInterval(sampler)
  peak = Math.max(peak, rssOf(child.pid!).peak)
  const brokerUsed = brokerCpu() - brokerAtStart
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as {
    stored: number
    firstCount: number
    seconds: number
    cpu: number
  }
  await exited
  return {
    rate: (r.stored - r.firstCount) / r.seconds,
    cpuPerEvent: r.cpu / EVENTS,
    peakRss: peak,
    brokerPerEvent: brokerUsed / EVENTS,
  }
}

/** An unlabelled sample's value in a Prometheus text exposition (NaN when absent). */
function metricValue(text: string, name: string): number {
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
}

/**
 * Records keyshift has stored, from the Kafka offsets it commits after each
 * stored batch: read from the broker, so polling costs the daemon nothing (a
 * /metrics scrape costs it ≈ 1.5 ms of CPU, which its figures would count).
 */
function storedCounter(
  groupId: string,
  topic: string,
): { stored(): Promise<number>; close(): Promise<void> } {
  const admin = new Kafka({
    brokers: [BROKERS],
    clientId: 'bench-offsets',
    logLevel: logLevel.NOTHING,
  }).admin()
  const connected = admin.connect()
  return {
    async stored() {
      await connected
      const [t] = await admin.fetchOffsets({ groupId, topics: [topic] })
      return (t?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0)
    },
    close: () => admin.disconnect(),
  }
}

interface KeyshiftRun {
  rate: number
  counted: number
  cpu: { keyshift: number; main: number; broker: number; store: number }
  threads: [string, number][]
  rss: Rss
  atMax: { anon: number; file: number }
  nodePeak: { heap: number; external: number }
}

/**
 * keyshift's daemon reading `topic` from the start into its store: the embedded
 * engine, or (`path` server) a ClickHouse server over HTTP, here the test-only
 * server in front of chDB (test/support/clickhouse-http/) in its own process.
 */
async function keyshiftRun(topic: string, path: 'embedded' | 'server'): Promise<KeyshiftRun> {
  const storeDir = path === 'server' ? mkdtempSync(join(tmpdir(), 'ks-bench-ch-')) : null
  const server = storeDir ? await spawnClickHouseHttpServer(storeDir) : null
  const dir = mkdtempSync(join(tmpdir(), 'ks-bench-ingest-'))
  const groupId = `ks-${path}-${topic}`
  const counter = storedCounter(groupId, topic)
  const port = 18_000 + Math.floor(Math.random() * 1000)
  const cfg = writeConfig(dir, {
    instance: 'bench',
    data_dir: join(dir, 'data'),
    log: { level: 'warn' },
    http: { port },
    kafka: { brokers: [BROKERS], group_id: groupId },
    ...(server ? { clickhouse: { url: server.url } } : {}),
    sources: [{ type: 'kafka', topic, decoder: { preset: 'kong', default_gateway: 'kong-bench' } }],
    secrets: { pepper: 'bench-pepper-0123456789abcdef' },
  })
  const profileDir = process.env.KEYSHIFT_BENCH_CPU_PROF
  const d = spawnKeyshift(['run', '-c', cfg], {}, [
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    ...(process.env.KEYSHIFT_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
  ])
  const url = `http://127.0.0.1:${port}`
  // Where the RSS goes: file-backed pages (mapped code) and anonymous memory from
  // /proc, and of the latter Node's heap and buffers from keyshift's own metrics
  // (the rest is the embedded engine).
  let rss: Rss = { peak: 0, anon: 0, file: 0 }
  let atMax = { anon: 0, file: 0 }
  const nodePeak = { heap: 0, external: 0 }
  const sampleRss = () => {
    const now = rssOf(d.proc.pid!)
    if (now.anon + now.file > atMax.anon + atMax.file) atMax = { anon: now.anon, file: now.file }
    rss = { ...now, peak: Math.max(rss.peak, now.peak) }
  }
  // RSS from /proc every 200 ms; Node's heap and buffers from /metrics once a
  // second (a scrape costs the daemon ≈ 1.5 ms of CPU, which the figures would count).
  const rssTimer = setInterval(sampleRss, 200)
  const heapTimer = setInterval(() => {
    void fetch(`${url}/metrics`)
      .then(async (r) => {
        const text = await r.text()
        nodePeak.heap = Math.max(nodePeak.heap, metricValue(text, 'nodejs_heap_size_total_bytes') || 0)
        nodePeak.external = Math.max(
          nodePeak.external,
          metricValue(text, 'nodejs_external_memory_bytes') || 0,
        )
      })
      .catch(() => {})
  }, 1_000)
  await waitFor('keyshift to serve /metrics', async () => (await fetch(`${url}/healthz`)).ok, {
    timeoutMs: 60_000,
  })
  // CPU is counted from here, before the first record is read (the sources start
  // after the HTTP server), to the end, over every event: counted from the first
  // stored batch instead, it would miss the records decoded before that batch
  // landed (tens of thousands on a loaded machine).
  const mainThread = () => cpuSeconds(d.proc.pid!) - sumOtherThreads(d.proc.pid!)
  const cpuAtStart = {
    store: server ? cpuSeconds(server.proc.pid!) : 0,
    keyshift: cpuSeconds(d.proc.pid!),
    main: mainThread(),
    broker: brokerCpu(),
    threads: threadCpu(d.proc.pid!),
  }
  if ((await counter.stored()) > 0) throw new Error('events were stored before the CPU baseline was taken')
  const first = await waitFor(
    'the first stored batch',
    async () => ((await counter.stored()) > 0 ? performance.now() : false),
    {
      timeoutMs: 120_000,
      intervalMs: 20,
    },
  )
  const firstCount = await counter.stored()
  const end = await waitFor(
    'all events stored',
    async () => ((await counter.stored()) >= EVENTS ? performance.now() : false),
    {
      timeoutMs: 600_000,
      intervalMs: 50,
    },
  )
  const cpuAtEnd = {
    store: server ? cpuSeconds(server.proc.pid!) : 0,
    keyshift: cpuSeconds(d.proc.pid!),
    main: mainThread(),
    broker: brokerCpu(),
    threads: threadCpu(d.proc.pid!),
  }
  sampleRss()
  clearInterval(rssTimer)
  clearInterval(heapTimer)
  const metrics = await (await fetch(`${url}/metrics`)).text()
  const metric = (name: string) => metricValue(metrics, name)
  const writes = metric('keyshift_store_write_seconds_count')
  console.log(
    `store writes: ${writes} group commits, ${(metric('keyshift_ingest_batch_events_sum') / writes).toFixed(0)} events each, ` +
      `${((metric('keyshift_store_write_seconds_sum') / writes) * 1000).toFixed(0)} ms each, ` +
      `${metric('keyshift_store_write_seconds_sum').toFixed(1)} s writing of ${((end - first) / 1000).toFixed(1)} s`,
  )
  console.log(
    `evaluations during the run: ${metric('keyshift_evaluation_duration_seconds_count')}, ` +
      `${metric('keyshift_evaluation_duration_seconds_sum').toFixed(1)} s in all`,
  )
  await d.kill('SIGTERM')
  await counter.close()
  if (process.env.KEYSHIFT_BENCH_DAEMON_LOG)
    writeFileSync(`${process.env.KEYSHIFT_BENCH_DAEMON_LOG}.${path}`, d.output())
  await server?.close()
  if (storeDir) rmSync(storeDir, { recursive: true, force: true })
  rmSync(dir, { recursive: true, force: true })
  const counted = EVENTS - firstCount
  const used = (name: keyof typeof cpuAtEnd & keyof typeof cpuAtStart) =>
    (cpuAtEnd[name] as number) - (cpuAtStart[name] as number)
  return {
    rate: counted / ((end - first) / 1000),
    counted,
    cpu: { keyshift: used('keyshift'), main: used('main'), broker: used('broker'), store: used('store') },
    threads: [...cpuAtEnd.threads]
      .map(([name, end]) => [name, end - (cpuAtStart.threads.get(name) ?? 0)] as [string, number])
      .filter(([, u]) => u > 0)
      .sort(([, x], [, y]) => y - x)
      .slice(0, 6),
    rss,
    atMax,
    nodePeak,
  }
}

async function main() {
  execFileSync('bash', [join(REPO_ROOT, 'scripts/kafka.sh'), 'start'], { stdio: 'inherit' })
  const topic = uniqueTopic('bench-ingest')
  await createTopic(BROKERS, topic, PARTITIONS)
  const now = Date.now()
  let bytes = 0
  const t0 = performance.now()
  for (let from = 0; from < EVENTS; from += 100_000) {
    const batch = Array.from({ length: Math.min(100_000, EVENTS - from) }, (_, k) => {
      const value = record(from + k, now)
      bytes += value.length
      return { value }
    })
    await produceMessages(BROKERS, topic, batch)
  }
  console.log(
    `produced ${EVENTS} events (${Math.round(bytes / EVENTS)} bytes avg) into ${PARTITIONS} partitions in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  )

  const bare = await runChild('bench/bare-consumer.ts', [BROKERS, topic, String(EVENTS), String(PARTITIONS)])
  console.log(
    `bare kafkajs consumer (JSON.parse only): ${Math.round(bare.rate)} events/s, ` +
      `${µsPerEvent(bare.cpuPerEvent * EVENTS, EVENTS)} CPU per event (${µsPerEvent(bare.brokerPerEvent * EVENTS, EVENTS)} in the broker), ` +
      `peak RSS ${mb(bare.peakRss)} MB`,
  )
  const peers: PeerResult[] = []
  if (process.env.KEYSHIFT_BENCH_PEER !== '0') {
    for (const consumers of [1, 2]) {
      const p = await kafkaEnginePeer(consumers, now)
      peers.push(p)
      console.log(
        `ClickHouse Kafka engine + materialized view, ${consumers} consumer(s): ${Math.round(p.rate)} events/s, ` +
          `${µsPerEvent(p.cpuPerEvent * EVENTS, EVENTS)} CPU per event, peak RSS ${mb(p.peakRss)} MB`,
      )
    }
  }

  const run = await keyshiftRun(topic, 'embedded')
  const serverRun = process.env.KEYSHIFT_BENCH_SERVER === '0' ? null : await keyshiftRun(topic, 'server')
  // 1M records are ≈ 300 MB of broker log; runs would otherwise pile them up.
  await deleteTopic(BROKERS, topic)
  const { rate, rss, atMax, nodePeak } = run
  console.log(
    `keyshift end-to-end (decode + secret scrub + exactly-once store): ${Math.round(rate)} events/s`,
  )
  console.log(
    `keyshift CPU per event: ${µsPerEvent(run.cpu.keyshift, EVENTS)} in keyshift ` +
      `(all threads: decoding, the embedded engine and its merges), ` +
      `${µsPerEvent(run.cpu.broker, EVENTS)} in the broker; ` +
      `the machine has ${availableParallelism()} cores`,
  )
  console.log(
    `  the main thread (JavaScript: fetch, decode, scrub, encode, GC): ${µsPerEvent(run.cpu.main, EVENTS)}`,
  )
  console.log(
    `  by thread: ${run.threads.map(([name, used]) => `${name} ${µsPerEvent(used, EVENTS)}`).join(', ')}`,
  )
  console.log(
    `ratio keyshift / bare consumer: rate ${(rate / bare.rate).toFixed(2)} (target ≥ 0.6), ` +
      `CPU per event ${(run.cpu.keyshift / EVENTS / bare.cpuPerEvent).toFixed(2)}, peak RSS ${(rss.peak / bare.peakRss).toFixed(2)}`,
  )
  const cpuPerEvent = run.cpu.keyshift / EVENTS
  for (const p of peers) {
    console.log(
      `ratio keyshift / Kafka engine (${p.consumers} consumer(s)): rate ${(rate / p.rate).toFixed(2)}` +
        `${p.consumers === 2 ? ' (target ≥ 0.8)' : ''}, CPU per event ${(cpuPerEvent / p.cpuPerEvent).toFixed(2)}` +
        `${p.consumers === 2 ? ' (target ≤ 1.5)' : ''}, peak RSS ${(rss.peak / p.peakRss).toFixed(2)}` +
        `${p.consumers === 2 ? ' (target ≤ 1)' : ''}`,
    )
  }
  console.log(
    `keyshift peak RSS: ${mb(rss.peak)} MB (target < 500 MB); at the highest sample ` +
      `${mb(atMax.file)} MB file-backed (mapped code) and ${mb(atMax.anon)} MB anonymous; at most ${mb(nodePeak.heap)} MB Node heap and ` +
      `${mb(nodePeak.external)} MB Node buffers, the rest the embedded engine`,
  )
  console.log(`target ≥ 50000 events/s: ${rate >= 50_000 ? 'met' : 'NOT met'}`)
  if (serverRun) {
    const n = EVENTS
    console.log(
      `keyshift on the server path (clickhouse.url, the test HTTP server in front of chDB): ${Math.round(serverRun.rate)} events/s; ` +
        `CPU per event ${µsPerEvent(serverRun.cpu.keyshift, n)} in keyshift (main thread ${µsPerEvent(serverRun.cpu.main, n)}: ` +
        `fetch, decode, scrub, encode, HTTP), ${µsPerEvent(serverRun.cpu.store, n)} in the store process ` +
        `(chDB behind a Node HTTP front, not a ClickHouse server's figure); peak RSS ${mb(serverRun.rss.peak)} MB ` +
        `(${mb(serverRun.atMax.file)} MB file-backed, ${mb(serverRun.atMax.anon)} MB anonymous, ` +
        `at most ${mb(serverRun.nodePeak.heap)} MB Node heap)`,
    )
  }
}

runBench(main)
