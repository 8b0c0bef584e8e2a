// Amazon API Gateway access logs (REST and HTTP APIs) in JSON. Key names are chosen
// by whoever writes the access log format; this preset reads the names AWS uses in
// its own JSON examples (flat), and the same values nested as `context.*` for
// formats that mirror `$context` (e.g. `{"context": {"identity": {…}}}`):
//
//   requestId ($context.requestId)              requestTimeEpoch ($context.requestTimeEpoch, ms)
//   requestTime ($context.requestTime, CLF)     httpMethod ($context.httpMethod)
//   resourcePath | routeKey | path              status ($context.status)
//   ip | sourceIp ($context.identity.sourceIp)  userAgent ($context.identity.userAgent)
//   apiKeyId ($context.identity.apiKeyId)       apiKey ($context.identity.apiKey — raw, fingerprinted)
//   responseType | errorResponseType | error.responseType ($context.error.responseType:
//     INVALID_API_KEY, EXPIRED_TOKEN, ACCESS_DENIED, UNAUTHORIZED,
//     MISSING_AUTHENTICATION_TOKEN, THROTTLED, …), else errorMessage / authorizerError
//   principalId ($context.authorizer.principalId) | caller | user (→ clientId)
//
// Identity, in this order (docs/gateways/aws-apigateway.md; variables from "Variables
// for access logging for API Gateway", AWS API Gateway developer guide, 2024):
// 1. key material `apiKey` ($context.identity.apiKey), fingerprinted;
// 2. key id `apiKeyId` ($context.identity.apiKeyId; `-` when no key was used);
// 3. principal, only when no key was presented: `principalId`
//    ($context.authorizer.principalId, Lambda authorizers), `sub` / `claimsSub` /
//    `username` ($context.authorizer.claims.sub | .username, Cognito and JWT
//    authorizers; nested `authorizer.claims.*` and HTTP API `authorizer.jwt.claims.*`
//    too), else the IAM `user` / `caller` ($context.identity.user | .caller).
// So a request identified only by who made it is stored whatever its outcome.
//   keyVersion ($context.authorizer.keyVersion from a Lambda authorizer)
//   apiId + stage (→ gateway `aws-apigateway:<apiId>/<stage>`)
//   responseLatency ($context.responseLatency, ms)
// HTTP API route keys (`GET /pets/{id}`) lose their method prefix.

import type { Extracted, PresetMapper } from '../extracted.ts'
import { at, firstPresent } from './conventions.ts'

function pick(
  doc: Record<string, unknown>,
  flat: readonly string[],
  nested: readonly (readonly string[])[],
): unknown {
  for (const k of flat) {
    const v = doc[k]
    if (v !== undefined && v !== null && v !== '' && v !== '-') return v
  }
  for (const path of nested) {
    const v = at(doc, 'context', ...path)
    if (v !== undefined && v !== null && v !== '' && v !== '-') return v
  }
  return undefined
}

function stripRouteMethod(v: unknown): unknown {
  if (typeof v !== 'string') return v
  const m = /^[A-Z]+ (\/.*)$/.exec(v)
  return m === null ? v : m[1]
}

export const awsApiGatewayPreset: PresetMapper = (doc): Extracted => {
  const apiId = pick(doc, ['apiId'], [['apiId']])
  const stage = pick(doc, ['stage'], [['stage']])
  const gateway =
    typeof apiId === 'string'
      ? `aws-apigateway:${apiId}${typeof stage === 'string' ? `/${stage}` : ''}`
      : undefined
  const principal = pick(
    doc,
    ['principalId', 'principal', 'sub', 'claimsSub', 'claims_sub', 'username', 'user', 'caller'],
    [
      ['authorizer', 'principalId'],
      ['authorizer', 'claims', 'sub'],
      ['authorizer', 'claims', 'username'],
      ['authorizer', 'claims', 'client_id'],
      ['authorizer', 'jwt', 'claims', 'sub'],
      ['authorizer', 'jwt', 'claims', 'client_id'],
      ['identity', 'user'],
      ['identity', 'caller'],
    ],
  )
  return {
    eventId: pick(doc, ['requestId'], [['requestId']]),
    time: firstPresent(
      pick(doc, ['requestTimeEpoch'], [['requestTimeEpoch']]),
      pick(doc, ['requestTime'], [['requestTime']]),
    ),
    keyId: pick(doc, ['apiKeyId'], [['identity', 'apiKeyId']]),
    keyVersion: pick(doc, ['keyVersion', 'key_version'], [['authorizer', 'keyVersion']]),
    keyMaterial: pick(doc, ['apiKey'], [['identity', 'apiKey']]),
    status: pick(doc, ['status'], [['status']]),
    reason: firstPresent(
      pick(doc, ['responseType', 'errorResponseType'], [['error', 'responseType']]),
      at(doc, 'error', 'responseType'),
      pick(
        doc,
        ['errorMessage', 'authorizerError'],
        [
          ['error', 'message'],
          ['authorizer', 'error'],
        ],
      ),
    ),
    principal,
    clientId: principal,
    sourceAddress: pick(doc, ['ip', 'sourceIp'], [['identity', 'sourceIp']]),
    userAgent: pick(doc, ['userAgent'], [['identity', 'userAgent']]),
    method: pick(doc, ['httpMethod'], [['httpMethod']]),
    route: stripRouteMethod(
      pick(doc, ['resourcePath', 'routeKey', 'path'], [['resourcePath'], ['routeKey'], ['path']]),
    ),
    gateway,
    latencyMs: pick(doc, ['responseLatency'], [['responseLatency']]),
  }
}
