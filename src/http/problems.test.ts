import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { frameworkProblem, PROBLEMS, type ProblemCode } from './problems.ts'

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')

describe('error catalogue', () => {
  it('documents every HTTP problem code with its status', () => {
    const missing = Object.entries(PROBLEMS).filter(
      ([code, p]) => !doc.includes(`| \`${code}\` | ${p.status} |`),
    )
    expect(missing.map(([code]) => code)).toEqual([])
  })

  it('documents every error code used in the sources', () => {
    const used = new Set<string>()
    const out = execFileSync('grep', ['-rhoE', "'KS_[A-Z_]+'", 'src', '--include=*.ts'], {
      cwd: new URL('../..', import.meta.url).pathname,
      encoding: 'utf8',
    })
    for (const m of out.split('\n')) if (m) used.add(m.replaceAll("'", ''))
    expect([...used].filter((c) => !doc.includes(`\`${c}\``)).sort()).toEqual([])
  })
})

describe('framework errors', () => {
  // Fastify's error codes (and bare statuses) as the framework raises them.
  const TABLE: [string, { code?: string; statusCode?: number }, string, number][] = [
    ['bad URL', { code: 'FST_ERR_BAD_URL', statusCode: 400 }, 'KS_VALIDATION_FAILED', 400],
    ['long path segment', { code: 'FST_ERR_MAX_PARAM_LENGTH', statusCode: 414 }, 'KS_URI_TOO_LONG', 414],
    ['body limit', { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }, 'KS_PAYLOAD_TOO_LARGE', 413],
    [
      'media type',
      { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 },
      'KS_UNSUPPORTED_MEDIA_TYPE',
      415,
    ],
    [
      'content length',
      { code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', statusCode: 400 },
      'KS_MALFORMED_REQUEST',
      400,
    ],
    ['empty JSON', { code: 'FST_ERR_CTP_EMPTY_JSON_BODY', statusCode: 400 }, 'KS_VALIDATION_FAILED', 400],
    ['invalid JSON', { code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 }, 'KS_VALIDATION_FAILED', 400],
    [
      'QUERY without type',
      { code: 'FST_ERR_ROUTE_MISSING_CONTENT_TYPE', statusCode: 400 },
      'KS_UNSUPPORTED_MEDIA_TYPE',
      415,
    ],
    ['other 404', { statusCode: 404 }, 'KS_NOT_FOUND', 404],
    ['other 405', { statusCode: 405 }, 'KS_METHOD_NOT_ALLOWED', 405],
    ['other 408', { statusCode: 408 }, 'KS_REQUEST_TIMEOUT', 408],
    ['other 431', { statusCode: 431 }, 'KS_HEADERS_TOO_LARGE', 431],
    ['an unlisted 4xx', { code: 'FST_ERR_SOMETHING_NEW', statusCode: 422 }, 'KS_VALIDATION_FAILED', 400],
  ]

  it('maps each to a documented problem with a fixed detail', () => {
    const got = TABLE.map(([name, err]) => {
      const p = frameworkProblem(Object.assign(new Error(`echo sk_live_CANARY ${name}`), err))
      return {
        name,
        code: p?.code,
        status: p ? PROBLEMS[p.code].status : 0,
        echoes: p?.detail.includes('CANARY'),
      }
    })
    expect(got).toEqual(TABLE.map(([name, , code, status]) => ({ name, code, status, echoes: false })))
    const codes = new Set(TABLE.map(([, , code]) => code))
    expect(
      [...codes].filter((c) => !doc.includes(`| \`${c}\` | ${PROBLEMS[c as ProblemCode].status} |`)),
    ).toEqual([])
  })

  it('leaves server errors and plain errors to the internal-error path', () => {
    expect(frameworkProblem(Object.assign(new Error('x'), { statusCode: 500 }))).toBeNull()
    expect(frameworkProblem(new TypeError('x'))).toBeNull()
  })
})
