// `keyshift incident open|list|show|close|accept-breakage|report`: emergency
// rotation of a leaked key version. With --url the running keyshift's HTTP API
// is used (the embedded store admits one process at a time), else the store
// directly; both go through IncidentService.
import type { Command } from 'commander'
import type { IncidentView } from '../analysis/incident.ts'
import type { IncidentReport } from '../analysis/incident-report.ts'
import { createApp } from '../app.ts'
import type { Incident } from '../domain/incident.ts'
import { incidentSummary } from '../http/routes/incidents.ts'
import { parseAccept, parseClose, parseOpen } from '../incident/incident-input.ts'
import type { IncidentService } from '../incident/incident-service.ts'
import { reportMarkdown } from '../incident/report-markdown.ts'
import { silentLogger } from '../telemetry/logger.ts'
import { configFrom, offlineConfig, withConfigOption } from './common.ts'

interface RemoteOpts {
  config?: string
  url?: string
  token?: string
  json?: boolean
}

type IncidentSummary = ReturnType<typeof incidentSummary>

function withRemote(cmd: Command): Command {
  return withConfigOption(cmd)
    .option('--url <url>', 'a running keyshift (else the store is used directly)', process.env.KEYSHIFT_URL)
    .option('--token <token>', 'bearer token for --url (default $KEYSHIFT_TOKEN)', process.env.KEYSHIFT_TOKEN)
    .option('--json', 'print JSON')
}

async function api(opts: RemoteOpts, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(new URL(path, opts.url), {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      authorization: `Bearer ${opts.token ?? ''}`,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  })
  const text = await res.text()
  if (!res.ok) {
    let detail = text
    try {
      detail = (JSON.parse(text) as { detail?: string }).detail ?? text
    } catch {
      // not a problem document
    }
    throw new Error(`keyshift answered ${res.status}: ${detail}`)
  }
  return res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text
}

async function withService<T>(opts: RemoteOpts, fn: (s: IncidentService) => Promise<T>): Promise<T> {
  // Every incident command needs the store the daemon filled: never invent an empty one.
  const app = await createApp(offlineConfig(configFrom(opts)), {
    logger: silentLogger(),
    existingStore: true,
  })
  try {
    return await fn(app.incidents)
  } finally {
    await app.stop()
  }
}

const who = () => `cli:${process.env.USER ?? 'unknown'}`
const utc = (ms: number | null) => (ms === null ? '—' : new Date(ms).toISOString())
const out = (s: string): void => {
  process.stdout.write(`${s}\n`)
}

function summaryLine(i: IncidentSummary): string {
  return `${i.id}  ${i.state.padEnd(6)}  ${i.keyId} ${i.version}  ${i.reason.padEnd(11)}  opened ${utc(i.openedAt)} by ${i.openedBy}${i.note ? `: ${i.note}` : ''}`
}

const MARK = { done: '✔', pending: '…', failed: '✘', unknown: '?' } as const

/** The live view, for a terminal. */
export function renderView(v: IncidentView): string {
  const i = v.incident
  const lines = [
    `Incident ${i.id} (${i.state}): ${i.keyId} ${i.version} ${i.reason}, open for ${Math.round(v.sinceOpenMs / 60_000)} min`,
    `  ${v.incident.version} is ${v.versionState ?? 'not in the registry'}; share of the key's traffic since ${utc(v.share.from)}: ${(v.share.share * 100).toFixed(1)}% (${v.share.requests} of ${v.share.totalRequests})`,
    '',
    'Checklist:',
    ...v.checklist.map((c) => `  ${MARK[c.state]} ${c.id.padEnd(36)} ${c.detail}`),
    '',
    `Known users (${v.knownUsersMoved} of ${v.knownUsers.length} moved):`,
    ...v.knownUsers.map(
      (u) =>
        `  ${u.state.padEnd(10)} ${u.clientId || '—'}  ${u.sourceAddress || '—'}  ${u.userAgent || '—'}  last leaked use ${utc(u.lastLeakedUse)}${u.breakageAccepted ? '  (breakage accepted)' : ''}`,
    ),
    '',
    `Unknown sources (${v.unknownSources.length}):`,
    ...v.unknownSources.map(
      (u) =>
        `  ${u.sourceAddress || '—'}  ${u.userAgents.join(', ')}  via ${u.gateways.join(', ')}  ${u.requests} req (${u.accepted} accepted)  routes ${u.routes.join(', ') || '—'}  last ${utc(u.lastSeen)}`,
    ),
    '',
    `Routes reached: ${v.routesReached.join(', ') || '—'}`,
    `Gate (incident rules): ${v.readiness.verdict}`,
    ...v.readiness.rules.map((r) => `  ${r.outcome.padEnd(7)} ${r.id.padEnd(20)} ${r.detail}`),
  ]
  return `${lines.join('\n')}\n`
}

export function registerIncidentCommand(program: Command): void {
  const incident = program
    .command('incident')
    .description('emergency rotation of a leaked key version: open, follow, close, report')

  withRemote(incident.command('open'))
    .description("open an incident and snapshot the version's known users from the history before it")
    .requiredOption('-k, --key <key>', 'key id')
    .requiredOption('-v, --version <version>', 'the leaked version')
    .requiredOption('--reason <reason>', 'leaked, suspected or compromised')
    .option('--note <text>', 'where it leaked, a ticket (key material in it is fingerprinted)')
    .option('--actor <who>', 'who opens it (default cli:$USER)')
    .option('--at <time>', 'when it opened (RFC 3339 or epoch ms; default now)')
    .action(
      async (
        o: RemoteOpts & {
          key: string
          version: string
          reason: string
          note?: string
          actor?: string
          at?: string
        },
      ) => {
        const body = {
          key_id: o.key,
          version: o.version,
          reason: o.reason,
          ...(o.note === undefined ? {} : { note: o.note }),
          actor: o.actor ?? who(),
          ...(o.at === undefined ? {} : { time: /^\d+$/.test(o.at) ? Number(o.at) : o.at }),
        }
        let r: { created: boolean; incident: IncidentSummary }
        if (o.url) r = (await api(o, 'POST', '/api/v1/incidents', body)) as typeof r
        else {
          const req = parseOpen(body, who())
          r = await withService(o, async (s) => {
            const x = await s.open(req, 'cli', Date.now())
            return { created: x.created, incident: incidentSummary(x.incident) }
          })
        }
        if (o.json) return out(JSON.stringify(r, null, 2))
        const snap = r.incident.snapshot
        out(`${r.created ? 'opened' : 'already open:'} ${summaryLine(r.incident)}`)
        out(
          snap === null || snap.users === 0
            ? `  known users: none found in the history before opening: the gate will answer unknown until breakage is accepted or users appear`
            : `  known users: ${snap.users} (client, source, user agent, gateway) use(s) before opening`,
        )
        out(`  follow it: keyshift incident show ${r.incident.id}`)
      },
    )

  withRemote(incident.command('list'))
    .description('list incidents, newest first')
    .option('--state <state>', 'open or closed')
    .option('-k, --key <key>', 'only this key')
    .action(async (o: RemoteOpts & { state?: 'open' | 'closed'; key?: string }) => {
      if (o.state !== undefined && o.state !== 'open' && o.state !== 'closed')
        throw new Error(`--state ${o.state}: use open or closed`)
      let list: IncidentSummary[]
      if (o.url) {
        const q = new URLSearchParams({
          ...(o.state ? { state: o.state } : {}),
          ...(o.key ? { key: o.key } : {}),
        })
        list = ((await api(o, 'GET', `/api/v1/incidents?${q}`)) as { incidents: IncidentSummary[] }).incidents
      } else {
        list = await withService(o, async (s) =>
          (await s.list({ ...(o.state ? { state: o.state } : {}), ...(o.key ? { keyId: o.key } : {}) })).map(
            (i: Incident) => incidentSummary(i),
          ),
        )
      }
      if (o.json) return out(JSON.stringify(list, null, 2))
      if (list.length === 0) return out('no incidents')
      for (const i of list) out(summaryLine(i))
    })

  withRemote(incident.command('show'))
    .description('the live view: known users still on the version, unknown sources, checklist, gate')
    .argument('<id>', 'incident id (inc_…)')
    .action(async (id: string, o: RemoteOpts) => {
      const v = o.url
        ? ((await api(o, 'GET', `/api/v1/incidents/${encodeURIComponent(id)}`)) as IncidentView)
        : await withService(o, (s) => s.view(id, Date.now()))
      process.stdout.write(o.json ? `${JSON.stringify(v, null, 2)}\n` : renderView(v))
    })

  withRemote(incident.command('close'))
    .description('close an incident')
    .argument('<id>', 'incident id (inc_…)')
    .option('--note <text>', 'how it ended')
    .option('--actor <who>', 'who closes it (default cli:$USER)')
    .action(async (id: string, o: RemoteOpts & { note?: string; actor?: string }) => {
      const body = { actor: o.actor ?? who(), ...(o.note === undefined ? {} : { note: o.note }) }
      let inc: IncidentSummary
      if (o.url) {
        inc = (
          (await api(o, 'POST', `/api/v1/incidents/${encodeURIComponent(id)}/close`, body)) as {
            incident: IncidentSummary
          }
        ).incident
      } else {
        const { incidentId: _i, ...req } = parseClose(body, who())
        inc = await withService(o, async (s) => incidentSummary(await s.close(id, req, 'cli', Date.now())))
      }
      if (o.json) return out(JSON.stringify(inc, null, 2))
      out(`closed ${summaryLine(inc)}`)
    })

  withRemote(incident.command('accept-breakage'))
    .description('accept that the known users not moved yet will break when the version is deactivated')
    .argument('<id>', 'incident id (inc_…)')
    .requiredOption('--why <text>', 'why the breakage is acceptable (recorded)')
    .option('--actor <who>', 'who accepts it (default cli:$USER)')
    .action(async (id: string, o: RemoteOpts & { why: string; actor?: string }) => {
      const inc = await acceptBreakage(id, { actor: o.actor ?? who(), why: o.why }, o)
      if (o.json) return out(JSON.stringify(inc, null, 2))
      const a = inc.acceptedBreakage
      out(`recorded: ${a?.by} accepts that ${a?.users.length ?? 0} known user(s) break: ${a?.why}`)
    })

  withRemote(incident.command('report'))
    .description('the timeline with evidence, for the post-mortem and compliance')
    .argument('<id>', 'incident id (inc_…)')
    .option('--format <format>', 'md or json', 'md')
    .action(async (id: string, o: RemoteOpts & { format: string }) => {
      if (o.format !== 'md' && o.format !== 'json') throw new Error(`--format ${o.format}: use md or json`)
      if (o.url) {
        const r = await api(o, 'GET', `/api/v1/incidents/${encodeURIComponent(id)}/report?format=${o.format}`)
        process.stdout.write(typeof r === 'string' ? r : `${JSON.stringify(r, null, 2)}\n`)
        return
      }
      const r: IncidentReport = await withService(o, (s) => s.report(id, Date.now()))
      process.stdout.write(o.format === 'md' ? reportMarkdown(r) : `${JSON.stringify(r, null, 2)}\n`)
    })
}

/** Records accepted breakage through the API (--url) or the store; used by `incident accept-breakage` and `gate --accept-breakage`. */
export async function acceptBreakage(
  id: string,
  body: { actor: string; why: string },
  o: RemoteOpts,
): Promise<IncidentSummary> {
  if (o.url) {
    return (
      (await api(o, 'POST', `/api/v1/incidents/${encodeURIComponent(id)}/accept-breakage`, body)) as {
        incident: IncidentSummary
      }
    ).incident
  }
  const { incidentId: _i, ...req } = parseAccept(body)
  return withService(o, async (s) => incidentSummary(await s.acceptBreakage(id, req, 'cli', Date.now())))
}

/** The open incident of (key, version) through the API or the store, for `gate --accept-breakage`. */
export async function openIncidentOf(keyId: string, version: string, o: RemoteOpts): Promise<string | null> {
  if (o.url) {
    const q = new URLSearchParams({ state: 'open', key: keyId })
    const r = (await api(o, 'GET', `/api/v1/incidents?${q}`)) as { incidents: IncidentSummary[] }
    return r.incidents.find((i) => i.version === version)?.id ?? null
  }
  return withService(o, async (s) => (await s.openFor(keyId, version))?.id ?? null)
}
