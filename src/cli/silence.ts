// `keyshift silence add|list|expire`: mute alerts for a while (maintenance, a
// known incident). With --url the running keyshift's HTTP API is used (the
// embedded store admits one process at a time), else the store directly.
import { randomUUID } from 'node:crypto'
import type { Command } from 'commander'
import { newSilence, type SilenceInput } from '../alerting/pipeline/silence.ts'
import { createApp } from '../app.ts'
import { type SilenceView, toSilenceView } from '../http/routes/silences.ts'
import { AlertStore } from '../store/clickhouse/alert-store.ts'
import { silentLogger } from '../telemetry/logger.ts'
import { callApi } from './api-client.ts'
import { configFrom, offlineConfig, withConfigOption } from './common.ts'

interface RemoteOpts {
  config?: string
  url?: string
  token?: string
  json?: boolean
}

interface AddOpts extends RemoteOpts {
  type?: string[]
  key?: string[]
  version?: string[]
  scope?: string[]
  label?: string[]
  duration?: string
  endsAt?: string
  startsAt?: string
  comment: string
  createdBy?: string
}

const collect = (v: string, prev: string[] = []) => [
  ...prev,
  ...v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
]

function withRemote(cmd: Command): Command {
  return withConfigOption(cmd)
    .option('--url <url>', 'a running keyshift (else the store is used directly)', process.env.KEYSHIFT_URL)
    .option('--token <token>', 'bearer token for --url (default $KEYSHIFT_TOKEN)', process.env.KEYSHIFT_TOKEN)
    .option('--json', 'print JSON')
}

/** A request to the running keyshift; failures name the URL and the cause. */
function api(opts: RemoteOpts, method: string, path: string, body?: unknown): Promise<unknown> {
  return callApi(opts.url ?? '', path, {
    method,
    ...(body === undefined ? {} : { body }),
    ...(opts.token === undefined ? {} : { token: opts.token }),
  })
}

/** Runs `fn` against the store of the configured data directory (no daemon may hold an embedded store). */
async function withStore<T>(opts: RemoteOpts, fn: (store: AlertStore) => Promise<T>): Promise<T> {
  const app = await createApp(offlineConfig(configFrom(opts)), {
    logger: silentLogger(),
    existingStore: true,
  })
  try {
    return await fn(new AlertStore(app.store.client, app.store.database))
  } finally {
    await app.stop()
  }
}

function matchersText(m: SilenceView['matchers']): string {
  const parts: string[] = []
  for (const f of ['type', 'key', 'version', 'scope'] as const) if (m[f]) parts.push(`${f}=${m[f].join('|')}`)
  for (const [k, v] of Object.entries(m.labels ?? {})) parts.push(`labels.${k}=${v}`)
  return parts.join(' ')
}

function print(views: SilenceView[], json: boolean | undefined): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(views, null, 2)}\n`)
    return
  }
  if (views.length === 0) {
    process.stdout.write('no silences\n')
    return
  }
  for (const s of views) {
    process.stdout.write(
      `${s.id}  ${s.state.padEnd(7)}  until ${s.ends_at}  ${matchersText(s.matchers)}  by ${s.created_by}: ${s.comment}\n`,
    )
  }
}

export function registerSilenceCommand(program: Command): void {
  const silence = program.command('silence').description('mute alerts for a while, list and expire silences')

  withRemote(silence.command('add'))
    .description('create a silence: alerts matching every given matcher are not notified until it ends')
    .option('--type <types>', 'alert type(s), comma-separated or repeated (globs)', collect)
    .option('--key <keys>', 'key id(s), e.g. acme-* (globs)', collect)
    .option('--version <versions>', 'version label(s) (globs)', collect)
    .option('--scope <scopes>', 'scope(s), e.g. gateway=kong-eu (globs)', collect)
    .option(
      '--label <name=value>',
      'label matcher, repeatable (value is a glob)',
      (v: string, p: string[] = []) => [...p, v],
    )
    .option('--duration <duration>', 'how long, e.g. 30m, 2h, 1d (or use --ends-at)')
    .option('--ends-at <time>', 'RFC 3339 end time')
    .option('--starts-at <time>', 'RFC 3339 start time (default now)')
    .requiredOption('--comment <text>', 'why (a ticket, an incident)')
    .option('--created-by <name>', 'who (default $USER)', process.env.USER)
    .action(async (opts: AddOpts) => {
      const labels: Record<string, string> = {}
      for (const l of opts.label ?? []) {
        const at = l.indexOf('=')
        if (at <= 0) throw new Error(`--label ${l}: write name=value`)
        labels[l.slice(0, at)] = l.slice(at + 1)
      }
      const body: SilenceInput = {
        matchers: {
          ...(opts.type ? { type: opts.type } : {}),
          ...(opts.key ? { key: opts.key } : {}),
          ...(opts.version ? { version: opts.version } : {}),
          ...(opts.scope ? { scope: opts.scope } : {}),
          ...(Object.keys(labels).length > 0 ? { labels } : {}),
        },
        created_by: opts.createdBy ?? process.env.USER ?? 'cli',
        comment: opts.comment,
        ...(opts.duration ? { duration: opts.duration } : {}),
        ...(opts.endsAt ? { ends_at: opts.endsAt } : {}),
        ...(opts.startsAt ? { starts_at: opts.startsAt } : {}),
      }
      let view: SilenceView
      if (opts.url) {
        view = ((await api(opts, 'POST', '/api/v1/silences', body)) as { silence: SilenceView }).silence
      } else {
        const now = Date.now()
        const s = newSilence(body, now, `sil_${randomUUID()}`)
        await withStore(opts, (store) => store.saveSilence(s))
        view = toSilenceView(s, now)
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`)
      else process.stdout.write(`created silence ${view.id} until ${view.ends_at}\n`)
    })

  withRemote(silence.command('list'))
    .description('list silences that have not ended')
    .option('--expired', 'include silences ended within the last 7 days')
    .action(async (opts: RemoteOpts & { expired?: boolean }) => {
      if (opts.url) {
        const r = (await api(opts, 'GET', `/api/v1/silences${opts.expired ? '?expired=true' : ''}`)) as {
          silences: SilenceView[]
        }
        print(r.silences, opts.json)
        return
      }
      const now = Date.now()
      const list = await withStore(opts, (store) =>
        store.listSilences({ now, ...(opts.expired ? { includeExpiredSince: now - 7 * 86_400_000 } : {}) }),
      )
      print(
        list.map((s) => toSilenceView(s, now)),
        opts.json,
      )
    })

  withRemote(silence.command('expire'))
    .description('end a silence now')
    .argument('<id>', 'silence id (sil_…)')
    .action(async (id: string, opts: RemoteOpts) => {
      let view: SilenceView
      if (opts.url) {
        view = (
          (await api(opts, 'DELETE', `/api/v1/silences/${encodeURIComponent(id)}`)) as {
            silence: SilenceView
          }
        ).silence
      } else {
        const now = Date.now()
        view = toSilenceView(await withStore(opts, (store) => store.expireSilence(id, now)), now)
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`)
      else process.stdout.write(`expired silence ${view.id} (ended ${view.ends_at})\n`)
    })
}
