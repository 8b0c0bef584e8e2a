// Opt-in owner reminders (`alerting.reminders`): at most once per interval,
// the owner contacts of each deprecated key version get an email listing the
// clients still using it. The last reminder per version is kept in the
// notification log table (receiver `reminders`), so a restart or a new leader
// does not send it again early. A failed send is tried again at the next run.
import { buildOwnerReminder, type EmailMessage, isMailbox } from '../alerting/notifiers/email.ts'
import type { DeliveryResult } from '../alerting/notifiers/notifier.ts'
import type { GroupState } from '../alerting/pipeline/types.ts'
import type { AlertPipelineStore } from '../alerting/pipeline.ts'
import type { StragglerReport } from '../analysis/stragglers.ts'
import type { KeyVersion } from '../domain/key-version.ts'
import type { Logger } from '../telemetry/logger.ts'

/** The receiver name under which reminder logs are kept (not a configured receiver). */
export const REMINDER_LOG = 'reminders'

export interface OwnerRemindersOptions {
  versions: () => readonly KeyVersion[]
  stragglers: (keyId: string, version: string, now: number) => Promise<StragglerReport>
  store: Pick<AlertPipelineStore, 'loadGroupStates' | 'saveGroupStates'>
  /** The email receiver's `send`. */
  send: (message: EmailMessage) => Promise<DeliveryResult>
  intervalMs: number
  dashboardUrl?: string | undefined
  logger: Pick<Logger, 'info' | 'warn'>
}

export class OwnerReminders {
  readonly #o: OwnerRemindersOptions
  #logs: Map<string, GroupState> | null = null

  constructor(opts: OwnerRemindersOptions) {
    this.#o = opts
  }

  /** Forgets the cached log (leadership changed). */
  reset(): void {
    this.#logs = null
  }

  /** Sends the reminders that are due at `now`; resolves with how many were sent. */
  async run(now: number): Promise<number> {
    if (this.#logs === null) {
      const all = await this.#o.store.loadGroupStates(now - 2 * this.#o.intervalMs)
      this.#logs = new Map(all.filter((g) => g.receiver === REMINDER_LOG).map((g) => [g.groupKey, g]))
    }
    let sent = 0
    for (const kv of this.#o.versions()) {
      if (kv.state !== 'deprecated' || !kv.owners.some(isMailbox)) continue
      const groupKey = `reminder:${kv.keyId}:${kv.version}`
      const log = this.#logs.get(groupKey)
      if (log?.lastNotifiedAt != null && now - log.lastNotifiedAt < this.#o.intervalMs) continue
      const report = await this.#o.stragglers(kv.keyId, kv.version, now)
      if (report.stragglers.length === 0) continue
      const message = buildOwnerReminder(
        kv,
        report.stragglers.map((s) => ({
          clientId: s.clientId,
          requests: s.requests,
          lastSeen: s.lastSeen,
          routes: s.routes,
        })),
        { asOf: now, ...(this.#o.dashboardUrl === undefined ? {} : { dashboardUrl: this.#o.dashboardUrl }) },
      )
      if (message.to.length === 0) continue
      const result = await this.#o.send(message)
      if (!result.ok) {
        this.#o.logger.warn(
          { keyId: kv.keyId, version: kv.version, error: result.error },
          'Sending an owner reminder failed; it will be tried again.',
        )
        continue
      }
      const next: GroupState = {
        receiver: REMINDER_LOG,
        groupKey,
        channel: 'alert',
        bornAt: null,
        lastNotifiedAt: now,
        firing: [],
        seq: (log?.seq ?? 0) + 1,
        ver: (log?.ver ?? 0) + 1,
      }
      await this.#o.store.saveGroupStates([next], now)
      this.#logs.set(groupKey, next)
      sent++
      this.#o.logger.info(
        {
          keyId: kv.keyId,
          version: kv.version,
          clients: report.stragglers.length,
          owners: message.to.length,
        },
        'Sent an owner reminder about clients still on a deprecated version.',
      )
    }
    return sent
  }
}
