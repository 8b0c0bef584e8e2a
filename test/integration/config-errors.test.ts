// What an operator sees when configuration or the store is wrong, from the
// real CLI: the message names the variable or field, fits on one line where it
// is one problem, and never prints a secret, a line of the file or a stack.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runKeyshift } from '../support/daemon.ts'

const CANARY = 'sk_live_CANARYcli7Qx9Zt3Lm5Np8Rv2'
const dir = mkdtempSync(join(tmpdir(), 'ks-config-errors-'))
const file = (name: string, text: string) => {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}
const clean = { KEYSHIFT_CONFIG: '' }

describe('configuration errors from the CLI', () => {
  it('names KEYSHIFT_HTTP__ADMIN_TOKENS when it is malformed, without printing it', async () => {
    const r = await runKeyshift(['config', 'check'], {
      env: { ...clean, KEYSHIFT_HTTP__ADMIN_TOKENS: `[${CANARY}, {` },
    })
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(
      'KEYSHIFT_HTTP__ADMIN_TOKENS: not a valid YAML value (Flow map in block collection must be sufficiently indented and end with a }); quote it, or write a list as [a, b]\n',
    )
  })

  it('accepts a KEYSHIFT_SECRETS__PEPPER that looks like YAML, and --print redacts it', async () => {
    const r = await runKeyshift(['config', 'check', '--print'], {
      env: { ...clean, KEYSHIFT_SECRETS__PEPPER: `[${CANARY}` },
    })
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout.slice(r.stdout.indexOf('\n') + 1)).secrets.pepper).toBe('[redacted]')
    expect(r.stdout + r.stderr).not.toContain('CANARY')
  })

  it('reports a YAML syntax error by position, never echoing the line that holds a token', async () => {
    const p = file('broken.yaml', `http:\n  admin_tokens: [${CANARY}\n  port: 1\n`)
    const r = await runKeyshift(['config', 'check', p], { env: clean })
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(
      `config file ${p} is not valid YAML at line 3, column 3: Flow sequence in block collection must be sufficiently indented and end with a ]\n`,
    )
  })

  it('prints clickhouse.url without its password', async () => {
    const p = file('url.yaml', `clickhouse:\n  url: http://keyshift:${CANARY}@ch.internal:8123\n`)
    const r = await runKeyshift(['config', 'check', '--print', p], { env: clean })
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout.slice(r.stdout.indexOf('\n') + 1)).clickhouse.url).toBe(
      'http://[redacted]@ch.internal:8123/',
    )
    expect(r.stdout + r.stderr).not.toContain('CANARY')
  })
})

describe('an unreachable store', () => {
  const config = (url: string) =>
    file(
      `store-${Math.random().toString(36).slice(2)}.yaml`,
      `data_dir: ${join(dir, 'data')}\nclickhouse:\n  url: ${url}\n  request_timeout_ms: 5000\n` +
        'secrets:\n  pepper: store-pepper-0123456789abcdef\nhttp:\n  enabled: false\n',
    )

  it('is one line naming the server, without credentials or a stack (migrate)', async () => {
    const r = await runKeyshift(['migrate', '-c', config(`http://keyshift:${CANARY}@127.0.0.1:1`)], {
      env: clean,
    })
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe(
      'keyshift: cannot use the ClickHouse server at http://127.0.0.1:1/: connect ECONNREFUSED 127.0.0.1:1; check clickhouse.url and that the server is up\n',
    )
  })

  it('is one line naming the host when the name does not resolve (run)', async () => {
    const r = await runKeyshift(['run', '-c', config(`http://keyshift:${CANARY}@ch.invalid:8123`)], {
      env: clean,
    })
    expect(r.code).toBe(2)
    expect(r.stderr.split('\n')).toHaveLength(2)
    expect(r.stderr).toMatch(
      /^keyshift: cannot use the ClickHouse server at http:\/\/ch\.invalid:8123\/: getaddrinfo (ENOTFOUND|EAI_AGAIN) ch\.invalid; check clickhouse\.url and that the server is up\n$/,
    )
  })
})

describe('an API without tokens on a host that is not loopback', () => {
  // A name that starts with "127." is still a name: it is resolved (and .invalid never resolves).
  it.each(['127.evil.invalid', '0.0.0.0'])(
    'refuses to start on %s, naming the field and the fix',
    async (host) => {
      const p = file(
        `open-${host}.yaml`,
        `data_dir: ${join(dir, `open-${host}`)}\nsecrets:\n  pepper: open-pepper-0123456789abcdef\n` +
          `http:\n  host: ${host}\n  port: 0\n`,
      )
      const r = await runKeyshift(['run', '-c', p], { env: clean })
      expect({ code: r.code, stderr: r.stderr }).toEqual({
        code: 2,
        stderr:
          `keyshift: http.host: no read_tokens/admin_tokens are configured but http.host "${host}" is not a loopback ` +
          'address (nor a name whose every address is loopback); configure tokens (KEYSHIFT_HTTP__ADMIN_TOKENS) or bind to 127.0.0.1\n',
      })
    },
  )
})
