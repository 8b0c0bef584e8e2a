import { describe, expect, it } from 'vitest'
import { generatedClientIdentities, generatedKeys, KEEP_CORPUS, KEY_CORPUS, runCorpora } from './corpora.ts'
import { createFingerprinter } from './fingerprint.ts'
import { scrubDocument, scrubText } from './scrub.ts'

const fp = createFingerprinter('pepper-for-corpora-0123456789')

describe('scrubber corpora (docs/secrets.md)', () => {
  const r = runCorpora(
    (t) => scrubText(t, fp),
    (d) => scrubDocument(d, { fingerprint: fp }).value,
  )

  it(`fingerprints every one of the ${KEY_CORPUS.length} real key formats in every context it can be recognised in`, () => {
    expect(r.missed).toEqual([])
    expect(r.keyPlacements).toBe(694)
  })

  it(`keeps every user agent, route, hostname and client id of the ${Object.values(KEEP_CORPUS).flat().length} identifiers but one`, () => {
    // The one false positive, by decision: a 40-hex git commit id has the shape of a
    // 40-hex API key (GitHub's classic tokens were exactly that), and shape is all
    // the scrubber has in a path. See docs/secrets.md.
    expect(r.changed).toEqual([
      'routes: /repos/octocat/Hello-World/commits/7fd1a60b01f91b314f59955a4e4d4e80d8edf11d',
    ])
  })
})

describe('generated corpora (seeded, docs/secrets.md)', () => {
  const text = (v: string) => scrubText(v, fp)

  it('fingerprints 9 998 of 10 000 random unprefixed keys (hex, base64, base64url, base62)', () => {
    const missed: string[] = []
    for (const keys of Object.values(generatedKeys(2500))) {
      for (const k of keys) {
        const out = text(`presented ${k} from 10.0.0.1`)
        if (out.includes(k.slice(0, 8)) || out.includes(k.slice(-8))) missed.push(k)
      }
    }
    // The two misses, by shape: a 20-char key whose characters repeat enough to
    // measure under 3.5 bits, and one that happens to read as a prefixed id.
    expect(missed).toEqual(['DtqKqDqTNDJuu8AqsuyM', 'wp_Jk7Xd9mBIEBJZufyNFSlN'])
  })

  it('keeps all 2 000 generated client identities (service prefixes, pod names, versions)', () => {
    const ids = generatedClientIdentities(2000)
    expect(ids.filter((v) => text(v) !== v)).toEqual([])
    expect(ids).toContain('svc-48/okhttp/4.12.0')
  })
})
