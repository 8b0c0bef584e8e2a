import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { PROBLEMS } from './problems.ts'

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
