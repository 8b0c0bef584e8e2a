import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { stdinNeedsHandover } from './stdin-handover.ts'

describe('stdinNeedsHandover: the fds the embedded store would read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-host-stdin-'))

  it('a regular file: yes', () => {
    const file = join(dir, 'in.log')
    writeFileSync(file, 'line\n')
    const fd = openSync(file, 'r')
    try {
      expect(stdinNeedsHandover(fd)).toBe(true)
    } finally {
      closeSync(fd)
    }
  })

  it('/dev/null (a character device, nothing to swallow): no', () => {
    const fd = openSync('/dev/null', 'r')
    try {
      expect(stdinNeedsHandover(fd)).toBe(false)
    } finally {
      closeSync(fd)
    }
  })

  it('a closed fd: no', () => {
    const fd = openSync('/dev/null', 'r')
    closeSync(fd)
    expect(stdinNeedsHandover(fd)).toBe(false)
  })
})
