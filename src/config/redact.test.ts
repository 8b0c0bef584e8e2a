import { describe, expect, it } from 'vitest'
import { parseConfig } from './load.ts'
import { isSecretPath, printableConfig, redactUrl, redactValues, secretValues } from './redact.ts'
import { configSchema } from './schema.ts'

describe('secret fields, read from the schema', () => {
  const TABLE: [string, (string | number)[], boolean][] = [
    ['the pepper', ['secrets', 'pepper'], true],
    ['the admin token list', ['http', 'admin_tokens'], true],
    ['one admin token', ['http', 'admin_tokens', 0], true],
    ['one read token', ['http', 'read_tokens', 3], true],
    ['the ClickHouse password', ['clickhouse', 'password'], true],
    ['the Kafka SASL password', ['kafka', 'sasl', 'password'], true],
    ['a webhook receiver URL', ['alerting', 'receivers', 'ops', 'url'], true],
    ['a webhook signing secret', ['alerting', 'receivers', 'ops', 'secret'], true],
    ['an SMTP password', ['alerting', 'receivers', 'mail', 'password'], true],
    ['the HTTP port', ['http', 'port'], false],
    ['the ClickHouse URL (redacted as a URL instead)', ['clickhouse', 'url'], false],
    ['the Kafka SASL username', ['kafka', 'sasl', 'username'], false],
    ['a secret field path list (names, not secrets)', ['secrets', 'fields', 0], false],
    ['an unknown field', ['http', 'nope'], false],
  ]
  it('tells each field apart', () => {
    expect(TABLE.map(([name, path]) => [name, isSecretPath(configSchema, path)])).toEqual(
      TABLE.map(([name, , secret]) => [name, secret]),
    )
  })

  it('collects the secret values of a document, and nothing else', () => {
    const doc = {
      http: { port: 'tok-not-secret', admin_tokens: ['tok-a', 'tok-b'] },
      secrets: { pepper: 'pep-1', fields: ['body.key'] },
      clickhouse: { password: 'pw-1', username: 'user-1' },
    }
    expect(secretValues(configSchema, doc).sort()).toEqual(['pep-1', 'pw-1', 'tok-a', 'tok-b'])
  })
})

describe('redactValues', () => {
  it('replaces every occurrence, longer secrets first so a prefix leaves no tail', () => {
    expect(redactValues('a tok-1 b tok-12 c tok-1', ['tok-1', 'tok-12'])).toBe(
      'a [redacted] b [redacted] c [redacted]',
    )
    expect(redactValues('nothing here', [])).toBe('nothing here')
  })
})

describe('URL redaction', () => {
  const TABLE: [string, string][] = [
    ['http://user:hunter2@db.example:8123', 'http://[redacted]@db.example:8123/'],
    ['https://user@db.example/', 'https://[redacted]@db.example/'],
    ['http://db.example:8123/?user=u&password=hunter2', 'http://db.example:8123/?user=u&password=[redacted]'],
    ['https://hooks.example/x?token=abc&x=1', 'https://hooks.example/x?token=[redacted]&x=1'],
    ['http://db.example:8123', 'http://db.example:8123'],
    ['not a url', 'not a url'],
  ]
  it('removes userinfo and credential query values', () => {
    expect(TABLE.map(([url]) => redactUrl(url))).toEqual(TABLE.map(([, want]) => want))
  })

  it('config check --print shows no password inside clickhouse.url', () => {
    const c = parseConfig({
      clickhouse: { url: 'http://keyshift:hunter2-CANARY@ch.internal:8123' },
      secrets: { pepper: 'pepper-CANARY-0123456789' },
    })
    const text = printableConfig(c)
    expect(text).not.toContain('CANARY')
    expect(JSON.parse(text).clickhouse.url).toBe('http://[redacted]@ch.internal:8123/')
    expect(JSON.parse(text).secrets.pepper).toBe('[redacted]')
  })
})
