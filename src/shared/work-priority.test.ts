import { describe, expect, it } from 'vitest'
import { currentPriority, laneHeld, onLaneHoldEnd, withPriority } from './work-priority.ts'

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

  it('counts work that holds the lane while it runs, and tells when it ends', async () => {
    const ended: boolean[] = []
    const off = onLaneHoldEnd(() => ended.push(laneHeld()))
    let inside = false
    await withPriority('alert', async () => {
      inside = laneHeld()
    })
    expect([inside, laneHeld(), ended]).toEqual([false, false, []]) // a flush: no hold
    await withPriority(
      'alert',
      async () => {
        inside = laneHeld()
      },
      { hold: true },
    )
    expect([inside, laneHeld(), ended]).toEqual([true, false, [false]])
    await expect(
      withPriority(
        'alert',
        async () => {
          throw new Error('store down')
        },
        { hold: true },
      ),
    ).rejects.toThrow('store down')
    expect([laneHeld(), ended]).toEqual([false, [false, false]])
    off()
  })
})
