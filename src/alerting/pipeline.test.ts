import { describe, expect, it } from 'vitest'
import type { NotificationKind } from '../domain/alert.ts'
import { type AlertingConfigInput, alertingConfigSchema } from './config.ts'
import { MemoryAlertStore } from './memory-store.test-helper.ts'
import { content, MIN, S, T0 } from './pipeline/fixtures.test-helper.ts'
import { notificationId, sha256Hex } from './pipeline/record.ts'
import type { Observation, OutboxEntry } from './pipeline/types.ts'
import { AlertPipeline } from './pipeline.ts'

const H = 3_600_000
const GK = 'type=failures_after_deactivation,keyId=acme-payments'
const v1 = content()
const v0 = content({ version: 'v0', title: 'Rollback advised for acme-payments v0' })
const both = (a: typeof v1): Observation[] => [
  { channel: 'alert', alert: a, startedAt: T0 - MIN },
  { channel: 'rollback', alert: a, startedAt: T0 - MIN },
]

function pipeline(store = new MemoryAlertStore(), cfg: AlertingConfigInput = { default_receivers: ['ops'] }) {
  return { store, p: new AlertPipeline({ config: alertingConfigSchema.parse(cfg), store }) }
}

/** What a receiver would get, in a form that is easy to compare exactly. */
function summary(entries: OutboxEntry[]) {
  return entries.map((e) => ({
    id: e.id,
    kind: e.kind,
    receiver: e.receiver,
    groupKey: e.groupKey,
    createdAt: e.notification.createdAt,
    alerts: e.notification.alerts.map(
      (a) => `${a.status} ${a.id} ${a.startsAt - T0}${a.endsAt ? ` ${a.endsAt - T0}` : ''}`,
    ),
  }))
}

const id = (groupKey: string, seq: number, firing: string[], resolved: string[] = []) =>
  notificationId(sha256Hex, 'ops', groupKey, seq, firing, resolved)
const ep = (channel: string, a: typeof v1, n: number) => `${channel}|${a.id}#${n}`

function expected(
  kind: NotificationKind,
  groupKey: string,
  seq: number,
  at: number,
  firing: Array<[string, typeof v1, number]>,
  resolved: Array<[string, typeof v1, number, number]> = [],
) {
  return {
    id: id(
      groupKey,
      seq,
      firing.map(([c, a, n]) => ep(c, a, n)),
      resolved.map(([c, a, n]) => ep(c, a, n)),
    ),
    kind,
    receiver: 'ops',
    groupKey,
    createdAt: at,
    alerts: [
      ...firing.map(([, a]) => `firing ${a.id} ${-MIN}`),
      ...resolved.map(([, a, , endsAt]) => `resolved ${a.id} ${-MIN} ${endsAt - T0}`),
    ],
  }
}

describe('AlertPipeline', () => {
  it('notifies once per change, groups, resolves, survives a restart and repeats', async () => {
    const { store, p } = pipeline(new MemoryAlertStore(), { default_receivers: ['ops'], group_wait_ms: S })
    await p.load(T0)

    // group_wait: nothing yet, wake up when the group falls due.
    let run = await p.evaluate(both(v1), T0)
    expect(run.entries).toEqual([])
    expect(run.nextWakeAt).toBe(T0 + S)
    expect(p.wasNotified(`alert|${v1.id}`)).toBe(false) // firing, but nobody told yet

    run = await p.flush(T0 + S)
    expect(summary(run.entries)).toEqual([
      expected('rollback.advised', `rollback:${GK}`, 1, T0 + S, [['rollback', v1, 1]]),
      expected('alert.firing', GK, 1, T0 + S, [['alert', v1, 1]]),
    ])
    expect([p.wasNotified(`alert|${v1.id}`), p.wasNotified(`rollback|${v1.id}`)]).toEqual([true, true])
    expect(p.wasNotified(`alert|${v0.id}`)).toBe(false) // never observed
    expect(run.nextWakeAt).toBe(T0 + S + 4 * H)

    // Evaluated again and again: no news, nothing sent.
    for (const t of [T0 + 3 * S, T0 + 5 * S]) expect((await p.evaluate(both(v1), t)).entries).toEqual([])

    // A second alert in the same group waits for group_interval after the last notification.
    run = await p.evaluate([...both(v1), ...both(v0)], T0 + 10 * S)
    expect(run.entries).toEqual([])
    expect(run.nextWakeAt).toBe(T0 + 61 * S)
    run = await p.flush(T0 + 61 * S)
    expect(summary(run.entries)).toEqual([
      expected('rollback.advised', `rollback:${GK}`, 2, T0 + 61 * S, [
        ['rollback', v0, 1],
        ['rollback', v1, 1],
      ]),
      expected('alert.firing', GK, 2, T0 + 61 * S, [
        ['alert', v0, 1],
        ['alert', v1, 1],
      ]),
    ])

    // v1 not seen for resolve_after_ms (60 s since its last evaluation at +10 s): resolved.
    // The alert group tells; the rollback signal does not.
    run = await p.evaluate(both(v0), T0 + 200 * S)
    expect(summary(run.entries)).toEqual([
      expected('alert.firing', GK, 3, T0 + 200 * S, [['alert', v0, 1]], [['alert', v1, 1, T0 + 200 * S]]),
    ])

    // A restart loads the states and logs: the same observations send nothing.
    const restarted = pipeline(store).p
    await restarted.load(T0 + 210 * S)
    expect((await restarted.evaluate(both(v0), T0 + 210 * S)).entries).toEqual([])

    // repeat_interval (4 h) after the last notification of each group.
    run = await restarted.evaluate(both(v0), T0 + 61 * S + 4 * H)
    expect(summary(run.entries)).toEqual([
      expected('rollback.advised', `rollback:${GK}`, 3, T0 + 61 * S + 4 * H, [['rollback', v0, 1]]),
    ])
    run = await restarted.evaluate(both(v0), T0 + 200 * S + 4 * H)
    expect(summary(run.entries)).toEqual([
      expected('alert.firing', GK, 4, T0 + 200 * S + 4 * H, [['alert', v0, 1]]),
    ])
    expect(store.outboxRows.size).toBe(7)
  })

  it('routes by key and kind, and sends nothing for silenced alerts until the silence ends', async () => {
    const { store, p } = pipeline(new MemoryAlertStore(), {
      routes: [
        { match: { kind: ['rollback.advised'] }, receivers: ['automation'] },
        { match: { key: ['acme-*'] }, receivers: ['ops'] },
      ],
      default_receivers: ['fallback'],
      group_wait_ms: 0,
    })
    await p.load(T0)
    store.silenceRows.set('sil_1', {
      id: 'sil_1',
      matchers: { key: ['acme-*'], type: ['failures_after_deactivation'] },
      startsAt: T0 - MIN,
      endsAt: T0 + 10 * MIN,
      createdBy: 'ana',
      comment: 'maintenance',
      createdAt: T0 - MIN,
      updatedAt: T0 - MIN,
      ver: 1,
    })
    const other = content({ keyId: 'globex', type: 'failure_spike', severity: 'warning' })
    const obs = [...both(v1), { channel: 'alert' as const, alert: other }]
    let run = await p.evaluate(obs, T0)
    expect(run.entries.map((e) => [e.receiver, e.kind, e.notification.alerts.map((a) => a.id)])).toEqual([
      ['fallback', 'alert.firing', [other.id]],
    ])
    expect(p.silencedBy(`alert|${v1.id}`)).toEqual(['sil_1'])

    run = await p.evaluate(obs, T0 + 10 * MIN)
    expect(run.entries.map((e) => [e.receiver, e.kind])).toEqual([
      ['automation', 'rollback.advised'],
      ['ops', 'alert.firing'],
    ])
  })

  it('gives two instances deciding the same notification the same id, and the outbox one entry', async () => {
    // Separate stores: the ids alone are equal, although the instances evaluate at different times.
    const a = pipeline()
    const b = pipeline()
    await a.p.load(T0)
    await b.p.load(T0 + 700)
    await a.p.evaluate(both(v1), T0)
    await b.p.evaluate(both(v1), T0 + 700)
    const ra = await a.p.flush(T0 + S)
    const rb = await b.p.flush(T0 + 1_700)
    expect(ra.entries.map((e) => e.id)).toEqual(rb.entries.map((e) => e.id))
    expect(ra.entries).toHaveLength(2)

    // One shared store, both deciding from the same stored state: written once, delivered once.
    const shared = new MemoryAlertStore()
    const x = pipeline(shared)
    const y = pipeline(shared)
    await Promise.all([x.p.load(T0), y.p.load(T0)])
    await x.p.evaluate(both(v1), T0)
    await y.p.evaluate(both(v1), T0 + 700)
    const rx = await x.p.flush(T0 + S)
    const ry = await y.p.flush(T0 + 1_700)
    expect(rx.entries.map((e) => e.id)).toEqual(ra.entries.map((e) => e.id))
    expect(ry.entries).toEqual([])
    expect([...shared.outboxRows.keys()].sort()).toEqual(ra.entries.map((e) => e.id).sort())
  })

  it('retries the same decision with the same id when the outbox write fails', async () => {
    const { store, p } = pipeline(new MemoryAlertStore(), { default_receivers: ['ops'], group_wait_ms: 0 })
    await p.load(T0)
    store.fail.insertOutbox = new Error('store down')
    await expect(p.evaluate(both(v1), T0)).rejects.toThrow('store down')
    store.fail = {}
    const run = await p.evaluate(both(v1), T0 + 2 * S)
    expect(summary(run.entries).map((e) => e.id)).toEqual([
      id(`rollback:${GK}`, 1, [ep('rollback', v1, 1)]),
      id(GK, 1, [ep('alert', v1, 1)]),
    ])
  })
})
