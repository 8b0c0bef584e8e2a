// Watches open incidents for the evaluation loop (leader only): at each
// evaluation, the live view of every open incident becomes alert observations
// (incident-observations.ts); after it, the owners of each leaked version are
// emailed at once when the incident opens and reminded every
// `incidents.reminder_interval_ms` while their clients are still on it. Each
// notice, sent or skipped, is recorded as an incident event, so a restart or a
// new leader keeps the cadence.
import type { EmailMessage } from '../alerting/notifiers/email-message.ts'
import type { DeliveryResult } from '../alerting/notifiers/notifier.ts'
import type { Observation } from '../alerting/pipeline/types.ts'
import type { IncidentView } from '../analysis/incident.ts'
import { findVersion } from '../analysis/versions.ts'
import type { KeyVersion } from '../domain/key-version.ts'
import type { IncidentService } from '../incident/incident-service.ts'
import { buildIncidentNotice, clientsStillOn } from '../incident/owner-notice.ts'
import type { Logger } from '../telemetry/logger.ts'
import { incidentObservations, withoutIncidentRollbacks } from './incident-observations.ts'

/** A failed send is tried again after this long (not at every evaluation). */
const RETRY_SEND_MS = 30_000

export interface IncidentMonitorOptions {
  service: Pick<IncidentService, 'list' | 'ensureSnapshot' | 'view' | 'recordNotice' | 'settings'>
  versions: () => readonly KeyVersion[]
  /** The email receiver's `send`; undefined when none is configured (notices are recorded as skipped). */
  send?: ((m: EmailMessage) => Promise<DeliveryResult>) | undefined
  dashboardUrl?: string | undefined
  logger: Pick<Logger, 'info' | 'warn'>
}

export class IncidentMonitor {
  readonly #o: IncidentMonitorOptions
  #views: IncidentView[] = []
  readonly #failedAt = new Map<string, number>()

  constructor(opts: IncidentMonitorOptions) {
    this.#o = opts
  }

  /** The views of the open incidents at `now` and what they make the evaluation observe. */
  async observe(now: number): Promise<{ views: IncidentView[]; observations: Observation[] }> {
    const open = await this.#o.service.list({ state: 'open' })
    const views: IncidentView[] = []
    for (const inc of open) {
      const withSnapshot = await this.#o.service.ensureSnapshot(inc, now)
      views.push(await this.#o.service.view(withSnapshot, now))
    }
    this.#views = views
    return { views, observations: incidentObservations(views, this.#o.service.settings) }
  }

  /** Drops rollback signals of leaked versions (see withoutIncidentRollbacks). */
  adjust(observations: readonly Observation[]): Observation[] {
    return withoutIncidentRollbacks(observations, this.#views)
  }

  /** Sends the owner notices due at `now` for the incidents last observed; resolves with how many were sent. */
  async notify(now: number): Promise<number> {
    let sent = 0
    for (const view of this.#views) {
      const inc = view.incident
      const opened = inc.notices.find((n) => n.kind === 'opened')
      const last = inc.notices.at(-1)
      const left = clientsStillOn(view)
      let kind: 'opened' | 'reminder'
      if (!opened) kind = 'opened'
      else if (
        !opened.skipped &&
        left.length > 0 &&
        last !== undefined &&
        now - last.at >= this.#o.service.settings.reminder_interval_ms
      )
        kind = 'reminder'
      else continue
      const failed = this.#failedAt.get(inc.id)
      if (failed !== undefined && now - failed < RETRY_SEND_MS) continue
      const kv = findVersion(this.#o.versions(), inc.keyId, inc.version)
      const message = buildIncidentNotice(
        { keyId: inc.keyId, version: inc.version, owners: kv?.owners ?? [] },
        view,
        kind,
        { dashboardUrl: this.#o.dashboardUrl },
      )
      const skipped =
        message.to.length === 0
          ? 'no owner contact of the version is an email address'
          : this.#o.send === undefined
            ? 'no email receiver is configured'
            : ''
      if (!skipped) {
        const result = await this.#o.send!(message)
        if (!result.ok) {
          this.#failedAt.set(inc.id, now)
          this.#o.logger.warn(
            { incident: inc.id, error: result.error },
            'Emailing the owners of a leaked key version failed; it will be tried again.',
          )
          continue
        }
        this.#failedAt.delete(inc.id)
        sent++
      }
      const notice = { at: now, kind, recipients: message.to, clients: left, skipped }
      await this.#o.service.recordNotice(inc, notice)
      // Remember it until the next observation re-reads the incident.
      inc.notices.push(notice)
      this.#o.logger.info(
        { incident: inc.id, kind, recipients: message.to.length, clients: left.length, skipped },
        skipped
          ? 'Recorded an owner notice that could not be sent.'
          : 'Emailed the owners of a leaked key version.',
      )
    }
    return sent
  }

  reset(): void {
    this.#views = []
    this.#failedAt.clear()
  }
}
