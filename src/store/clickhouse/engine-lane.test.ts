import { describe, expect, it } from 'vitest'
import type { WorkPriority } from '../../shared/work-priority.ts'
import { EngineLane } from './engine-lane.ts'

/** A statement the test finishes by hand; `log` records when each one enters the engine. */
function gate() {
  let open!: () => void
  const done = new Promise<void>((r) => {
    open = r
  })
  return { done, open }
}

describe('EngineLane', () => {
  it('runs one statement at a time, then the waiting ones by priority, first come first served within one', async () => {
    let now = 0
    const lane = new EngineLane({ clock: () => now, maxWaitMs: 1_000 })
    const order: string[] = []
    const running = gate()
    const first = lane.run('background', async () => {
      order.push('bg-0')
      await running.done
      return 'bg-0'
    })
    const queued: Array<[WorkPriority, string]> = [
      ['background', 'bg-1'],
      ['normal', 'api-1'],
      ['alert', 'eval-1'],
      ['normal', 'api-2'],
      ['alert', 'ingest-1'],
    ]
    const rest = queued.map(([p, name]) =>
      lane.run(p, async () => {
        order.push(name)
        return name
      }),
    )
    expect(order).toEqual(['bg-0'])
    expect(lane.waiting).toBe(5)
    now = 500
    running.open()
    expect(await Promise.all([first, ...rest])).toEqual([
      'bg-0',
      'bg-1',
      'api-1',
      'eval-1',
      'api-2',
      'ingest-1',
    ])
    expect(order).toEqual(['bg-0', 'eval-1', 'ingest-1', 'api-1', 'api-2', 'bg-1'])
    expect(lane.waiting).toBe(0)
  })

  it('lets a statement that waited maxWaitMs go next, whatever its priority', async () => {
    let now = 0
    const lane = new EngineLane({ clock: () => now, maxWaitMs: 1_000 })
    const order: string[] = []
    const running = gate()
    const first = lane.run('alert', async () => {
      await running.done
    })
    const bg = lane.run('background', async () => {
      order.push('bg')
    })
    now = 400
    const api = lane.run('normal', async () => {
      order.push('api')
    })
    const alert = lane.run('alert', async () => {
      order.push('alert')
    })
    now = 1_000
    running.open()
    await Promise.all([first, bg, api, alert])
    expect(order).toEqual(['bg', 'alert', 'api'])
  })

  it('reports each wait and passes failures through without stalling the lane', async () => {
    let now = 0
    const waits: Array<[WorkPriority, number]> = []
    const lane = new EngineLane({ clock: () => now, onStart: (p, ms) => waits.push([p, ms]) })
    const running = gate()
    const failing = lane.run('normal', async () => {
      await running.done
      throw new Error('engine refused: syntax error')
    })
    const thrown = lane.run('alert', () => {
      throw new Error('could not build the statement')
    })
    const after = lane.run('background', async () => 42)
    now = 30
    running.open()
    await expect(failing).rejects.toThrow('engine refused: syntax error')
    await expect(thrown).rejects.toThrow('could not build the statement')
    expect(await after).toBe(42)
    expect(waits).toEqual([
      ['normal', 0],
      ['alert', 30],
      ['background', 30],
    ])
  })

  it('keeps lower statements waiting while alert work runs, and lets them go when it ends', async () => {
    let held = true
    const lane = new EngineLane({ held: () => held, maxWaitMs: 60_000 })
    const order: string[] = []
    const api = lane.run('normal', async () => {
      order.push('api')
    })
    const bg = lane.run('background', async () => {
      order.push('bg')
    })
    await lane.run('alert', async () => {
      order.push('round: read touches')
    })
    // Between two statements of the round: nothing else enters the engine.
    await new Promise((r) => setTimeout(r, 5))
    expect(order).toEqual(['round: read touches'])
    await lane.run('alert', async () => {
      order.push('round: read findings')
    })
    expect(lane.waiting).toBe(2)
    held = false
    lane.poke()
    await Promise.all([api, bg])
    expect(order).toEqual(['round: read touches', 'round: read findings', 'api', 'bg'])
  })

  it('lets a held-back statement go once it waited maxWaitMs, though alert work still runs', async () => {
    const waits: Array<[WorkPriority, number]> = []
    const lane = new EngineLane({ held: () => true, maxWaitMs: 50, onStart: (p, ms) => waits.push([p, ms]) })
    expect(await lane.run('background', async () => 'usage read')).toBe('usage read')
    expect(waits).toHaveLength(1)
    expect(waits[0]![0]).toBe('background')
    expect(waits[0]![1]).toBeGreaterThanOrEqual(50)
  })
})
