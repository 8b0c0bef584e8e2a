// `keyshift notify test --receiver R`: sends one test notification through a
// configured receiver, directly (no daemon, no outbox), and prints the
// outcome. Exit code 1 when the delivery fails, 2 for an unknown receiver.
import { randomBytes } from 'node:crypto'
import type { Command } from 'commander'
import { validateAlertingConfig } from '../alerting/config.ts'
import { createNotifier } from '../alerting/notifiers/registry.ts'
import type { Notification } from '../domain/alert.ts'
import { configFrom, withConfigOption } from './common.ts'

export function registerNotifyCommand(program: Command): void {
  const notify = program.command('notify').description('check notification receivers')
  withConfigOption(notify.command('test'))
    .description('send a test notification through a configured receiver and print the result')
    .requiredOption('-r, --receiver <name>', 'receiver name from alerting.receivers')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { config?: string; receiver: string; json?: boolean }) => {
      const cfg = configFrom(opts)
      validateAlertingConfig(cfg.alerting)
      const receiver = cfg.alerting.receivers[opts.receiver]
      if (receiver === undefined) {
        const known = Object.keys(cfg.alerting.receivers)
        process.stderr.write(
          `keyshift: no receiver "${opts.receiver}" in alerting.receivers (${known.length > 0 ? `defined: ${known.join(', ')}` : 'none defined'})\n`,
        )
        process.exitCode = 2
        return
      }
      const notifier = createNotifier(opts.receiver, receiver, { source: cfg.alerting.event_source })
      const n: Notification = {
        id: `ntf_test_${randomBytes(12).toString('hex')}`,
        kind: 'test',
        receiver: opts.receiver,
        alerts: [],
        groupKey: 'test',
        createdAt: Date.now(),
        ...(cfg.alerting.dashboard_url === undefined ? {} : { dashboardUrl: cfg.alerting.dashboard_url }),
      }
      const started = performance.now()
      const result = await notifier.notify(n)
      const ms = Math.round(performance.now() - started)
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ receiver: opts.receiver, type: notifier.kind, id: n.id, ms, ...result })}\n`,
        )
      } else if (result.ok) {
        process.stdout.write(
          `delivered test notification ${n.id} to ${opts.receiver} (${notifier.kind}) in ${ms} ms\n`,
        )
      } else {
        process.stdout.write(
          `delivery to ${opts.receiver} (${notifier.kind}) failed after ${ms} ms: ${result.error}` +
            ` (${result.retry ? 'temporary: keyshift would retry' : 'permanent: fix the receiver or its configuration'})\n`,
        )
      }
      if (!result.ok) process.exitCode = 1
    })
}
