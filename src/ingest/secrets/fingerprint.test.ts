import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../domain/errors.ts'
import { createFingerprinter, isFingerprint, unwrapCredential } from './fingerprint.ts'

const PEPPER = 'pepper-for-tests-0123456789'
const KEY = 'ks_live_CANARY7d3f9a1b2c4e5f60718293a4b5c6d7e8'
// Known answers computed independently:
//   printf '%s' "$KEY" | openssl dgst -sha256 -hmac "$PEPPER" | cut -c1-32
const KEY_FP = 'fp_7db674c13224c9e680d57ace9f02e905'
const ACME_BASIC_FP = 'fp_5eea46d8480efff6f80a35ee3e89f56d' // material `acme:s3cr3t`

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64')

describe('createFingerprinter', () => {
  const fp = createFingerprinter(PEPPER)

  it('is fp_ + the first 32 hex chars of HMAC-SHA256(pepper, material)', () => {
    expect(fp(KEY)).toBe(KEY_FP)
    expect(fp('acme:s3cr3t')).toBe(ACME_BASIC_FP)
  })

  it.each([
    ['bare key', KEY],
    ['Bearer header', `Bearer ${KEY}`],
    ['lower-case bearer, extra spaces', `  bearer   ${KEY}  `],
    ['ApiKey scheme', `ApiKey ${KEY}`],
    ['Api-Key scheme', `Api-Key ${KEY}`],
    ['Token scheme', `Token ${KEY}`],
    ['Rails Token token="…"', `Token token="${KEY}", other="x"`],
    ['Basic with key as user, empty password', `Basic ${b64(`${KEY}:`)}`],
    ['Basic with empty user, key as password', `Basic ${b64(`:${KEY}`)}`],
  ])('gives the same fingerprint for the %s', (_, material) => {
    expect(fp(material)).toBe(KEY_FP)
  })

  it('fingerprints Basic user:pass as the decoded pair', () => {
    expect(fp(`Basic ${b64('acme:s3cr3t')}`)).toBe(ACME_BASIC_FP)
  })

  it('fingerprints an AWS SigV4 Authorization header by its access key id', () => {
    const header =
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240919/eu-west-1/execute-api/aws4_request, ' +
      'SignedHeaders=host;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024'
    expect(fp(header)).toBe(fp('AKIAIOSFODNN7EXAMPLE'))
  })

  it('passes fingerprints through unchanged, so scrubbing twice is harmless', () => {
    expect(fp(KEY_FP)).toBe(KEY_FP)
    expect(isFingerprint(KEY_FP)).toBe(true)
    expect(isFingerprint('fp_7DB674C13224C9E680D57ACE9F02E905')).toBe(false)
    expect(isFingerprint('fp_7db674c13224c9e680d57ace9f02e90')).toBe(false)
  })

  it('depends on the pepper', () => {
    expect(createFingerprinter('another-pepper-0123456789')(KEY)).not.toBe(KEY_FP)
  })

  it('rejects a pepper shorter than 16 characters with a ConfigError that does not echo it', () => {
    let caught: unknown
    try {
      createFingerprinter('short-pepper-15')
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(ConfigError)
    expect((caught as ConfigError).code).toBe('KS_CONFIG_INVALID')
    expect((caught as Error).message).toContain('at least 16 characters (got 15 characters)')
    expect((caught as Error).message).not.toContain('short-pepper-15')
    expect(() => createFingerprinter('sixteen-chars-ok')).not.toThrow()
  })
})

describe('unwrapCredential', () => {
  it.each([
    ['plain', 'plain'],
    ['Bearer abc.def', 'abc.def'],
    ['Digest username="a", response="b"', 'Digest username="a", response="b"'],
    [`Basic ${b64('user:pass')}`, 'user:pass'],
    ['Basic not-base64!', 'not-base64!'],
    [`Basic ${b64('no-colon')}`, b64('no-colon')],
    ['SSWS 00abcdef', '00abcdef'],
    ['Key   k1', 'k1'],
  ])('%s → %s', (input, expected) => {
    expect(unwrapCredential(input)).toBe(expected)
  })
})
