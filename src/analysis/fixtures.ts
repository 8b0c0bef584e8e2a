// Builders of analysis inputs for the unit tests beside this file: a complete row
// with sensible defaults, overridden field by field. Not used by production code.
import type { KeyVersion } from '../domain/key-version.ts'
import type { ClientUsage, FailureMinute, VersionMinute } from './types.ts'

export function keyVersion(version: string, over: Partial<KeyVersion> = {}): KeyVersion {
  return {
    keyId: 'acme',
    version,
    state: 'active',
    createdAt: null,
    activatedAt: null,
    deprecatedAt: null,
    deactivatedAt: null,
    expiresAt: null,
    scopes: [],
    owners: [],
    fingerprints: [],
    ...over,
  }
}

export function usage(over: Partial<ClientUsage>): ClientUsage {
  return {
    keyId: 'acme',
    clientId: 'c1',
    sourceAddress: '10.0.0.1',
    userAgent: 'ua/1',
    gateway: 'g1',
    version: 'v1',
    requests: 1,
    failures: 0,
    firstSeen: 0,
    lastSeen: 0,
    routes: [],
    ...over,
  }
}

export function failureRow(over: Partial<FailureMinute>): FailureMinute {
  return {
    minute: 0,
    keyId: 'acme',
    version: 'v1',
    gateway: 'g1',
    clientId: 'c1',
    reason: 'none',
    requests: 1,
    failures: 0,
    ...over,
  }
}

export function versionMinute(
  minute: number,
  version: string,
  requests: number,
  failures = 0,
): VersionMinute {
  return { minute, version, requests, failures }
}
