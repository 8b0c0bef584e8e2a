// Gateway reason codes and texts → canonical failure reasons. Gateways say the same
// thing many ways (`EXPIRED_TOKEN`, `jwt_authn_access_denied{Jwt_is_expired}`, `Key
// has expired, please renew`); this table is the one place that knows them.

import { FAILURE_REASONS, type FailureReason } from '../../domain/auth-event.ts'

/** Reasons that mean the credential itself was rejected: they make an event a failure. */
export const AUTH_FAILURE_REASONS: ReadonlySet<FailureReason> = new Set<FailureReason>([
  'expired',
  'revoked',
  'unknown_key',
  'invalid_signature',
  'insufficient_scope',
  'missing_credential',
])

/** Gateway values that carry no reason at all (`via_upstream` is Envoy's "the upstream answered"). */
const IGNORED = new Set([
  '',
  '-',
  'none',
  'null',
  'ok',
  'success',
  'via_upstream',
  'default_4xx',
  'default_5xx',
])

const CRED = '(?:api[ _-]?)?(?:key|credential|token|consumer|client|auth|jwt|bearer)'

/**
 * Ordered rules, first match wins; matching is case-insensitive on substrings.
 * Order matters: `INVALID_SIGNATURE` is a signature problem before it is "invalid",
 * an expired token is expired before it is "access denied". Generic words (invalid,
 * unknown, missing, not found, blocked) only count next to a credential word, so
 * `RESOURCE_NOT_FOUND` or `missing parameter` are not auth failures.
 */
export const REASON_RULES: ReadonlyArray<readonly [RegExp, FailureReason]> = [
  [/expir|(?:^|[^a-z])exp(?:[^a-z]|$)/i, 'expired'],
  [
    new RegExp(
      `revok|disabled|deactivat|suspended|${CRED}s?[ _-]?(?:is[ _-]?|has[ _-]?been[ _-]?)?blocked`,
      'i',
    ),
    'revoked',
  ],
  [/signature|verification[ _-]?fail/i, 'invalid_signature'],
  [
    /scope|forbidden|access[ _-]?denied|rbac|not[ _-]?allowed|disallowed|permission|insufficient/i,
    'insufficient_scope',
  ],
  [
    new RegExp(
      `(?:^|[^a-z])(?:no|missing)[ _-]?${CRED}|(?:key|credential|token|auth\\w*|jwt)[ _-]?(?:is[ _-]?|field[ _-]?|header[ _-]?)?(?:missing|not[ _-]?provided|absent)`,
      'i',
    ),
    'missing_credential',
  ],
  [
    new RegExp(
      `(?:invalid|unknown|unrecogni[sz]ed|bad|wrong)[ _-]?${CRED}|no[ _-]?such[ _-]?(?:key|credential|consumer)|(?:key|credential|consumer|token)s?[ _-]?(?:was[ _-]?)?not[ _-]?found`,
      'i',
    ),
    'unknown_key',
  ],
  [/rate[ _-]?limit|throttl|quota|too[ _-]?many[ _-]?requests/i, 'rate_limited'],
]

const INNER_DETAIL_RE = /\{([^{}]+)\}/

function byRules(text: string): FailureReason {
  for (const [re, reason] of REASON_RULES) if (re.test(text)) return reason
  return 'other'
}

/**
 * Normalises a gateway reason. Returns `undefined` when the value carries no reason
 * (absent, `-`, `via_upstream`, …); a canonical reason name passes through as is;
 * Envoy-style details are judged on their inner `{…}` part first
 * (`jwt_authn_access_denied{Jwt_is_missing}` → `missing_credential`); anything
 * unrecognised is `other`.
 */
export function normaliseReason(value: string): FailureReason | undefined {
  const text = value.trim()
  const lower = text.toLowerCase()
  if (IGNORED.has(lower)) return undefined
  if ((FAILURE_REASONS as readonly string[]).includes(lower)) {
    return lower === 'none' ? undefined : (lower as FailureReason)
  }
  const inner = INNER_DETAIL_RE.exec(text)
  if (inner !== null) {
    const r = byRules(inner[1]!)
    if (r !== 'other') return r
  }
  return byRules(text)
}
