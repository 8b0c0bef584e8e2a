// Receiver configuration and the factory that turns one configured receiver
// into its notifier. The config section `receivers: { <name>: <receiver> }`
// embeds `receiverConfigSchema`; `parseReceiverConfig` validates one receiver
// alone (CLI `receivers test`, tests) with messages that name the field and the fix.
import { z } from 'zod'
import { ConfigError } from '../../domain/errors.ts'
import { EmailNotifier, emailConfigSchema } from './email.ts'
import type { Notifier, NotifierDeps } from './notifier.ts'
import { SlackNotifier, slackConfigSchema } from './slack.ts'
import { WebhookNotifier, webhookConfigSchema } from './webhook.ts'

export const RECEIVER_TYPES = ['webhook', 'slack', 'email'] as const

export const receiverConfigSchema = z.discriminatedUnion(
  'type',
  [webhookConfigSchema, slackConfigSchema, emailConfigSchema],
  {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? `type must be one of ${RECEIVER_TYPES.map((t) => `"${t}"`).join(', ')}`
        : undefined,
  },
)

/** A validated receiver: defaults applied, secrets wrapped in `Secret`. */
export type ReceiverConfig = z.output<typeof receiverConfigSchema>
/** A receiver as written in the configuration file. */
export type ReceiverConfigInput = z.input<typeof receiverConfigSchema>

/** Receiver names appear in metrics labels, logs and notification ids. */
export const receiverName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'receiver names are 1-63 characters: a-z, 0-9, "_" and "-"')

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

/** Validates one receiver; throws ConfigError listing every problem as `receivers.<name>.<field>: <fix>`. */
export function parseReceiverConfig(name: string, input: unknown): ReceiverConfig {
  const issues: string[] = []
  const n = receiverName.safeParse(name)
  if (!n.success) issues.push(`  - receivers.${name}: ${n.error.issues[0]?.message ?? 'invalid name'}`)
  const r = receiverConfigSchema.safeParse(input)
  if (!r.success) {
    for (const issue of r.error.issues) {
      const field = ['receivers', name, ...issue.path.map(String)].join('.')
      issues.push(`  - ${field}: ${issue.message}`)
    }
  }
  if (issues.length > 0 || !r.success) {
    throw new ConfigError(`invalid receiver "${name}":\n${issues.join('\n')}`)
  }
  return deepFreeze(r.data)
}

/**
 * The notifier for a validated receiver. Throws ConfigError when the receiver
 * cannot be set up (e.g. an unreadable `tls.ca_file`).
 */
export function createNotifier(name: string, config: ReceiverConfig, deps: NotifierDeps = {}): Notifier {
  switch (config.type) {
    case 'webhook':
      return new WebhookNotifier(name, config, deps)
    case 'slack':
      return new SlackNotifier(name, config, deps)
    case 'email':
      return new EmailNotifier(name, config, deps)
  }
}
