// Key versions and their lifecycle. A key is a logical credential; versions are
// concrete secrets that overlap during a rotation.

export const LIFECYCLE_STATES = ['created', 'active', 'deprecated', 'deactivated'] as const
export type LifecycleState = (typeof LIFECYCLE_STATES)[number]

export const LIFECYCLE_ACTIONS = ['create', 'activate', 'deprecate', 'deactivate', 'reactivate'] as const
export type LifecycleAction = (typeof LIFECYCLE_ACTIONS)[number]

/** One lifecycle event as recorded (from Kafka, HTTP, CLI or a file). */
export interface LifecycleEvent {
  keyId: string
  version: string
  action: LifecycleAction
  /** Epoch milliseconds when the action took effect. */
  time: number
  /** Keyed fingerprints (`fp_…`) of the version's secret; never raw material. */
  fingerprints?: string[]
  expiresAt?: number | null
  scopes?: string[]
  owners?: string[]
  actor?: string
  note?: string
}

/** A key version's current view, folded from its lifecycle events. */
export interface KeyVersion {
  keyId: string
  version: string
  state: LifecycleState
  createdAt: number | null
  activatedAt: number | null
  deprecatedAt: number | null
  deactivatedAt: number | null
  expiresAt: number | null
  scopes: string[]
  owners: string[]
  fingerprints: string[]
}

/** State reached by applying an action. `reactivate` is a rollback to active. */
export function stateAfter(action: LifecycleAction): LifecycleState {
  switch (action) {
    case 'create':
      return 'created'
    case 'activate':
    case 'reactivate':
      return 'active'
    case 'deprecate':
      return 'deprecated'
    case 'deactivate':
      return 'deactivated'
  }
}

/** A version with no times, scopes, owners or fingerprints yet. */
export function newKeyVersion(keyId: string, version: string, state: LifecycleState): KeyVersion {
  return {
    keyId,
    version,
    state,
    createdAt: null,
    activatedAt: null,
    deprecatedAt: null,
    deactivatedAt: null,
    expiresAt: null,
    scopes: [],
    owners: [],
    fingerprints: [],
  }
}

/** Order of actions recorded at the same instant: a version is created before it is activated, and so on. */
const ACTION_ORDER: Record<LifecycleAction, number> = {
  create: 0,
  activate: 1,
  deprecate: 2,
  deactivate: 3,
  reactivate: 4,
}

/** Folds lifecycle events (any order) into key versions, keyed `keyId/version`. */
export function foldLifecycle(events: readonly LifecycleEvent[]): Map<string, KeyVersion> {
  const sorted = [...events].sort(
    (a, b) => a.time - b.time || ACTION_ORDER[a.action] - ACTION_ORDER[b.action],
  )
  const out = new Map<string, KeyVersion>()
  for (const e of sorted) {
    const id = `${e.keyId}/${e.version}`
    const kv: KeyVersion = out.get(id) ?? newKeyVersion(e.keyId, e.version, 'created')
    kv.state = stateAfter(e.action)
    if (e.action === 'create') kv.createdAt ??= e.time
    if (e.action === 'activate' || e.action === 'reactivate') {
      kv.activatedAt = kv.activatedAt ?? e.time
      kv.deactivatedAt = null
      kv.deprecatedAt = null
    }
    if (e.action === 'deprecate') kv.deprecatedAt = e.time
    if (e.action === 'deactivate') kv.deactivatedAt = e.time
    if (kv.createdAt === null) kv.createdAt = e.time
    if (e.expiresAt !== undefined) kv.expiresAt = e.expiresAt
    if (e.scopes) kv.scopes = [...e.scopes]
    if (e.owners) kv.owners = [...e.owners]
    if (e.fingerprints) kv.fingerprints = [...new Set([...kv.fingerprints, ...e.fingerprints])]
    out.set(id, kv)
  }
  return out
}
