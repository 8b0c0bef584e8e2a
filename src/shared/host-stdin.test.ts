import { readdirSync, readFileSync } from 'node:fs'
import { join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { handedOverStdinFd, STDIN_FD_ENV } from './host-stdin.ts'

describe('handedOverStdinFd', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['3', 3],
    ['17', 17],
    // 0-2 are stdio: never a handed-over stdin, whatever the variable says.
    ['0', undefined],
    ['2', undefined],
    ['-3', undefined],
    ['3.5', undefined],
    ['three', undefined],
  ])('%s → %s', (raw, fd) => {
    expect(handedOverStdinFd(raw === undefined ? {} : { [STDIN_FD_ENV]: raw })).toBe(fd)
  })
})

describe('every CLI path reads stdin through hostStdin()', () => {
  // Under the handover, process.stdin is /dev/null: a command reading it gets no input.
  // Allowed: host-stdin itself, detect-main (bin/keyshift.js runs it directly, with
  // no handover), and the stdin source's default (the app passes hostStdin()).
  const ALLOWED = new Set(['shared/host-stdin.ts', 'cli/detect-main.ts', 'ingest/sources/stdin-source.ts'])

  it('no other module reads process.stdin', () => {
    const src = fileURLToPath(new URL('..', import.meta.url))
    const offenders = readdirSync(src, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !ALLOWED.has(f.split(sep).join('/')))
      .filter((f) =>
        readFileSync(join(src, f), 'utf8')
          .split('\n')
          .some((l) => /\bprocess\.stdin\b/.test(l) && !/^\s*(\/\/|\*)/.test(l)),
      )
    expect(offenders).toEqual([])
  })
})
