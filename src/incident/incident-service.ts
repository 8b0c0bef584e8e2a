// The incident side of keyshift: open, close and accept breakage (recorded
// as incident events), the known-user snapshot taken at opening, the live view,
// the gate under incident rules and the post-mortem report. The CLI, the HTTP
// API, the Kafka lifecycle consumer and the evaluation loop all call this one
// service, so they always agree.
import { createHash, randomUUID } from 'node:crypto'
import {
  analyseIncident,
  type IncidentReadiness,
  type IncidentSettings,
  type IncidentUsage,
  type IncidentView,
} from '../analysis/incident.ts'
import { buildIncidentReport, type IncidentReport } from '../analysis/incident-report.ts'
import type { Readiness } from '../analysis/readiness.ts'
import type { TimeWindow } from '../analysis/types.ts'
import { findVersion } from '../analysis/versions.ts'
import { ConflictError, NotFoundError, ValidationError } from '../domain/errors.ts'
import {
  foldIncidents,
  type Incident,
  type IncidentEvent,
  type IncidentState,
  type KnownUser,
  type OwnerNotice,
} from '../domain/incident.ts'
import type { KeyVersion } from '../domain/key-version.ts'
import type { AcceptRequest, CloseRequest, IncidentMessage, OpenRequest } from './incident-input.ts'

/** What the service reads and writes; `store/clickhouse/incident-store.ts` implements it. */
export interface IncidentStorePort {
  recordEvents(events: readonly IncidentEvent[]): Promise<void>
  events(incidentId?: string): Promise<IncidentEvent[]>
  knownUsersBefore(keyId: string, version: string, w: TimeWindow): Promise<KnownUser[]>
  saveSnapshot(incidentId: string, snapshotId: string, users: readonly KnownUser[]): Promise<void>
  snapshot(incidentId: string, snapshotId: string): Promise<KnownUser[]>
  usageSince(
    keyId: string,
    w: TimeWindow,
    opts: { shareFrom: number; deactivatedAt: number | null },
  ): Promise<IncidentUsage[]>
}

export interface GateRequest {
  keyId: string
  version: string
  askedBy: string
  via: 'api' | 'cli' | 'evaluation' | 'status'
  audit?: boolean
}

/** A gate answer: the planned-rotation verdict, or the incident one while an incident is open. */
export type GateAnswer = (Readiness | IncidentReadiness) & { ingestLagMs: number | null; incidentId?: string }

export interface IncidentServiceDeps {
  store: IncidentStorePort
  versions: () => readonly KeyVersion[]
  freshness: (now: number) => Promise<{ lagMs: number | null }>
  /** The planned-rotation verdict (RotationService.readiness), for versions without an open incident. */
  readiness: (req: GateRequest, now: number) => Promise<Readiness & { ingestLagMs: number | null }>
  audit: (e: {
    time: number
    keyId: string
    version: string
    verdict: string
    askedBy: string
    via: string
    evidence: unknown
  }) => Promise<void>
  /** Past verdicts on a key version, for the report. */
  auditLog?: (
    keyId: string,
    version: string,
  ) => Promise<{ time: number; verdict: string; askedBy: string; via: string }[]>
  /** Replaces anything that looks like key material in free text (src/ingest/secrets). */
  scrub: (text: string) => string
  settings: IncidentSettings
}

export class IncidentService {
  readonly #d: IncidentServiceDeps

  constructor(deps: IncidentServiceDeps) {
    this.#d = deps
  }

  get settings(): IncidentSettings {
    return this.#d.settings
  }

  async list(filter: { state?: IncidentState; keyId?: string } = {}): Promise<Incident[]> {
    const all = [...foldIncidents(await this.#d.store.events()).values()]
    return all
      .filter((i) => (filter.state ? i.state === filter.state : true))
      .filter((i) => (filter.keyId ? i.keyId === filter.keyId : true))
      .sort((a, b) => b.openedAt - a.openedAt || (a.id < b.id ? -1 : 1))
  }

  async get(id: string): Promise<Incident> {
    const inc = foldIncidents(await this.#d.store.events(id)).get(id)
    if (!inc) throw new NotFoundError(`incident ${id} does not exist`)
    return inc
  }

  /** The open incident of (key, version), if any. */
  async openFor(keyId: string, version: string): Promise<Incident | null> {
    const open = await this.list({ state: 'open', keyId })
    return open.find((i) => i.version === version) ?? null
  }

  /**
   * Opens an incident and snapshots the version's known users from the history
   * before it. Opening the same incident again (same id: a redelivered Kafka
   * message, a retried request) returns it unchanged.
   */
  async open(
    req: OpenRequest,
    origin: string,
    now: number,
  ): Promise<{ incident: Incident; created: boolean }> {
    const openedAt = req.time ?? now
    const id = req.incidentId ?? incidentIdOf(req.keyId, req.version, openedAt)
    const existing = foldIncidents(await this.#d.store.events(id)).get(id)
    if (existing) return { incident: await this.ensureSnapshot(existing, now), created: false }
    const other = await this.openFor(req.keyId, req.version)
    if (other) {
      throw new ConflictError(
        `incident ${other.id} is already open for ${req.keyId} ${req.version}; close it first or act on it`,
      )
    }
    const window = { from: openedAt - this.#d.settings.snapshot_history_ms, to: openedAt }
    const users = await this.#d.store.knownUsersBefore(req.keyId, req.version, window)
    if (users.length === 0 && !findVersion(this.#d.versions(), req.keyId, req.version)) {
      throw new ValidationError(
        `${req.keyId} ${req.version} is neither in the key registry nor used in the ${days(window)} before the incident; check the key and version`,
      )
    }
    const open: IncidentEvent = {
      eventId: req.eventId ?? `${id}:open`,
      incidentId: id,
      action: 'open',
      time: openedAt,
      keyId: req.keyId,
      version: req.version,
      reason: req.reason,
      actor: this.#d.scrub(req.actor),
      note: this.#d.scrub(req.note),
      detail: {},
      origin,
    }
    await this.#d.store.recordEvents([open])
    await this.#snapshot(open, users, window, origin, now)
    return { incident: await this.get(id), created: true }
  }

  /** Takes the snapshot of an open incident that has none (its opener stopped between the two writes). */
  async ensureSnapshot(inc: Incident, now: number): Promise<Incident> {
    if (inc.snapshot !== null) return inc
    const window = { from: inc.openedAt - this.#d.settings.snapshot_history_ms, to: inc.openedAt }
    const users = await this.#d.store.knownUsersBefore(inc.keyId, inc.version, window)
    const open = inc.events.find((e) => e.action === 'open')!
    await this.#snapshot(open, users, window, 'keyshift', now)
    return this.get(inc.id)
  }

  async #snapshot(
    open: IncidentEvent,
    users: readonly KnownUser[],
    window: TimeWindow,
    origin: string,
    now: number,
  ): Promise<void> {
    const snapshotId = `${now}-${randomUUID().slice(0, 8)}`
    // Rows first, then the event that names them: a reader never follows a
    // snapshot event to rows that are not there.
    await this.#d.store.saveSnapshot(open.incidentId, snapshotId, users)
    await this.#d.store.recordEvents([
      {
        eventId: `${open.incidentId}:snapshot:${snapshotId}`,
        incidentId: open.incidentId,
        action: 'snapshot',
        time: Math.max(now, open.time),
        keyId: open.keyId,
        version: open.version,
        actor: 'keyshift',
        note: '',
        detail: { snapshotId, from: window.from, to: window.to, users: users.length },
        origin,
      },
    ])
  }

  async close(id: string, req: CloseRequest, origin: string, now: number): Promise<Incident> {
    const inc = await this.get(id)
    if (inc.state === 'closed') {
      if (req.eventId && inc.events.some((e) => e.eventId === req.eventId)) return inc
      throw new ConflictError(`incident ${id} was already closed by ${inc.closedBy}`)
    }
    await this.#d.store.recordEvents([
      {
        eventId: req.eventId ?? `${id}:close`,
        incidentId: id,
        action: 'close',
        time: Math.max(req.time ?? now, inc.openedAt),
        keyId: inc.keyId,
        version: inc.version,
        actor: this.#d.scrub(req.actor),
        note: this.#d.scrub(req.note),
        detail: {},
        origin,
      },
    ])
    return this.get(id)
  }

  /**
   * Records that the operator accepts that the known users not moved now will
   * break: who, why, and the list. The gate then passes on the other rules;
   * a known user not in the list still blocks it.
   */
  async acceptBreakage(id: string, req: AcceptRequest, origin: string, now: number): Promise<Incident> {
    const inc = await this.get(id)
    if (inc.state === 'closed') throw new ConflictError(`incident ${id} is closed`)
    const view = await this.view(inc, now)
    const left = view.knownUsers.filter((u) => u.state !== 'moved')
    await this.#d.store.recordEvents([
      {
        eventId: req.eventId ?? `${id}:accept:${now}`,
        incidentId: id,
        action: 'accept_breakage',
        time: req.time ?? now,
        keyId: inc.keyId,
        version: inc.version,
        actor: this.#d.scrub(req.actor),
        note: this.#d.scrub(req.why),
        detail: {
          users: left.map((u) => u.id),
          clients: [...new Set(left.map((u) => u.clientId))].sort(),
        },
        origin,
      },
    ])
    return this.get(id)
  }

  /** Records a notice to the owners (sent or skipped), so reminders keep their cadence across restarts. */
  async recordNotice(inc: Pick<Incident, 'id' | 'keyId' | 'version'>, notice: OwnerNotice): Promise<void> {
    await this.#d.store.recordEvents([
      {
        eventId: `${inc.id}:notice:${notice.kind}:${notice.at}`,
        incidentId: inc.id,
        action: 'owners_notified',
        time: notice.at,
        keyId: inc.keyId,
        version: inc.version,
        actor: 'keyshift',
        note: '',
        detail: {
          kind: notice.kind,
          recipients: notice.recipients,
          clients: notice.clients,
          skipped: notice.skipped,
        },
        origin: 'evaluation',
      },
    ])
  }

  /** Applies one incident message from the lifecycle topic. */
  async apply(msg: IncidentMessage, origin: string, now: number): Promise<Incident> {
    switch (msg.action) {
      case 'open':
        return (await this.open(msg.request, origin, now)).incident
      case 'close':
        return this.close(msg.incidentId, msg.request, origin, now)
      case 'accept_breakage':
        return this.acceptBreakage(msg.incidentId, msg.request, origin, now)
    }
  }

  /** The live view of an incident at `now` (a closed one as it was when it closed). */
  async view(incOrId: Incident | string, now: number): Promise<IncidentView> {
    const inc = typeof incOrId === 'string' ? await this.get(incOrId) : incOrId
    const s = this.#d.settings
    const end = inc.closedAt ?? now
    const versions = this.#d.versions()
    const kv = findVersion(versions, inc.keyId, inc.version)
    const deactivatedAt = kv?.state === 'deactivated' ? kv.deactivatedAt : null
    const shareFrom = Math.max(inc.openedAt, end - s.share_window_ms)
    const [knownUsers, usage, fresh] = await Promise.all([
      inc.snapshot ? this.#d.store.snapshot(inc.id, inc.snapshot.id) : Promise.resolve([]),
      this.#d.store.usageSince(inc.keyId, { from: inc.openedAt, to: end + 1 }, { shareFrom, deactivatedAt }),
      this.#d.freshness(now).catch(() => ({ lagMs: null })),
    ])
    return analyseIncident({
      incident: inc,
      knownUsers,
      usage,
      versions,
      shareFrom,
      ingestLagMs: fresh.lagMs,
      now: end,
      settings: s,
    })
  }

  /**
   * The gate: under incident rules while an incident is open for the version,
   * else the planned-rotation rules. Audited like every verdict.
   */
  async verdict(req: GateRequest, now: number): Promise<GateAnswer> {
    const inc = await this.openFor(req.keyId, req.version)
    if (!inc) return this.#d.readiness(req, now)
    const view = await this.view(inc, now)
    const fresh = await this.#d.freshness(now).catch(() => ({ lagMs: null }))
    if (req.audit ?? true) {
      await this.#d.audit({
        time: now,
        keyId: req.keyId,
        version: req.version,
        verdict: view.readiness.verdict,
        askedBy: req.askedBy,
        via: req.via,
        evidence: { incident: inc.id, rules: view.readiness.rules, ingestLagMs: fresh.lagMs },
      })
    }
    return { ...view.readiness, ingestLagMs: fresh.lagMs }
  }

  async report(id: string, now: number): Promise<IncidentReport> {
    const inc = await this.get(id)
    const [view, audit] = await Promise.all([
      this.view(inc, now),
      this.#d.auditLog ? this.#d.auditLog(inc.keyId, inc.version) : Promise.resolve([]),
    ])
    return buildIncidentReport({
      incident: inc,
      view,
      versions: this.#d.versions(),
      verdicts: audit
        .filter((a) => a.time >= inc.openedAt && a.time <= (inc.closedAt ?? now))
        .map(({ time, verdict, askedBy, via }) => ({ time, verdict, askedBy, via })),
      now,
    })
  }
}

/** A stable id for an incident opened on (key, version) at `openedAt`: the same on every instance and redelivery. */
export function incidentIdOf(keyId: string, version: string, openedAt: number): string {
  return `inc_${createHash('sha256').update(`${keyId}\u0000${version}\u0000${openedAt}`).digest('hex').slice(0, 16)}`
}

function days(w: TimeWindow): string {
  return `${Math.round((w.to - w.from) / 86_400_000)} d`
}
