// The shipped Prometheus rules and config, checked by Prometheus' own promtool:
// syntax (check rules / check config) and behaviour (the unit tests in
// prometheus/keyshift-rules.test.yml). Also checks the rules' conventions, that
// the unit tests cover every alert both firing and silent, and that the metrics
// they query are the ones keyshift declares.
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { freePort, spawnKeyshift, waitFor, writeConfig } from '../support/daemon.ts'
import { kongLine } from '../support/records.ts'

const execFileAsync = promisify(execFile)
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const rulesFile = 'prometheus/keyshift-rules.yml'
const configFile = 'prometheus/prometheus.yml'
const unitTestFile = 'prometheus/keyshift-rules.test.yml'

interface Rule {
  record?: string
  alert?: string
  expr: string
  for?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}

interface UnitTests {
  rule_files: string[]
  tests: {
    name: string
    alert_rule_test?: { alertname: string; eval_time: string; exp_alerts?: unknown[] }[]
    promql_expr_test?: { expr: string }[]
  }[]
}

const ALERTS = [
  'KeyshiftDown',
  'KeyshiftIngestStalled',
  'KeyshiftIngestLagging',
  'KeyshiftDeadLetterRateHigh',
  'KeyshiftStoreWriteErrors',
  'KeyshiftStoreRejectingWrites',
  'KeyshiftNotificationsFailing',
  'KeyshiftEvaluationFailing',
  'KeyshiftPlacesSilent',
]

/** Where every alert's runbook_url points (with the alert's anchor). */
const RUNBOOKS = 'https://github.com/keyshift/keyshift/blob/main/docs/runbooks.md'

interface Run {
  code: number
  output: string
}

/** Runs promtool in the repo root. Fails (never skips) when promtool is not installed. */
async function promtool(...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync('promtool', args, { cwd: repoRoot, timeout: 120_000 })
    return { code: 0, output: stdout + stderr }
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { code?: number | string; stdout?: string; stderr?: string }
    if (e.code === 'ENOENT') {
      throw new Error(
        'promtool is not installed: apt-get install prometheus (Debian ships promtool in that package; ' +
          'CI installs it in .ci/run)',
      )
    }
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

/** Feeds `input` to `promtool check metrics` (which reads an exposition on stdin). */
async function promtoolCheckMetrics(input: string): Promise<Run> {
  const proc = spawn('promtool', ['check', 'metrics'], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] })
  let output = ''
  proc.stdout.on('data', (d) => {
    output += d
  })
  proc.stderr.on('data', (d) => {
    output += d
  })
  const code = new Promise<number>((resolve, reject) => {
    proc.on('error', reject)
    proc.on('exit', (c) => resolve(c ?? -1))
  })
  proc.stdin.end(input)
  return { code: await code, output }
}

function rules(): Rule[] {
  const doc = parseYaml(readFileSync(path.join(repoRoot, rulesFile), 'utf8')) as {
    groups: { rules: Rule[] }[]
  }
  return doc.groups.flatMap((g) => g.rules)
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name)
    if (statSync(full).isDirectory()) return sourceFiles(full)
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [full] : []
  })
}

describe('Prometheus rules (promtool)', () => {
  it('promtool check rules accepts the rule file', async () => {
    const run = await promtool('check', 'rules', rulesFile)
    expect(run.output).toContain(`Checking ${rulesFile}`)
    expect(run.output).toContain(`SUCCESS: ${rules().length} rules found`)
    expect(run.output).not.toMatch(/duplicate|WARNING|FAILED/i)
    expect(run.code, run.output).toBe(0)
  })

  it('promtool check config accepts prometheus.yml and the rule file it references', async () => {
    // check config resolves rule_files relative to the config file (prometheus/).
    const run = await promtool('check', 'config', configFile)
    expect(run.output).toContain(`SUCCESS: ${configFile} is valid prometheus config file syntax`)
    expect(run.output).toContain('SUCCESS: 1 rule files found')
    expect(run.output).toContain(`Checking ${rulesFile}`)
    expect(run.code, run.output).toBe(0)
  })

  it('promtool test rules passes every unit test', async () => {
    const run = await promtool('test', 'rules', unitTestFile)
    expect(run.output).toContain(`Unit Testing:  ${unitTestFile}`)
    expect(run.output).toMatch(/^\s+SUCCESS\s*$/m)
    expect(run.output).not.toContain('FAILED')
    expect(run.code, run.output).toBe(0)
  })
})

describe('Prometheus rules (conventions and coverage)', () => {
  const all = rules()
  const alerts = all.filter((r) => r.alert)
  const recordings = all.filter((r) => r.record)

  it('defines exactly the documented alerts', () => {
    expect([...new Set(alerts.map((a) => a.alert))]).toEqual(ALERTS)
  })

  it('gives every alert a duration, a severity, a summary, a description and an absolute runbook_url', () => {
    const runbooks = readFileSync(path.join(repoRoot, 'docs/runbooks.md'), 'utf8')
    for (const a of alerts) {
      expect(a.for, `${a.alert} for`).toMatch(/^\d+[smh]$/)
      expect(['critical', 'warning'], `${a.alert} severity`).toContain(a.labels?.severity)
      expect(a.annotations?.summary, `${a.alert} summary`).toBeTruthy()
      expect(a.annotations?.description, `${a.alert} description`).toBeTruthy()
      expect(a.annotations?.runbook_url).toBe(`${RUNBOOKS}#${a.alert!.toLowerCase()}`)
      expect(a.annotations?.runbook, `${a.alert} has no relative runbook`).toBeUndefined()
      // GitHub's anchor for "## KeyshiftDown" is #keyshiftdown.
      expect(runbooks, `docs/runbooks.md has a section for ${a.alert}`).toContain(`\n## ${a.alert}\n`)
    }
  })

  it('names recording rules level:metric:operations', () => {
    expect(recordings.map((r) => r.record)).toEqual([
      'keyshift:events_ingested:rate5m',
      'keyshift:events_rejected:rate5m',
      'keyshift:events_rejected:ratio_rate5m',
      'keyshift:kafka_consumer_lag_messages:sum',
      'keyshift:store_write_seconds:p99_rate5m',
      'keyshift:evaluation_duration_seconds:p99_rate5m',
      'keyshift:notifications_sent:rate5m',
      'keyshift:notification_failures:rate5m',
    ])
  })

  it('unit-tests every alert firing and silent, and every recording rule by value', () => {
    const doc = parseYaml(readFileSync(path.join(repoRoot, unitTestFile), 'utf8')) as UnitTests
    expect(doc.rule_files).toEqual(['keyshift-rules.yml'])
    const cases = doc.tests.flatMap((t) => t.alert_rule_test ?? [])
    for (const name of ALERTS) {
      const mine = cases.filter((c) => c.alertname === name)
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${name} has a test where it fires`,
      ).toBe(true)
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${name} has a test where it stays silent`,
      ).toBe(true)
    }
    const healthy = doc.tests.find((t) => t.name === 'healthy instance')!
    expect(new Set((healthy.alert_rule_test ?? []).map((c) => c.alertname))).toEqual(new Set(ALERTS))
    const tested = new Set(doc.tests.flatMap((t) => (t.promql_expr_test ?? []).map((e) => e.expr.trim())))
    for (const r of recordings) expect(tested, `${r.record} has a promql_expr_test`).toContain(r.record)
  })

  it('queries only metrics keyshift declares', () => {
    const declared = new Set<string>()
    for (const file of sourceFiles(path.join(repoRoot, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/name:\s*'(keyshift_[a-z0-9_]+)'/g))
        declared.add(m[1]!)
    }
    const queried = new Set<string>()
    for (const r of all) {
      for (const m of r.expr.matchAll(/\b(keyshift_[a-z0-9_]+)/g))
        queried.add(m[1]!.replace(/_(bucket|count|sum)$/, ''))
    }
    expect([...queried].filter((m) => !declared.has(m))).toEqual([])
  })
})

describe('/metrics of a running daemon', () => {
  it('passes promtool check metrics, with standard process_ and nodejs_ names', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ks-promtool-'))
    const log = path.join(dir, 'kong.log')
    const now = Date.now()
    writeFileSync(
      log,
      Array.from({ length: 50 }, (_, i) => `${kongLine({ i, time: now - 60_000 + i })}\n`).join('') +
        'not json\n',
    )
    const port = await freePort()
    const cfg = writeConfig(dir, {
      data_dir: path.join(dir, 'data'),
      log: { level: 'warn' },
      http: { port },
      sources: [{ type: 'file', path: log, decoder: { preset: 'kong' }, poll_interval_ms: 50 }],
      ingest: { batch_max_wait_ms: 100, heartbeat_interval_ms: 200 },
      analysis: { evaluation_interval_ms: 200 },
      secrets: { pepper: 'promtool-pepper-0123456789' },
    })
    const d = spawnKeyshift(['run', '-c', cfg])
    const url = `http://127.0.0.1:${port}/metrics`
    try {
      // Scraped once ingest, dead-lettering and evaluation have all recorded samples.
      const text = await waitFor(
        'a scrape with stored events, a dead letter and an evaluation',
        async () => {
          const t = await fetch(url)
            .then((r) => r.text())
            .catch(() => '')
          return /keyshift_events_ingested_total\{[^}]*\} 50\n/.test(t) &&
            /keyshift_events_rejected_total\{[^}]*\} 1\n/.test(t) &&
            /keyshift_evaluation_duration_seconds_count [1-9]/.test(t)
            ? t
            : undefined
        },
        { timeoutMs: 90_000 },
      )
      const run = await promtoolCheckMetrics(text)
      expect(run.output).toBe('')
      expect(run.code).toBe(0)
      expect(text).toMatch(/^process_cpu_seconds_total \d/m)
      expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m)
      expect(text).toMatch(/^keyshift_store_query_errors_total\{retriable="false"\} 0$/m)
      expect(text).not.toContain('keyshift_process_')
      expect(text).not.toMatch(/^# TYPE \S+_total gauge$/m)
    } finally {
      expect(await d.kill('SIGTERM')).toBe(0)
    }
  })
})
