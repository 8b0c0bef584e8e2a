// Sample alerts and notifications with fixed times, for notifier and pipeline tests.
import { type Alert, alertId, type Notification } from '../../src/domain/alert.ts'

/** 2026-11-28 13:00:00 UTC */
export const T0 = Date.UTC(2026, 10, 28, 13, 0, 0)

export function sampleAlert(over: Partial<Alert> = {}): Alert {
  const base: Omit<Alert, 'id'> = {
    type: 'failures_after_deactivation',
    severity: 'critical',
    status: 'firing',
    keyId: 'acme-payments',
    version: 'v1',
    scope: '*',
    labels: { gateway: 'kong-eu', client: 'acme-mobile' },
    title: 'Rollback advised for acme-payments v1',
    summary: 'Since v1 was deactivated 4 minutes ago, 212 requests from 2 clients failed with "revoked".',
    evidence: { failures: 212, clients: ['acme-mobile', 'acme-batch'], failure_ratio: 0.0731 },
    startsAt: T0,
    updatedAt: T0 + 60_000,
    ...over,
  }
  return { id: over.id ?? alertId(base), ...base }
}

export function sampleNotification(over: Partial<Notification> = {}): Notification {
  return {
    id: 'ntf_01JDZ5K3W8Q4R7X2M9V6B1C0AA',
    kind: 'rollback.advised',
    receiver: 'ops',
    alerts: [sampleAlert()],
    groupKey: 'keyId=acme-payments',
    createdAt: T0 + 61_000,
    ...over,
  }
}
