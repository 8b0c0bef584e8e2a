import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../domain/errors.ts'
import { applyEnvOverrides, loadConfig, parseConfig } from './load.ts'

const dir = mkdtempSync(join(tmpdir(), 'ks-config-'))
function file(name: string, text: string): string {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}

describe('configuration', () => {
  it('fills every default and freezes the result', () => {
    const c = parseConfig({})
    expect(c.ingest).toEqual({
      batch_max_events: 10_000,
      batch_max_wait_ms: 500,
      max_buffered_events: 100_000,
      retry_base_ms: 200,
      retry_max_ms: 10_000,
      heartbeat_interval_ms: 5_000,
    })
    expect(c.http.port).toBe(8080)
    expect(c.clickhouse.url).toBeUndefined()
    expect(Object.isFrozen(c.ingest)).toBe(true)
  })

  it('takes the duration grammar in every *_ms field, from the file and the environment', () => {
    const path = file('durations.yaml', 'ingest:\n  batch_max_wait_ms: 1500ms\n  heartbeat_interval_ms: 2s\n')
    const c = loadConfig(path, { KEYSHIFT_INGEST__RETRY_MAX_MS: '1m30s' })
    expect(c.ingest.batch_max_wait_ms).toBe(1_500)
    expect(c.ingest.heartbeat_interval_ms).toBe(2_000)
    expect(c.ingest.retry_max_ms).toBe(90_000)
    const files = parseConfig({
      sources: [
        { type: 'file', path: '/x.log', decoder: { preset: 'canonical' }, poll_interval_ms: '250ms' },
      ],
    })
    expect(files.sources[0]).toMatchObject({ poll_interval_ms: 250 })
  })

  it('names the *_ms field whose duration is outside the grammar', () => {
    expect(() => parseConfig({ ingest: { batch_max_wait_ms: '2 seconds' } }, 'keyshift.yaml')).toThrow(
      'invalid configuration (keyshift.yaml):\n  - ingest.batch_max_wait_ms: "2 seconds" is not a duration; write e.g. 500ms, 90s, 15m, 1h30m, 24h or 7d, or a number of milliseconds',
    )
  })

  it('applies KEYSHIFT_SECTION__FIELD overrides as YAML scalars and *_FILE secrets', () => {
    const secret = file('pw', 's3cret-value\n')
    const c = loadConfig(undefined, {
      KEYSHIFT_INGEST__BATCH_MAX_EVENTS: '500',
      KEYSHIFT_KAFKA__BROKERS: '[k1:9092, k2:9092]',
      KEYSHIFT_CLICKHOUSE__PASSWORD_FILE: secret,
      KEYSHIFT_INSTANCE: 'eu-1',
      KEYSHIFT_KAFKA_PORT: '39092',
    })
    expect(c.ingest.batch_max_events).toBe(500)
    expect(c.kafka.brokers).toEqual(['k1:9092', 'k2:9092'])
    expect(c.clickhouse.password?.reveal()).toBe('s3cret-value')
    expect(c.instance).toBe('eu-1')
  })

  it('never prints secrets', () => {
    const c = parseConfig({
      secrets: { pepper: 'pepper-0123456789abcdef' },
      http: { admin_tokens: ['tok-abc'] },
    })
    const text = JSON.stringify(c)
    expect(text).not.toContain('pepper-0123456789abcdef')
    expect(text).not.toContain('tok-abc')
    expect(text).toContain('[redacted]')
  })

  it('rejects unknown keys and bad values, naming the field and the fix', () => {
    const p = file(
      'bad.yaml',
      'ingest:\n  batch_max: 5\nhttp:\n  port: eighty\nsources:\n  - type: file\n    decoder: { preset: kong }\n',
    )
    let err: unknown
    try {
      loadConfig(p, {})
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    const msg = (err as Error).message
    expect(msg).toContain(`invalid configuration (${p} + environment):`)
    expect(msg).toContain('ingest: unknown key(s) "batch_max"; remove them or check the spelling')
    expect(msg).toContain('http.port:')
    expect(msg).toContain('sources.0.path:')
  })

  it('rejects a mapping decoder without a mapping', () => {
    expect(() => parseConfig({ sources: [{ type: 'stdin', decoder: { preset: 'mapping' } }] })).toThrow(
      /sources\.0\.decoder\.mapping: preset "mapping" needs a mapping section/,
    )
  })

  it('rejects a buffer bound below the batch size', () => {
    expect(() => parseConfig({ ingest: { batch_max_events: 20_000, max_buffered_events: 5_000 } })).toThrow(
      /ingest\.max_buffered_events: is 5000, below batch_max_events \(20000\); raise it to at least 20000 or lower batch_max_events/,
    )
  })

  it('says which environment variable is unreadable', () => {
    expect(() => loadConfig(undefined, { KEYSHIFT_SECRETS__PEPPER_FILE: join(dir, 'missing') })).toThrow(
      /KEYSHIFT_SECRETS__PEPPER_FILE: cannot read file/,
    )
  })

  it('keeps long digit strings as strings', () => {
    expect(applyEnvOverrides({}, { KEYSHIFT_INSTANCE: '00123' })).toEqual({ instance: '00123' })
  })

  describe('errors that touch secrets', () => {
    const CANARY = 'sk_live_CANARYcfg7Qx9Zt3Lm5Np8Rv2'
    const fail = (f: () => unknown): ConfigError => {
      try {
        f()
      } catch (e) {
        return e as ConfigError
      }
      throw new Error('expected a ConfigError')
    }

    it('names KEYSHIFT_HTTP__ADMIN_TOKENS when its list is malformed, without the tokens', () => {
      const err = fail(() => loadConfig(undefined, { KEYSHIFT_HTTP__ADMIN_TOKENS: `{tok: ${CANARY}, ` }))
      expect(err).toBeInstanceOf(ConfigError)
      expect(err.message).toBe(
        'KEYSHIFT_HTTP__ADMIN_TOKENS: not a valid YAML value (Flow map must end with a }); quote it, or write a list as [a, b]',
      )
      expect(err.cause).toBeUndefined()
    })

    it('takes KEYSHIFT_SECRETS__PEPPER as written: YAML syntax in a secret is not an error', () => {
      const c = loadConfig(undefined, { KEYSHIFT_SECRETS__PEPPER: `[${CANARY}` })
      expect(c.secrets.pepper?.reveal()).toBe(`[${CANARY}`)
      const digits = loadConfig(undefined, { KEYSHIFT_SECRETS__PEPPER: '000123456789012345678' })
      expect(digits.secrets.pepper?.reveal()).toBe('000123456789012345678')
    })

    it('names the variable beside the field when a value from the environment is invalid', () => {
      const err = fail(() =>
        loadConfig(undefined, {
          KEYSHIFT_SECRETS__PEPPER: '',
          KEYSHIFT_HTTP__ADMIN_TOKENS: `[${CANARY}, ""]`,
        }),
      )
      expect(err.message).toBe(
        'invalid configuration (environment):\n' +
          '  - http.admin_tokens.1 (KEYSHIFT_HTTP__ADMIN_TOKENS): must not be empty\n' +
          '  - secrets.pepper (KEYSHIFT_SECRETS__PEPPER): must not be empty',
      )
    })

    it('reports a YAML syntax error by line and column, never quoting the line', () => {
      const p = file('token-line.yaml', `http:\n  admin_tokens: [${CANARY}\n  port: 1\n`)
      const err = fail(() => loadConfig(p, {}))
      expect(err.message).toBe(
        `config file ${p} is not valid YAML at line 3, column 3: Flow sequence in block collection must be sufficiently indented and end with a ]`,
      )
      expect(err.cause).toBeUndefined()
    })

    it('names the field, never the value, when a secret has the wrong shape', () => {
      const err = fail(() => parseConfig({ http: { admin_tokens: CANARY, read_tokens: [CANARY, 5] } }))
      expect(err.message).toBe(
        'invalid configuration (config):\n' +
          '  - http.read_tokens.1: Invalid input: expected string, received number\n' +
          '  - http.admin_tokens: Invalid input: expected array, received string',
      )
    })
  })
})
