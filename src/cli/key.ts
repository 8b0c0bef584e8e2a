// `keyshift key …`: record lifecycle events from the command line, list key
// versions, and compute a secret's fingerprint. Talks to a running keyshift
// with --url (the embedded store admits one process at a time), else directly
// to the store.
import type { Command } from 'commander'
import { createApp, resolvePepper } from '../app.ts'
import { type KeyVersion, LIFECYCLE_ACTIONS, type LifecycleAction } from '../domain/key-version.ts'
import { createFingerprinter } from '../ingest/secrets/fingerprint.ts'
import { parseLifecycle } from '../registry/lifecycle-input.ts'
import type { KeyListEntry } from '../rotation/rotation-service.ts'
import { hostStdin } from '../shared/host-stdin.ts'
import { silentLogger } from '../telemetry/logger.ts'
import { callApi, callApiAll } from './api-client.ts'
import { configFrom, offlineConfig, withConfigOption } from './common.ts'

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of hostStdin()) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8').trim()
}

interface ActionOpts {
  config?: string
  url?: string
  token?: string
  time?: string
  expiresAt?: string
  scopes?: string
  owners?: string
  fingerprint?: string[]
  secretStdin?: boolean
  note?: string
  actor?: string
}

export function registerKeyCommand(program: Command): void {
  const key = program.command('key').description('record and inspect key version lifecycle events')
  for (const action of LIFECYCLE_ACTIONS) {
    withConfigOption(key.command(action))
      .description(`record that <key> <version> was ${action === 'create' ? 'created' : `${action}d`}`)
      .argument('<key>', 'key id, e.g. acme-payments')
      .argument('<version>', 'version label, e.g. v2')
      .option('--time <iso>', 'when it took effect (default now)')
      .option('--expires-at <iso>', 'expiry time of this version')
      .option('--scopes <list>', 'comma-separated scopes')
      .option('--owners <list>', 'comma-separated owner contacts (emails)')
      .option('--fingerprint <fp...>', 'fingerprint(s) of the version secret (fp_…)')
      .option('--secret-stdin', 'read the version secret from stdin and store only its fingerprint')
      .option('--note <text>', 'free-text note for the audit log')
      // Defaults from the environment are option defaults, so the CLI edge scrubs them too.
      .option('--actor <name>', 'who did it (default $USER)', process.env.USER)
      .option('--url <url>', 'a running keyshift (else the store is used directly)', process.env.KEYSHIFT_URL)
      .option(
        '--token <token>',
        'admin bearer token for --url (default $KEYSHIFT_TOKEN)',
        process.env.KEYSHIFT_TOKEN,
      )
      .action(async (keyId: string, version: string, opts: ActionOpts) => {
        const body: Record<string, unknown> = {
          key_id: keyId,
          version,
          action: action as LifecycleAction,
          actor: opts.actor ?? process.env.USER ?? 'cli',
        }
        if (opts.time) body.time = opts.time
        if (opts.expiresAt) body.expires_at = opts.expiresAt
        if (opts.scopes) body.scopes = opts.scopes.split(',').map((s) => s.trim())
        if (opts.owners) body.owners = opts.owners.split(',').map((s) => s.trim())
        if (opts.fingerprint) body.fingerprints = opts.fingerprint
        if (opts.note) body.note = opts.note
        if (opts.secretStdin) body.secret = await readStdin()
        if (opts.url) {
          await callApi(opts.url, '/api/v1/lifecycle', {
            method: 'POST',
            body,
            ...(opts.token === undefined ? {} : { token: opts.token }),
          })
          process.stdout.write(`recorded ${action} ${keyId} ${version}\n`)
          return
        }
        const app = await createApp(offlineConfig(configFrom(opts)), { logger: silentLogger() })
        try {
          const ev = parseLifecycle(body, {
            now: Date.now(),
            fingerprint: app.fingerprint,
            origin: 'cli',
            defaultEventId: `cli:${crypto.randomUUID()}`,
          })
          await app.keys.record([ev])
          process.stdout.write(`recorded ${action} ${keyId} ${version}\n`)
        } finally {
          await app.stop()
        }
      })
  }
  withConfigOption(key.command('list'))
    .description('list key versions and their lifecycle state')
    .option('--url <url>', 'a running keyshift (else the store is used directly)', process.env.KEYSHIFT_URL)
    .option('--token <token>', 'read token for --url (default $KEYSHIFT_TOKEN)', process.env.KEYSHIFT_TOKEN)
    .option('--json', 'print JSON')
    .action(async (opts: { config?: string; json?: boolean; url?: string; token?: string }) => {
      const versions = opts.url ? await versionsFromUrl(opts.url, opts.token) : await versionsFromStore(opts)
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(versions, null, 2)}\n`)
        return
      }
      const iso = (t: number | null) => (t === null ? '-' : new Date(t).toISOString())
      for (const v of versions) {
        process.stdout.write(
          `${v.keyId.padEnd(28)} ${v.version.padEnd(8)} ${v.state.padEnd(12)} activated ${iso(v.activatedAt)}  expires ${iso(v.expiresAt)}\n`,
        )
      }
      if (versions.length === 0) process.stdout.write('no key versions recorded\n')
    })
  withConfigOption(key.command('fingerprint'))
    .description('read a secret on stdin and print its keyed fingerprint (the value keyshift stores)')
    .action(async (opts: { config?: string }) => {
      const fp = createFingerprinter(resolvePepper(configFrom(opts)))
      process.stdout.write(`${fp(await readStdin())}\n`)
    })
}

async function versionsFromUrl(url: string, token: string | undefined): Promise<KeyVersion[]> {
  const keys = await callApiAll<KeyListEntry>(
    url,
    '/api/v1/keys',
    'keys',
    token === undefined ? {} : { token },
  )
  return keys.flatMap((k) => k.registryVersions)
}

async function versionsFromStore(opts: { config?: string }): Promise<KeyVersion[]> {
  const app = await createApp(offlineConfig(configFrom(opts)), {
    logger: silentLogger(),
    existingStore: true,
  })
  try {
    return app.keys.versions()
  } finally {
    await app.stop()
  }
}
