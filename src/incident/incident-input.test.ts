import { describe, expect, it } from 'vitest'
import { KeyshiftError } from '../domain/errors.ts'
import { isIncidentMessage, parseAccept, parseIncidentMessage, parseOpen } from './incident-input.ts'
import { incidentIdOf } from './incident-service.ts'

describe('incident input', () => {
  it('parses an open request, with the default actor and an RFC 3339 time', () => {
    expect(
      parseOpen(
        { key_id: 'acme', version: 'v1', reason: 'leaked', time: '2026-12-07T10:00:00Z' },
        'api:1.2.3.4',
      ),
    ).toEqual({
      keyId: 'acme',
      version: 'v1',
      reason: 'leaked',
      note: '',
      actor: 'api:1.2.3.4',
      time: Date.UTC(2026, 11, 7, 10),
    })
  })

  it.each([
    [
      { key_id: 'acme', version: 'v1', reason: 'stolen' },
      'reason: must be one of leaked, suspected, compromised',
    ],
    [{ key_id: 'acme', version: 'v1' }, 'reason:'],
    [{ key_id: 'ac me', version: 'v1', reason: 'leaked' }, 'key_id: may contain letters'],
    [{ key_id: 'acme', version: 'v1', reason: 'leaked', secret: 'x' }, 'Unrecognized key'],
  ])('names what is wrong in %j', (doc, message) => {
    let err: unknown
    try {
      parseOpen(doc, 'x')
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(KeyshiftError)
    expect((err as KeyshiftError).code).toBe('KS_VALIDATION_FAILED')
    expect((err as Error).message).toContain(message)
  })

  it('needs who and why to accept breakage', () => {
    expect(() => parseAccept({ actor: 'ciso' })).toThrow(/why/)
    expect(parseAccept({ actor: 'ciso', why: 'retired client' })).toEqual({
      actor: 'ciso',
      why: 'retired client',
    })
  })

  it('tells incident messages on the lifecycle topic from lifecycle events', () => {
    expect(isIncidentMessage({ incident: 'open' })).toBe(true)
    expect(isIncidentMessage({ key_id: 'acme', action: 'deactivate' })).toBe(false)
    expect(
      parseIncidentMessage({ incident: 'close', incident_id: 'inc_abc', note: 'done' }, 'kafka'),
    ).toEqual({
      action: 'close',
      incidentId: 'inc_abc',
      request: { actor: 'kafka', note: 'done' },
    })
    expect(() => parseIncidentMessage({ incident: 'close' }, 'kafka')).toThrow(/incident_id: required/)
    expect(() => parseIncidentMessage({ incident: 'reopen' }, 'kafka')).toThrow(/must be one of open, close/)
  })

  it('derives the same incident id for the same key, version and time', () => {
    const a = incidentIdOf('acme', 'v1', 1_000)
    expect(a).toMatch(/^inc_[0-9a-f]{16}$/)
    expect(incidentIdOf('acme', 'v1', 1_000)).toBe(a)
    expect(incidentIdOf('acme', 'v1', 1_001)).not.toBe(a)
  })
})
