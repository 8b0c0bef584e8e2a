// What the /api/v1 routes answer, as zod schemas: the OpenAPI document
// (src/http/openapi.ts) is generated from them, and the contract test parses
// every route's real answer with them, so the document cannot drift from what
// the routes send. Field names are those of the JSON the routes send.
import { z } from 'zod'
import { LIFECYCLE_ACTIONS, LIFECYCLE_STATES } from '../domain/key-version.ts'

const epochMs = z.number().int().describe('epoch milliseconds')
const nullableMs = epochMs.nullable()
const isoTime = z.string().describe('RFC 3339 time, UTC')

export const keyVersionSchema = z.object({
  keyId: z.string(),
  version: z.string(),
  state: z.enum(LIFECYCLE_STATES),
  createdAt: nullableMs,
  activatedAt: nullableMs,
  deprecatedAt: nullableMs,
  deactivatedAt: nullableMs,
  expiresAt: nullableMs,
  scopes: z.array(z.string()),
  owners: z.array(z.string()),
  fingerprints: z.array(z.string()).describe('keyed fingerprints (fp_…) of the secret, never the secret'),
})

export const lifecycleEventSchema = z.object({
  keyId: z.string(),
  version: z.string(),
  action: z.enum(LIFECYCLE_ACTIONS),
  time: epochMs,
  fingerprints: z.array(z.string()).optional(),
  expiresAt: nullableMs.optional(),
  scopes: z.array(z.string()).optional(),
  owners: z.array(z.string()).optional(),
  actor: z.string().optional(),
  note: z.string().optional(),
})

const versionShareSchema = z.object({
  version: z.string(),
  requests: z.number().int(),
  failures: z.number().int(),
  share: z.number().min(0).max(1),
})

export const shareWindowSchema = z.object({
  from: epochMs,
  to: epochMs,
  totalRequests: z.number().int(),
  versions: z.array(versionShareSchema),
})

const trendPoint = z.object({ time: z.number(), share: z.number() })
const shareTrendSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('estimate'),
    etaMs: z.number(),
    slopePerHour: z.number(),
    r2: z.number(),
    currentShare: z.number(),
    points: z.array(trendPoint),
  }),
  z.object({
    kind: z.literal('none'),
    reason: z.enum(['too_few_points', 'not_decreasing', 'poor_fit', 'already_zero']),
    slopePerHour: z.number().nullable(),
    r2: z.number().nullable(),
    currentShare: z.number().nullable(),
    points: z.array(trendPoint),
  }),
])

const versionSeenSchema = z.object({
  version: z.string(),
  firstSeen: epochMs,
  lastSeen: epochMs,
  requests: z.number().int(),
  failures: z.number().int(),
  clients: z.number().int(),
  sourceAddresses: z.number().int(),
  gateways: z.array(z.string()),
})

const severity = z.enum(['critical', 'warning', 'info'])

export const keyListEntrySchema = z.object({
  keyId: z.string(),
  requests: z.number().int().describe('requests in the last 24 h'),
  failures: z.number().int(),
  versions: z.array(z.string()).describe('versions seen in the last 24 h'),
  lastSeen: epochMs,
  registered: z.boolean(),
  registryVersions: z.array(keyVersionSchema),
  shares1h: shareWindowSchema.nullable(),
  attention: z
    .object({
      level: severity.nullable().describe('the most urgent reason; null when nothing needs a person'),
      reasons: z.array(z.string()).describe('most urgent first'),
    })
    .describe(
      'a deactivated version seen in 24 h (critical), firing unsilenced alerts on the key (their severity), a rotation in progress (info)',
    ),
})

/** A gateway or source and how long it has been silent (docs/freshness.md). */
export const placeStatusSchema = z.object({
  kind: z.enum(['gateway', 'source']),
  name: z.string().describe('gateway name, or file:<path>, stdin, kafka:<topic>#<partition>'),
  lastHeard: epochMs.describe('event time of the newest event stored from the place'),
  silentForMs: z.number().int(),
  silentAfterMs: z.number().int().describe('the bound it is held to (analysis.freshness)'),
  silent: z.boolean().describe('silent longer than its bound: verdicts depending on it are unknown'),
})

const leakHistorySchema = z.object({
  version: z.string(),
  cutoff: epochMs.describe('when the version was deprecated (or deactivated)'),
  cutoffEvent: z.enum(['deprecated', 'deactivated']),
  historyFrom: nullableMs.describe('start of the stored history possible_leak compares with'),
  judged: z.boolean().describe('whether possible_leak is raised for this version at all'),
  reason: z.string(),
})

export const keyDetailSchema = z.object({
  keyId: z.string(),
  now: epochMs,
  versions: z.array(keyVersionSchema.extend({ registered: z.boolean(), seen: versionSeenSchema.nullable() })),
  shares: z.object({
    '5m': shareWindowSchema,
    '1h': shareWindowSchema,
    '24h': shareWindowSchema,
    custom: shareWindowSchema.optional(),
  }),
  series: z.array(shareWindowSchema).describe('share per version in 1-hour buckets over the last 24 hours'),
  trends: z.array(z.object({ version: z.string(), trend: shareTrendSchema })),
  history: z
    .object({
      keyHistoryFrom: nullableMs.describe("the key's earliest stored event"),
      possibleLeak: z.array(leakHistorySchema),
    })
    .describe('per retired version, whether possible_leak can be judged on the stored history, and why'),
  places: z
    .array(placeStatusSchema)
    .describe(
      "the gateways and sources that carried the key's traffic in its readiness lookback, silent first",
    ),
})

const footprint = {
  sourceAddresses: z.array(z.string()),
  userAgents: z.array(z.string()),
  gateways: z.array(z.string()),
  routes: z.array(z.string()),
}

export const stragglerReportSchema = z.object({
  keyId: z.string(),
  version: z.string(),
  now: epochMs,
  stragglers: z.array(
    z.object({
      clientId: z.string(),
      requests: z.number().int(),
      failures: z.number().int(),
      firstSeen: epochMs,
      lastSeen: epochMs,
      partiallyMigrated: z.boolean(),
      newerVersionsUsed: z.array(z.string()),
      newerRequests: z.number().int(),
      ...footprint,
    }),
  ),
  moved: z.array(
    z.object({
      clientId: z.string(),
      movedAt: epochMs,
      lastSeenOld: epochMs,
      newerVersionsUsed: z.array(z.string()),
      requests: z.number().int(),
      ...footprint,
    }),
  ),
})

export const findingSchema = z.object({
  id: z.string(),
  type: z.string(),
  severity,
  keyId: z.string(),
  version: z.string(),
  scope: z.string(),
  labels: z.record(z.string(), z.string()),
  title: z.string(),
  summary: z.string(),
  evidence: z.record(z.string(), z.unknown()),
  firstSeen: epochMs,
  lastSeen: epochMs,
})

export const readinessSchema = z.object({
  now: epochMs,
  keyId: z.string(),
  version: z.string(),
  verdict: z.enum(['ready', 'not_ready', 'unknown']),
  rules: z.array(
    z.object({
      id: z.string(),
      outcome: z.enum(['pass', 'fail', 'unknown']),
      detail: z.string(),
      numbers: z.record(z.string(), z.number().nullable()),
      places: z
        .array(placeStatusSchema)
        .optional()
        .describe("places_reporting only: every place that carried the key's traffic, silent first"),
    }),
  ),
  ingestLagMs: z.number().nullable(),
  error: z.string().optional().describe('why the verdict is unknown when the store could not answer'),
})

export const silenceViewSchema = z.object({
  id: z.string(),
  state: z.enum(['active', 'pending', 'expired']),
  matchers: z.object({
    type: z.array(z.string()).optional(),
    key: z.array(z.string()).optional(),
    version: z.array(z.string()).optional(),
    scope: z.array(z.string()).optional(),
    labels: z.record(z.string(), z.string()).optional(),
  }),
  starts_at: isoTime,
  ends_at: isoTime,
  created_by: z.string(),
  comment: z.string(),
  created_at: isoTime,
  updated_at: isoTime,
})

export const alertViewSchema = z.object({
  id: z.string(),
  channel: z.string(),
  status: z.enum(['pending', 'firing']),
  silenced_by: z.array(z.string()),
  type: z.string(),
  severity,
  key_id: z.string(),
  version: z.string(),
  scope: z.string(),
  labels: z.record(z.string(), z.string()),
  title: z.string(),
  summary: z.string(),
  evidence: z.record(z.string(), z.unknown()),
  starts_at: isoTime,
  pending_since: isoTime,
  fired_at: isoTime.nullable(),
  last_seen: isoTime,
})

export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.string().describe('stable error code, see docs/errors.md'),
})

// --- incidents (src/domain/incident.ts, src/analysis/incident.ts, incident-report.ts) ---

export const incidentSummarySchema = z.object({
  id: z.string(),
  keyId: z.string(),
  version: z.string(),
  reason: z.enum(['leaked', 'suspected', 'compromised']),
  note: z.string(),
  state: z.enum(['open', 'closed']),
  openedAt: epochMs,
  openedBy: z.string(),
  closedAt: nullableMs,
  closedBy: z.string().nullable(),
  closeNote: z.string(),
  snapshot: z
    .object({ id: z.string(), from: epochMs, to: epochMs, users: z.number().int(), takenAt: epochMs })
    .nullable(),
  acceptedBreakage: z
    .object({ by: z.string(), why: z.string(), at: epochMs, users: z.array(z.string()) })
    .nullable(),
  notices: z.array(
    z.object({
      at: epochMs,
      kind: z.enum(['opened', 'reminder']),
      recipients: z.array(z.string()),
      clients: z.array(z.string()),
      skipped: z.string(),
    }),
  ),
})

const knownUserViewSchema = z.object({
  id: z.string(),
  clientId: z.string(),
  sourceAddress: z.string(),
  userAgent: z.string(),
  gateways: z.array(z.string()),
  requestsBefore: z.number().int(),
  lastSeenBefore: epochMs,
  state: z.string(),
  requestsSince: z.number().int(),
  lastLeakedUse: nullableMs,
  firstNewerUse: nullableMs,
  lastNewerUse: nullableMs,
  movedAt: nullableMs,
  rejectedAfterDeactivation: z.number().int(),
  breakageAccepted: z.boolean(),
})

const unknownSourceSchema = z.object({
  sourceAddress: z.string(),
  userAgents: z.array(z.string()),
  gateways: z.array(z.string()),
  clients: z.array(z.string()),
  routes: z.array(z.string()),
  reasons: z.array(z.string()),
  requests: z.number().int(),
  accepted: z.number().int(),
  rejected: z.number().int(),
  acceptedAfterDeactivation: z.number().int(),
  firstSeen: epochMs,
  lastSeen: epochMs,
})

const checklistItemSchema = z.object({ id: z.string(), state: z.string(), detail: z.string() })

export const incidentViewSchema = z.object({
  incident: incidentSummarySchema,
  now: epochMs,
  sinceOpenMs: z.number(),
  versionState: z.string().nullable(),
  deactivatedAt: nullableMs,
  newerVersions: z.array(z.object({ version: z.string(), state: z.string() })),
  knownUsers: z.array(knownUserViewSchema),
  knownUsersOnVersion: z.number().int(),
  knownUsersMoved: z.number().int(),
  unknownSources: z.array(unknownSourceSchema),
  unmatchedFromKnownSources: z.array(
    z.object({
      clientId: z.string(),
      sourceAddress: z.string(),
      userAgent: z.string(),
      requests: z.number().int(),
    }),
  ),
  routesReached: z.array(z.string()),
  scopes: z.array(z.string()),
  share: z.object({
    from: epochMs,
    to: epochMs,
    requests: z.number().int(),
    totalRequests: z.number().int(),
    share: z.number(),
  }),
  afterDeactivation: z.object({
    acceptedByGateway: z.array(
      z.object({ gateway: z.string(), requests: z.number().int(), sources: z.array(z.string()) }),
    ),
    breaking: z.array(
      z.object({
        id: z.string(),
        clientId: z.string(),
        sourceAddress: z.string(),
        rejected: z.number().int(),
      }),
    ),
  }),
  checklist: z.array(checklistItemSchema),
  readiness: z
    .object({
      keyId: z.string(),
      version: z.string(),
      verdict: z.enum(['ready', 'not_ready', 'unknown']),
      rules: z.array(
        z.object({
          id: z.string(),
          outcome: z.enum(['pass', 'fail', 'unknown']),
          detail: z.string(),
          numbers: z.record(z.string(), z.number().nullable()),
        }),
      ),
      incidentId: z.string(),
    })
    .describe('the gate verdict under incident rules'),
})

export const incidentReportSchema = z.object({
  incident: incidentSummarySchema,
  generatedAt: epochMs,
  summary: z.object({
    state: z.enum(['open', 'closed']),
    durationMs: z.number(),
    knownUsers: z.number().int(),
    knownUsersMoved: z.number().int(),
    unknownSources: z.number().int(),
    unknownRequests: z.number().int(),
    unknownAccepted: z.number().int(),
    deactivatedAt: nullableMs,
    timeToDeactivateMs: z.number().nullable(),
    verdict: z.string(),
  }),
  timeline: z.array(
    z.object({
      time: epochMs,
      step: z.string(),
      detail: z.string(),
      evidence: z.record(z.string(), z.unknown()),
    }),
  ),
  checklist: z.array(checklistItemSchema),
  knownUsers: z.array(knownUserViewSchema),
  unknownSources: z.array(unknownSourceSchema),
  routesReached: z.array(z.string()),
})
