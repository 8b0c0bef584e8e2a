// The compose stack against keyshift itself: docker-compose accepts the file, and
// what the services are told agrees with what keyshift does with it. The mounted
// config loads through the real loader with the container's environment (secrets
// read from the demo files), Kafka topics, listener addresses, ports, paths and
// mounts line up across kafka-init, Vector, the simulator, Prometheus and Grafana.
// No Docker engine is needed: nothing here builds or starts a container.
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { probeUrl } from '../../src/cli/healthcheck.ts'
import { loadConfig } from '../../src/config/load.ts'
import type { Config } from '../../src/config/schema.ts'
import { createHttpServer } from '../../src/http/server.ts'
import { createFingerprinter, MIN_PEPPER_LENGTH } from '../../src/ingest/secrets/fingerprint.ts'
import { loadLifecycleFiles } from '../../src/registry/lifecycle-files.ts'
import { storyLifecycleYaml } from '../../src/scenario/simulator.ts'
import { silentLogger } from '../../src/telemetry/logger.ts'
import { createRegistry } from '../../src/telemetry/metrics.ts'
import { runKeyshift } from '../support/daemon.ts'

const execFileAsync = promisify(execFile)
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const composeFile = path.join(repoRoot, 'docker-compose.yml')

interface ComposeService {
  image?: string
  build?: string | { context: string }
  command?: string | string[]
  entrypoint?: string | string[]
  environment?: Record<string, string | number | null> | string[]
  volumes?: string[]
  ports?: string[]
  secrets?: (string | { source: string; target?: string })[]
  depends_on?: string[] | Record<string, { condition: string }>
  healthcheck?: { test?: string | string[]; disable?: boolean }
}

interface ComposeFile {
  services: Record<string, ComposeService>
  volumes?: Record<string, unknown>
  secrets?: Record<string, { file?: string }>
}

interface VectorConfig {
  sources: Record<string, { type: string; include?: string[] }>
  sinks: Record<
    string,
    {
      type: string
      inputs: string[]
      bootstrap_servers?: string
      topic?: string
      encoding?: { codec: string }
      compression?: string
    }
  >
}

interface Mount {
  /** A repo path for bind mounts ("./x"), else the named volume. */
  source: string
  bind: boolean
  target: string
  readOnly: boolean
}

/** The Compose CLI: Debian's `docker-compose`, else the `docker compose` plugin. Fails (never skips) when neither exists. */
async function composeCommand(): Promise<string[]> {
  const candidates = [['docker-compose'], ['docker', 'compose']]
  for (const cmd of candidates) {
    try {
      await execFileAsync(cmd[0]!, [...cmd.slice(1), 'version'], { timeout: 30_000 })
      return cmd
    } catch {
      // try the next one
    }
  }
  throw new Error(
    'neither `docker-compose` nor `docker compose` is available: apt-get install docker-compose ' +
      '(CI installs it in .ci/run); no Docker engine is needed to validate the file',
  )
}

function service(compose: ComposeFile, name: string): ComposeService {
  const s = compose.services[name]
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`)
  return s
}

function envOf(s: ComposeService): Record<string, string> {
  const out: Record<string, string> = {}
  if (Array.isArray(s.environment)) {
    for (const item of s.environment) {
      const i = item.indexOf('=')
      if (i > 0) out[item.slice(0, i)] = item.slice(i + 1)
    }
  } else {
    for (const [k, v] of Object.entries(s.environment ?? {})) if (v !== null) out[k] = String(v)
  }
  return out
}

function argv(v: string | string[] | undefined): string[] {
  if (v === undefined) return []
  return Array.isArray(v) ? v : v.split(/\s+/).filter(Boolean)
}

function mountsOf(s: ComposeService): Mount[] {
  return (s.volumes ?? []).map((spec) => {
    const [source = '', target = '', mode = ''] = spec.split(':')
    const bind = source.startsWith('.') || source.startsWith('/')
    return { source: bind ? path.resolve(repoRoot, source) : source, bind, target, readOnly: mode === 'ro' }
  })
}

/** Maps a path inside the container to the repo file bind-mounted there (file or directory mount). */
function hostPathOf(s: ComposeService, containerPath: string): string {
  for (const m of mountsOf(s)) {
    if (!m.bind) continue
    if (containerPath === m.target) return m.source
    if (containerPath.startsWith(`${m.target}/`))
      return path.join(m.source, containerPath.slice(m.target.length + 1))
  }
  throw new Error(`${containerPath} is not bind-mounted from the repository`)
}

function secretNames(s: ComposeService): string[] {
  return (s.secrets ?? []).map((x) => (typeof x === 'string' ? x : x.source))
}

/** The container's view of a `*_FILE` secret path, mapped to the repo's demo file. */
function secretFile(compose: ComposeFile, s: ComposeService, containerPath: string): string {
  const m = /^\/run\/secrets\/([\w.-]+)$/.exec(containerPath)
  if (!m) return hostPathOf(s, containerPath)
  const name = m[1]!
  expect(secretNames(s), `service must be granted secret ${name}`).toContain(name)
  const file = compose.secrets?.[name]?.file
  if (!file) throw new Error(`secret ${name} is not defined with a file in docker-compose.yml`)
  return path.resolve(repoRoot, file)
}

/** ENV of the Dockerfile's final stage (KEY=value pairs, with line continuations). */
function dockerfileEnv(): Record<string, string> {
  const text = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ')
  const lines = text.split('\n')
  let lastFrom = 0
  lines.forEach((l, i) => {
    if (/^FROM\s/i.test(l)) lastFrom = i
  })
  const out: Record<string, string> = {}
  for (const line of lines.slice(lastFrom)) {
    const m = /^ENV\s+(.*)$/i.exec(line.trim())
    if (!m) continue
    for (const pair of m[1]!.trim().split(/\s+/)) {
      const i = pair.indexOf('=')
      out[pair.slice(0, i)] = pair.slice(i + 1)
    }
  }
  return out
}

function publishedPorts(s: ComposeService): { host: number; container: number }[] {
  return (s.ports ?? []).map((p) => {
    const parts = String(p)
      .replace(/\/tcp$/, '')
      .split(':')
    return { host: Number(parts.at(-2)), container: Number(parts.at(-1)) }
  })
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]')
  return new RegExp(`^${escaped}$`)
}

function flagValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag)
  return i >= 0 ? args[i + 1] : undefined
}

describe('docker-compose.yml', () => {
  let compose: ComposeFile
  let keyshift: ComposeService
  let keyshiftEnv: Record<string, string>
  let config: Config

  beforeAll(() => {
    compose = parseYaml(readFileSync(composeFile, 'utf8')) as ComposeFile
    keyshift = service(compose, 'keyshift')
    // The container's environment: the image's ENV, overridden by the service's.
    const containerEnv = { ...dockerfileEnv(), ...envOf(keyshift) }
    keyshiftEnv = {}
    for (const [k, v] of Object.entries(containerEnv)) {
      keyshiftEnv[k] = k.endsWith('_FILE') ? secretFile(compose, keyshift, v) : v
    }
    const configPath = hostPathOf(keyshift, containerEnv.KEYSHIFT_CONFIG!)
    expect(configPath).toBe(path.join(repoRoot, 'deploy/keyshift.yaml'))
    config = loadConfig(configPath, keyshiftEnv)
  })

  it('is accepted by docker-compose config', async () => {
    const cmd = await composeCommand()
    const { stdout } = await execFileAsync(cmd[0]!, [...cmd.slice(1), '-f', composeFile, 'config'], {
      cwd: repoRoot,
      timeout: 60_000,
    })
    // execFile rejects on a non-zero exit; the normalised file lists every service.
    const normalised = parseYaml(stdout) as ComposeFile
    expect(Object.keys(normalised.services).sort()).toEqual([
      'clickhouse',
      'gateway-sim',
      'grafana',
      'kafka',
      'kafka-init',
      'keyshift',
      'log-shipper',
      'mailpit',
      'prometheus',
    ])
  })

  it('mounts a keyshift config that loads with the container environment and the demo secrets', () => {
    expect(keyshiftEnv.KEYSHIFT_CONFIG).toBe('/etc/keyshift/keyshift.yaml')
    expect(config.instance).toBe('keyshift-compose')
    expect(config.http.enabled).toBe(true)
    expect(config.http.host).toBe('0.0.0.0')
    expect(config.http.port).toBe(8080)
    expect(config.http.read_tokens).toHaveLength(1)
    expect(config.http.admin_tokens).toHaveLength(1)
    expect(config.clickhouse.url).toBe('http://clickhouse:8123')
    expect(config.clickhouse.database).toBe('keyshift')
    expect(config.kafka.brokers).toEqual(['kafka:9092'])
    expect(config.sources).toEqual([
      expect.objectContaining({
        type: 'kafka',
        topic: 'keyshift.auth-events',
        decoder: expect.objectContaining({ preset: 'kong' }),
      }),
    ])
    expect(config.data_dir).toBe('/var/lib/keyshift')
    expect(config.registry.files).toEqual(['/var/log/gateway/keys.yaml'])

    const pepper = config.secrets.pepper?.reveal() ?? ''
    expect(pepper).toBe(readFileSync(path.join(repoRoot, 'deploy/secrets/keyshift-pepper.txt'), 'utf8'))
    expect(pepper.length).toBeGreaterThanOrEqual(MIN_PEPPER_LENGTH)
    expect(pepper).toMatch(/NOT-A-SECRET/)
    expect(() => createFingerprinter(pepper)).not.toThrow()
  })

  it('gives keyshift the ClickHouse user, password and database that ClickHouse creates', () => {
    const clickhouse = service(compose, 'clickhouse')
    const chEnv = envOf(clickhouse)
    expect(config.clickhouse.username).toBe('keyshift')
    expect(chEnv.CLICKHOUSE_USER).toBe(config.clickhouse.username)
    expect(chEnv.CLICKHOUSE_DB).toBe(config.clickhouse.database)
    // Both read the same compose secret; ClickHouse through its entrypoint wrapper.
    expect(secretNames(clickhouse)).toContain('clickhouse_password')
    expect(argv(clickhouse.entrypoint).join(' ')).toContain('/run/secrets/clickhouse_password')
    expect(config.clickhouse.password?.reveal()).toBe(
      readFileSync(path.join(repoRoot, 'deploy/secrets/clickhouse-password.txt'), 'utf8'),
    )
    const url = new URL(config.clickhouse.url!)
    expect(url.hostname).toBe('clickhouse')
    expect(url.port).toBe('8123')
    expect(publishedPorts(clickhouse)).toEqual([{ host: 8123, container: 8123 }])
  })

  it('reads the key registry the gateway simulator writes, after it is written', async () => {
    const sim = service(compose, 'gateway-sim')
    const args = argv(sim.command)
    const out = args[args.indexOf('--lifecycle-out') + 1]
    expect(config.registry.files).toEqual([out])
    // Both services mount the same volume at the directory of that file; keyshift read-only.
    const simMount = mountsOf(sim).find((m) => out!.startsWith(`${m.target}/`))
    const ksMount = mountsOf(keyshift).find((m) => out!.startsWith(`${m.target}/`))
    expect(simMount?.source).toBe('gateway-logs')
    expect(ksMount?.source).toBe('gateway-logs')
    expect(ksMount?.readOnly).toBe(true)
    // keyshift starts only once the simulator reports the file written.
    expect(argv(sim.healthcheck?.test)).toEqual(['CMD', 'test', '-s', out])
    expect((keyshift.depends_on as Record<string, { condition: string }>)['gateway-sim']).toEqual({
      condition: 'service_healthy',
    })
    // What simulate writes there loads through the real registry loader.
    const dir = mkdtempSync(path.join(tmpdir(), 'ks-compose-keys-'))
    const file = path.join(dir, 'keys.yaml')
    writeFileSync(
      file,
      storyLifecycleYaml({ end: Date.parse('2026-01-03T00:00:00Z'), hours: 48, seed: 1, keys: 8 }),
    )
    const story = await loadLifecycleFiles([file], {
      fingerprint: createFingerprinter(config.secrets.pepper!.reveal()),
      now: Date.parse('2026-01-03T00:00:00Z'),
    })
    expect([...new Set(story.map((e) => e.keyId))]).toEqual(
      expect.arrayContaining(['acme-payments', 'globex-api']),
    )
  })

  it('ships deploy/keys.yaml as a valid example registry file', async () => {
    const files = [path.join(repoRoot, 'deploy/keys.yaml')]
    const events = await loadLifecycleFiles(files, {
      fingerprint: createFingerprinter(config.secrets.pepper!.reveal()),
      now: Date.parse('2026-01-01T00:00:00Z'),
    })
    expect(events).toHaveLength(13)
    expect([...new Set(events.map((e) => e.keyId))].sort()).toEqual([
      'acme-payments',
      'globex-billing',
      'initech-reports',
    ])
    expect(new Set(events.map((e) => e.eventId)).size).toBe(13)
  })

  it('creates exactly the topics keyshift consumes and produces, auth events over 6 partitions', () => {
    const init = service(compose, 'kafka-init')
    const script = [...argv(init.entrypoint), ...argv(init.command)].join('\n')
    const created = new Map<string, number>()
    for (const m of script.matchAll(/--topic\s+(\S+)\s+--partitions\s+(\d+)/g))
      created.set(m[1]!, Number(m[2]))
    expect(Object.fromEntries(created)).toEqual({
      'keyshift.auth-events': 6,
      'keyshift.key-lifecycle': 1,
      'keyshift.dead-letter': 1,
    })
    const sourceTopics = config.sources.flatMap((s) => (s.type === 'kafka' ? [s.topic] : []))
    expect(new Set(created.keys())).toEqual(
      new Set([...sourceTopics, config.kafka.lifecycle_topic, config.kafka.dead_letter_topic]),
    )
    expect(script).toContain('--bootstrap-server kafka:9092')
    expect(envOf(service(compose, 'kafka')).KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false')
  })

  it('runs Kafka as a KRaft single node whose listeners keyshift and Vector reach', () => {
    const kafka = service(compose, 'kafka')
    const env = envOf(kafka)
    expect(kafka.image).toBe('apache/kafka:4.1.1')
    expect(env.KAFKA_PROCESS_ROLES).toBe('broker,controller')
    expect(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR).toBe('1')
    expect(env.KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR).toBe('1')
    const advertised = Object.fromEntries(
      env.KAFKA_ADVERTISED_LISTENERS!.split(',').map((l) => {
        const [name, address] = l.split('://')
        return [name!, address!]
      }),
    )
    expect(advertised).toEqual({ INTERNAL: 'kafka:9092', EXTERNAL: 'localhost:9092' })
    // Containers use INTERNAL; the host reaches EXTERNAL (container port 19092) on localhost:9092.
    expect(config.kafka.brokers).toEqual([advertised.INTERNAL])
    expect(env.KAFKA_LISTENERS).toBe('INTERNAL://:9092,CONTROLLER://:9093,EXTERNAL://:19092')
    expect(publishedPorts(kafka)).toEqual([{ host: 9092, container: 19092 }])

    const shipper = service(compose, 'log-shipper')
    const vectorPath = hostPathOf(shipper, flagValue(argv(shipper.command), '--config')!)
    expect(vectorPath).toBe(path.join(repoRoot, 'deploy/vector.yaml'))
    const vector = parseYaml(readFileSync(vectorPath, 'utf8')) as VectorConfig
    const sinks = Object.values(vector.sinks).filter((s) => s.type === 'kafka')
    expect(sinks).toHaveLength(1)
    const sink = sinks[0]!
    expect(sink.topic).toBe('keyshift.auth-events')
    expect(config.sources).toContainEqual(expect.objectContaining({ type: 'kafka', topic: sink.topic }))
    expect(sink.bootstrap_servers!.split(',')).toEqual([advertised.INTERNAL])
    // The raw line, unchanged, so keyshift's kong decoder sees the gateway's JSON.
    expect(sink.encoding).toEqual({ codec: 'text' })
    // kafkajs decodes gzip (and uncompressed) batches without extra codecs.
    expect(sink.compression).toBe('gzip')
    expect(sink.inputs.every((i) => vector.sources[i]?.type === 'file')).toBe(true)
  })

  it('tails exactly the log file the gateway simulator writes, through a shared volume', () => {
    const sim = service(compose, 'gateway-sim')
    const shipper = service(compose, 'log-shipper')
    const args = argv(sim.command)
    expect(args.slice(0, 3)).toEqual(['node', 'bin/keyshift.js', 'simulate'])
    expect(flagValue(args, '--preset')).toBe('kong')
    expect(config.sources[0]?.decoder.preset).toBe(flagValue(args, '--preset'))
    expect(flagValue(args, '--rate')).toBe('50')
    const out = flagValue(args, '--out')!
    expect(out).toBe('/var/log/gateway/kong.log')

    const simMount = mountsOf(sim).find((m) => !m.bind && out.startsWith(`${m.target}/`))
    expect(simMount).toEqual({
      source: 'gateway-logs',
      bind: false,
      target: '/var/log/gateway',
      readOnly: false,
    })
    const shipperMount = mountsOf(shipper).find((m) => m.source === simMount!.source)
    expect(shipperMount).toEqual({
      source: 'gateway-logs',
      bind: false,
      target: '/var/log/gateway',
      readOnly: true,
    })
    expect(compose.volumes).toHaveProperty('gateway-logs')

    const seenByShipper = path.posix.join(shipperMount!.target, path.posix.relative(simMount!.target, out))
    const vector = parseYaml(readFileSync(path.join(repoRoot, 'deploy/vector.yaml'), 'utf8')) as VectorConfig
    const includes = Object.values(vector.sources).flatMap((s) =>
      s.type === 'file' ? (s.include ?? []) : [],
    )
    expect(includes).toEqual(['/var/log/gateway/*.log'])
    expect(includes.some((g) => globToRegExp(g).test(seenByShipper))).toBe(true)
    // Same image as the daemon; healthy once it has written the key registry.
    expect(sim.image).toBe(keyshift.image)
    expect(sim.healthcheck).toEqual({
      test: ['CMD', 'test', '-s', '/var/log/gateway/keys.yaml'],
      interval: '2s',
      timeout: '2s',
      retries: 30,
    })
  })

  it('publishes keyshift on its configured port with a healthcheck that probes that port', async () => {
    expect(publishedPorts(keyshift)).toEqual([{ host: 8080, container: config.http.port }])
    // Compose and the image's own HEALTHCHECK run the same command, which reads the
    // container's configuration: the probe follows http.port wherever it is set.
    const probe = ['CMD', 'node', 'bin/keyshift.js', 'healthcheck']
    expect(argv(keyshift.healthcheck?.test)).toEqual(probe)
    expect(readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8')).toContain(
      `CMD ${JSON.stringify(probe.slice(1)).replace(/,/g, ', ')}`,
    )
    expect(probeUrl(config.http.host, config.http.port)).toBe(`http://127.0.0.1:${config.http.port}/healthz`)

    const http = createHttpServer({ logger: silentLogger(), registry: createRegistry(), checks: [] })
    try {
      const res = await http.inject({ method: 'GET', url: '/healthz' })
      expect(res.statusCode).toBe(200)
      expect(res.json()).toEqual({ status: 'ok' })
    } finally {
      await http.close()
    }
  })

  it('keyshift healthcheck exits 0 while the configured port answers /healthz, 1 once it does not', async () => {
    const http = createHttpServer({ logger: silentLogger(), registry: createRegistry(), checks: [] })
    await http.listen({ host: '127.0.0.1', port: 0 })
    const port = (http.server.address() as { port: number }).port
    const env = { KEYSHIFT_CONFIG: '', KEYSHIFT_HTTP__HOST: '0.0.0.0', KEYSHIFT_HTTP__PORT: String(port) }
    try {
      const up = await runKeyshift(['healthcheck'], { env })
      expect({ code: up.code, stderr: up.stderr }).toEqual({ code: 0, stderr: '' })
    } finally {
      await http.close()
    }
    const down = await runKeyshift(['healthcheck'], { env })
    expect(down.code).toBe(1)
    expect(down.stderr).toBe(
      `keyshift healthcheck: http://127.0.0.1:${port}/healthz unreachable (ECONNREFUSED)\n`,
    )
  })

  it('starts keyshift only once Kafka, its topics, ClickHouse and the key registry are ready', () => {
    expect(keyshift.build).toBe('.')
    expect(keyshift.depends_on).toEqual({
      kafka: { condition: 'service_healthy' },
      'kafka-init': { condition: 'service_completed_successfully' },
      clickhouse: { condition: 'service_healthy' },
      'gateway-sim': { condition: 'service_healthy' },
    })
    expect(service(compose, 'kafka').healthcheck?.test).toBeDefined()
    expect(service(compose, 'clickhouse').healthcheck?.test).toBeDefined()
    const data = mountsOf(keyshift).find((m) => !m.bind && m.source === 'keyshift-data')
    expect(data).toEqual({ source: 'keyshift-data', bind: false, target: config.data_dir, readOnly: false })
  })

  it('scrapes keyshift from Prometheus at the address compose gives it', () => {
    const prom = service(compose, 'prometheus')
    const promConfigPath = hostPathOf(prom, '/etc/prometheus/prometheus.yml')
    expect(promConfigPath).toBe(path.join(repoRoot, 'prometheus/prometheus.yml'))
    expect(argv(prom.command)).toContain('--config.file=/etc/prometheus/prometheus.yml')
    const promConfig = parseYaml(readFileSync(promConfigPath, 'utf8')) as {
      rule_files: string[]
      scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[]
    }
    const job = promConfig.scrape_configs.find((j) => j.job_name === 'keyshift')!
    expect(job.metrics_path).toBe('/metrics')
    expect(job.static_configs.flatMap((c) => c.targets)).toEqual([`keyshift:${config.http.port}`])
    expect(promConfig.rule_files).toEqual(['keyshift-rules.yml'])
    expect(existsSync(path.join(repoRoot, 'prometheus', 'keyshift-rules.yml'))).toBe(true)
    expect(publishedPorts(prom)).toEqual([{ host: 9090, container: 9090 }])
  })

  it('provisions Grafana from the repository with the ClickHouse plugin', () => {
    const grafana = service(compose, 'grafana')
    const env = envOf(grafana)
    expect(env.GF_INSTALL_PLUGINS).toBe('grafana-clickhouse-datasource')
    const binds = mountsOf(grafana).filter((m) => m.bind)
    expect(binds).toEqual([
      {
        source: path.join(repoRoot, 'grafana/provisioning'),
        bind: true,
        target: '/etc/grafana/provisioning',
        readOnly: true,
      },
      {
        source: path.join(repoRoot, 'grafana/dashboards'),
        bind: true,
        target: '/var/lib/grafana/dashboards',
        readOnly: true,
      },
    ])
    for (const b of binds)
      expect(existsSync(b.source) && statSync(b.source).isDirectory(), `${b.source} exists`).toBe(true)
    expect(env.CLICKHOUSE_USER).toBe(config.clickhouse.username)
    expect(env.CLICKHOUSE_DATABASE).toBe(config.clickhouse.database)
    expect(secretNames(grafana)).toContain('clickhouse_password')
    expect(publishedPorts(grafana)).toEqual([{ host: 3000, container: 3000 }])
  })

  it('runs Mailpit with SMTP on 1025 and its UI on 8025', () => {
    const mailpit = service(compose, 'mailpit')
    expect(mailpit.image).toMatch(/^axllent\/mailpit:/)
    expect(publishedPorts(mailpit)).toEqual([
      { host: 1025, container: 1025 },
      { host: 8025, container: 8025 },
    ])
  })

  it('binds every host port to loopback and every bind mount to a file in the repository', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const p of s.ports ?? []) expect(String(p), `${name} port ${p}`).toMatch(/^127\.0\.0\.1:\d+:\d+$/)
      for (const m of mountsOf(s)) {
        if (m.bind) expect(existsSync(m.source), `${name} mounts ${m.source}`).toBe(true)
        else expect(compose.volumes, `${name} uses volume ${m.source}`).toHaveProperty(m.source)
      }
      for (const secret of secretNames(s)) {
        const file = compose.secrets?.[secret]?.file
        expect(file && existsSync(path.resolve(repoRoot, file)), `${name} secret ${secret}`).toBeTruthy()
      }
    }
  })
})
