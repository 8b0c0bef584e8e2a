import { describe, expect, it } from 'vitest'
import { checkOpenApiBinding } from '../http/bind-check.ts'
import { type HostLookup, isLoopbackAddress, resolvesToLoopback } from './loopback.ts'

describe('isLoopbackAddress', () => {
  const TABLE: [string, boolean][] = [
    ['127.0.0.1', true],
    ['127.255.255.254', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['[::1]', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['[::ffff:7f00:1]', true],
    ['::1%lo', true],
    ['128.0.0.1', false],
    ['10.0.0.1', false],
    ['0.0.0.0', false],
    ['::', false],
    ['::ffff:8.8.8.8', false],
    ['::127.0.0.1', false],
    ['127.evil.example', false],
    ['127.0.0.1.nip.io', false],
    ['localhost', false],
    ['', false],
  ]
  it('parses the address instead of matching its spelling', () => {
    expect(TABLE.map(([a]) => [a, isLoopbackAddress(a)])).toEqual(TABLE)
  })
})

describe('resolvesToLoopback', () => {
  // Names resolved by a table, as dns.lookup({ all: true }) would answer.
  const NAMES: Record<string, string[]> = {
    'only-loopback.test': ['127.0.0.1', '::1'],
    'mixed.test': ['127.0.0.1', '203.0.113.7'],
    '127.0.0.1.rebind.test': ['198.51.100.9'],
    'mapped.test': ['::ffff:127.0.0.2'],
    'empty.test': [],
  }
  const lookup: HostLookup = async (host) => {
    const a = NAMES[host]
    if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
    return a.map((address) => ({ address }))
  }
  const TABLE: [string, boolean][] = [
    ['127.0.0.1', true],
    ['::1', true],
    ['only-loopback.test', true],
    ['mapped.test', true],
    ['mixed.test', false],
    ['127.0.0.1.rebind.test', false],
    ['127.unresolvable.test', false],
    ['empty.test', false],
    ['0.0.0.0', false],
    ['', false],
  ]
  it('resolves names and requires every address to be loopback', async () => {
    const got = await Promise.all(TABLE.map(async ([h]) => [h, await resolvesToLoopback(h, lookup)]))
    expect(got).toEqual(TABLE)
  })

  it('uses the system resolver by default', async () => {
    expect(await resolvesToLoopback('localhost')).toBe(true)
    // `.invalid` never resolves (RFC 6761): a name shaped like 127.x is still a name.
    expect(await resolvesToLoopback('127.0.0.1.invalid')).toBe(false)
  })
})

describe('an open API (no tokens) binds only to loopback', () => {
  const lookup: HostLookup = async (host) => {
    if (host === 'gw.test') return [{ address: '127.0.0.1' }, { address: '192.0.2.1' }]
    throw new Error(`getaddrinfo ENOTFOUND ${host}`)
  }
  const TABLE: [string, boolean, 'ok' | 'refused'][] = [
    ['127.0.0.1', true, 'ok'],
    ['::1', true, 'ok'],
    ['127.evil.example', true, 'refused'],
    ['gw.test', true, 'refused'],
    ['0.0.0.0', true, 'refused'],
    ['0.0.0.0', false, 'ok'],
  ]
  it('refuses every host that is not loopback by address', async () => {
    const got = await Promise.all(
      TABLE.map(async ([host, open]) => [
        host,
        open,
        await checkOpenApiBinding({ host, open, lookup }).then(
          () => 'ok',
          () => 'refused',
        ),
      ]),
    )
    expect(got).toEqual(TABLE)
  })

  it('names the field and the fix', async () => {
    await expect(checkOpenApiBinding({ host: '127.evil.example', open: true, lookup })).rejects.toThrow(
      'http.host: no read_tokens/admin_tokens are configured but http.host "127.evil.example" is not a loopback address (nor a name whose every address is loopback); configure tokens (KEYSHIFT_HTTP__ADMIN_TOKENS) or bind to 127.0.0.1',
    )
  })
})
