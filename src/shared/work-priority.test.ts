import { describe, expect, it } from 'vitest'
import { currentPriority, withPriority } from './work-priority.ts'

describe('work priority', () => {
  it('is normal unless marked, and follows the marked work through awaits and timers', async () => {
    expect(currentPriority()).toBe('normal')
    const seen = await withPriority('alert', async () => {
      const before = currentPriority()
      await new Promise((r) => setTimeout(r, 1))
      const inner = await withPriority('background', async () => currentPriority())
      return [before, currentPriority(), inner]
    })
    expect(seen).toEqual(['alert', 'alert', 'background'])
    expect(currentPriority()).toBe('normal')
  })
})
