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
