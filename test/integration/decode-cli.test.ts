// `keyshift decode` as a user meets it before wiring a gateway up: lines from a
// file or stdin in, one JSON line out per event / skip / dead letter, nothing
// stored; and `replay --preset mapping -c` finding the mapping in the config.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createFingerprinter } from '../../src/ingest/secrets/fingerprint.ts'
import { runKeyshift, writeConfig } from '../support/daemon.ts'

const PEPPER = 'decode-cli-pepper-0123456789'
const fp = createFingerprinter(PEPPER)
const KEY = 'sk_live_51HdecodeCliQwErTyUiOp'
const T = '2024-09-19T22:10:39+00:00'
const T_MS = Date.parse(T)

// NGINX `log_format … escape=json` with `"time":"$time_iso8601"`, strings as NGINX writes them.
const nginxLine = (request: string, status: string) =>
  JSON.stringify({ time: T, remote_addr: '203.0.113.9', request, status, request_time: '0.041' })

const event = (over: Record<string, unknown>) => ({
  eventId: 'decode:1',
  time: T_MS,
  keyId: 'unknown',
  keyVersion: 'unknown',
  keyFingerprint: fp(KEY),
  outcome: 'success',
  reason: 'none',
  status: 200,
  clientId: '',
  sourceAddress: '203.0.113.9',
  userAgent: '',
  method: 'GET',
  route: '/v1/payments',
  gateway: 'nginx',
  latencyMs: 41,
  identitySource: 'key_material',
  ...over,
})

describe('keyshift decode', () => {
  it('prints what each line of a file becomes, dead-letters as ingest does, and exits 1 on a dead letter', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-decode-'))
    const cfg = writeConfig(dir, { data_dir: join(dir, 'data'), secrets: { pepper: PEPPER } })
    const file = join(dir, 'nginx.log')
    writeFileSync(
      file,
      Buffer.concat([
        Buffer.from(`${nginxLine(`GET /v1/payments?api_key=${KEY} HTTP/1.1`, '200')}\n`),
        Buffer.from(`${nginxLine(`GET /v1/payments?api_key=${KEY} HTTP/1.1`, '403')}\r\n`),
        Buffer.from('\n'),
        Buffer.from(`${nginxLine('GET /healthz HTTP/1.1', '200')}\n`),
        // Not JSON even once each invalid byte becomes U+FFFD (inside a JSON string it would be kept).
        Buffer.from('\xff{"time":"2026"}\n', 'latin1'),
        Buffer.from(`{"status":"200","request":"GET /v1/payments?key=${KEY} HTTP/1.1"}`),
      ]),
    )
    const r = await runKeyshift(['decode', '--preset', 'nginx', '-c', cfg, file])
    expect(r.stdout.split('\n').map((l) => (l === '' ? l : JSON.parse(l)))).toEqual([
      { line: 1, event: event({}) },
      {
        line: 2,
        event: event({
          eventId: 'decode:2',
          outcome: 'failure',
          // Offline (no --resolve) no key is registered: a rejected key reads as unknown.
          reason: 'unknown_key',
          status: 403,
          latencyMs: 41,
        }),
      },
      { line: 4, skipped: 'not_auth_traffic', requests: 1 },
      { line: 5, deadLetter: 'invalid_utf8', detail: expect.any(String) },
      { line: 6, deadLetter: 'missing_time', detail: expect.any(String) },
      '',
    ])
    expect(r.stdout).not.toContain(KEY)
    expect(r.stderr).toBe(
      'keyshift decode: 5 lines: 2 events, 1 skipped (not_auth_traffic), 2 dead-lettered\n',
    )
    expect(r.code).toBe(1)
  }, 60_000)

  it('reads stdin, takes a mapping from -c, and exits 0 when nothing is dead-lettered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-decode-'))
    const cfg = writeConfig(dir, {
      data_dir: join(dir, 'data'),
      secrets: { pepper: PEPPER },
      sources: [
        {
          type: 'stdin',
          decoder: {
            preset: 'mapping',
            default_gateway: 'edge-1',
            mapping: { fields: { time: 'ts', key_material: 'url?token', status: 'code', route: 'url' } },
          },
        },
      ],
    })
    const r = await runKeyshift(['decode', '--preset', 'mapping', '-c', cfg], {
      input: `${JSON.stringify({ ts: T, url: `/v1/payments?token=${KEY}`, code: 401 })}\n`,
    })
    expect(r.stderr).toBe(
      'keyshift decode: 1 lines: 1 events, 0 skipped (not_auth_traffic), 0 dead-lettered\n',
    )
    expect(JSON.parse(r.stdout)).toEqual({
      line: 1,
      event: event({
        outcome: 'failure',
        reason: 'unknown_key',
        status: 401,
        sourceAddress: '',
        method: '',
        gateway: 'edge-1',
        latencyMs: 0,
      }),
    })
    expect(r.code).toBe(0)
  }, 60_000)
})

describe('keyshift replay --preset mapping', () => {
  it("uses the mapping of the configuration's source instead of refusing it", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-replay-mapping-'))
    const cfg = writeConfig(dir, {
      data_dir: join(dir, 'data'),
      secrets: { pepper: PEPPER },
      sources: [
        {
          type: 'file',
          path: join(dir, 'app.log'),
          decoder: {
            preset: 'mapping',
            mapping: { fields: { time: 'ts', principal: 'user', status: 'code' } },
          },
        },
      ],
    })
    const file = join(dir, 'backfill.log')
    const now = Date.now()
    writeFileSync(
      file,
      `${JSON.stringify({ ts: now - 60_000, user: 'alice', code: 200 })}\n` +
        `${JSON.stringify({ ts: now - 59_000, user: 'alice', code: 401 })}\n`,
    )
    const r = await runKeyshift(['replay', file, '--preset', 'mapping', '-c', cfg, '--json'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect({ ...JSON.parse(r.stdout), seconds: undefined }).toEqual({
      file,
      lines: 2,
      stored: 2,
      deadLettered: 0,
      skipped: 0,
      notAuthTraffic: 0,
      reasons: {},
      seconds: undefined,
    })
  }, 120_000)
})
