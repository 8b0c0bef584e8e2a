// Shared fixtures for the alert-path stage tests: alert contents, states and
// routes with fixed times, so every expectation is written out by hand.
import type { AlertType } from '../../domain/alert.ts'
import { alertId } from '../../domain/alert.ts'
import type { ResolvedRoute } from '../config.ts'
import type { AlertContent, AlertState, Channel, GroupState, LiveAlert, StateSettings } from './types.ts'
import { alertKey, liveAlert } from './types.ts'

/** 2026-11-28 13:00:00 UTC */
export const T0 = Date.UTC(2026, 10, 28, 13, 0, 0)
export const S = 1_000
export const MIN = 60_000

export function content(over: Partial<AlertContent> & { type?: AlertType } = {}): AlertContent {
  const base = {
    type: 'failures_after_deactivation' as AlertType,
    severity: 'critical' as const,
    keyId: 'acme-payments',
    version: 'v1',
    scope: '*',
    labels: { gateway: 'kong-eu', client: 'acme-mobile' },
    title: 'Rollback advised for acme-payments v1',
    summary: '2 clients fail since v1 was deactivated.',
    evidence: { failures: 12 },
    ...over,
  }
  return { ...base, id: over.id ?? alertId(base) }
}

export function state(
  over: Partial<AlertState> & { alert?: AlertContent; channel?: Channel } = {},
): AlertState {
  const alert = over.alert ?? content()
  const channel = over.channel ?? 'alert'
  return {
    key: alertKey(channel, alert.id),
    channel,
    phase: 'firing',
    alert,
    activeSince: T0,
    startsAt: T0,
    firedAt: T0,
    lastSeen: T0,
    resolvedAt: null,
    episode: 1,
    ver: 1,
    ...over,
  }
}

export function live(
  over: Partial<AlertState> & { alert?: AlertContent; channel?: Channel } = {},
): LiveAlert {
  const l = liveAlert(state(over))
  if (l === null) throw new Error('fixture state is not live')
  return l
}

export function route(over: Partial<ResolvedRoute> = {}): ResolvedRoute {
  return {
    index: 0,
    match: {},
    receivers: ['ops'],
    continue: false,
    groupBy: ['type', 'keyId'],
    groupWaitMs: 1_000,
    groupIntervalMs: 60_000,
    repeatIntervalMs: 4 * 3_600_000,
    ...over,
  }
}

export function groupState(over: Partial<GroupState> = {}): GroupState {
  return {
    receiver: 'ops',
    groupKey: 'type=failures_after_deactivation,keyId=acme-payments',
    channel: 'alert',
    bornAt: null,
    lastNotifiedAt: null,
    firing: [],
    seq: 0,
    ver: 0,
    ...over,
  }
}

export const settings: StateSettings = {
  forMs: (type) => (type === 'ingest_lag' ? 60_000 : 0),
  resolveAfterMs: (channel) => (channel === 'readiness' ? 0 : 60_000),
  resolvedRetentionMs: 3_600_000,
}
