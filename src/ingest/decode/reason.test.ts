import { describe, expect, it } from 'vitest'
import type { FailureReason } from '../../domain/auth-event.ts'
import { normaliseReason } from './reason.ts'

describe('normaliseReason', () => {
  it.each<[string, FailureReason | undefined]>([
    // no reason at all
    ['', undefined],
    ['-', undefined],
    ['via_upstream', undefined],
    ['none', undefined],
    // canonical names pass through
    ['expired', 'expired'],
    ['unknown_key', 'unknown_key'],
    ['rate_limited', 'rate_limited'],
    ['other', 'other'],
    // expired
    ['EXPIRED_TOKEN', 'expired'],
    ['jwt_authn_access_denied{Jwt_is_expired}', 'expired'],
    ['Key has expired, please renew', 'expired'],
    ['token exp', 'expired'],
    // revoked
    ['key revoked', 'revoked'],
    ['Consumer disabled', 'revoked'],
    ['credential deactivated', 'revoked'],
    ['API key blocked', 'revoked'],
    // unknown key
    ['INVALID_API_KEY', 'unknown_key'],
    ['Invalid authentication credentials', 'unknown_key'],
    ['invalid_token', 'unknown_key'],
    ['unknown key', 'unknown_key'],
    ['no such key', 'unknown_key'],
    ['consumer not found', 'unknown_key'],
    // invalid signature
    ['INVALID_SIGNATURE', 'invalid_signature'],
    ['jwt_authn_access_denied{Jwt_verification_fails}', 'invalid_signature'],
    ['bad HMAC signature', 'invalid_signature'],
    // insufficient scope
    ['ACCESS_DENIED', 'insufficient_scope'],
    ['rbac_access_denied_matched_policy[none]', 'insufficient_scope'],
    ['insufficient_scope', 'insufficient_scope'],
    ['Forbidden', 'insufficient_scope'],
    ['jwt_authn_access_denied{Jwt_audience_is_not_allowed}', 'insufficient_scope'],
    ['Access to this API has been disallowed', 'insufficient_scope'],
    // missing credential
    ['MISSING_AUTHENTICATION_TOKEN', 'missing_credential'],
    ['jwt_authn_access_denied{Jwt_is_missing}', 'missing_credential'],
    ['No API key found in request', 'missing_credential'],
    ['Authorization field missing', 'missing_credential'],
    // rate limiting
    ['THROTTLED', 'rate_limited'],
    ['QUOTA_EXCEEDED', 'rate_limited'],
    ['request_rate_limited', 'rate_limited'],
    ['API rate limit exceeded', 'rate_limited'],
    // other: not recognised, or not about the credential
    ['UNAUTHORIZED', 'other'],
    ['ext_authz_denied', 'other'],
    ['RESOURCE_NOT_FOUND', 'other'],
    ['missing parameter: id', 'other'],
    ['invalid request body', 'other'],
    ['WAF_FILTERED', 'other'],
  ])('%s → %s', (text, expected) => {
    expect(normaliseReason(text)).toBe(expected)
  })
})
