// `keyshift status [--key K]`: a terminal view of keys, versions with share
// bars, stragglers and readiness verdicts — from a running keyshift (--url) or
// straight from the store.
import type { Command } from 'commander'
import { describeSilence, type PlaceStatus } from '../analysis/freshness.ts'
import type { StragglerReport } from '../analysis/stragglers.ts'
import { createApp } from '../app.ts'
import type { KeyDetail, KeyListEntry } from '../rotation/rotation-service.ts'
import { formatDurationMs, parseDuration } from '../shared/duration.ts'
import { silentLogger } from '../telemetry/logger.ts'
import { callApi, callApiAll } from './api-client.ts'
import { configFrom, offlineConfig, withConfigOption } from './common.ts'

interface VersionView {
  version: string
  state: string
  share1h: number
  share24h: number
  requests24h: number
  lastSeen: number | null
  verdict?: string
  failing?: string[]
  /** Clients still on this version, most recent first. */
  stragglers?: StragglerReport['stragglers']
  /** Clients that used this version in the lookback and have since moved to a newer one. */
  moved?: number
  /** Why possible_leak is not raised for this retired version (too little stored history). */
  leakNote?: string
}

export interface KeyView {
  keyId: string
  versions: VersionView[]
  /** The places that carried the key's traffic and went silent: its verdicts are unknown meanwhile. */
  silentPlaces?: PlaceStatus[]
}

interface Source {
  keys(): Promise<KeyListEntry[]>
  detail(keyId: string): Promise<KeyDetail>
  stragglers(keyId: string, version: string, lookbackMs: number): Promise<StragglerReport>
  verdict(
    keyId: string,
    version: string,
  ): Promise<{ verdict: string; rules: { id: string; outcome: string }[] }>
}

const BAR = 24
const DEFAULT_LOOKBACK_MS = 86_400_000
const SHOWN_STRAGGLERS = 10
export function shareBar(share: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, share)) * BAR)
  return `${'█'.repeat(filled)}${'░'.repeat(BAR - filled)}`
}

const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`
const ago = (t: number | null, now: number) => {
  if (!t) return 'never'
  const s = Math.max(0, Math.round((now - t) / 1000))
  if (s < 120) return `${s}s ago`
  if (s < 7200) return `${Math.round(s / 60)}m ago`
  if (s < 172_800) return `${Math.round(s / 3600)}h ago`
  return `${Math.round(s / 86_400)}d ago`
}

export function renderStatus(
  views: KeyView[],
  now: number,
  lookbackMs = DEFAULT_LOOKBACK_MS,
  /** The lookback as the user wrote it (`24h` rather than `1d`). */
  lookback = formatDurationMs(lookbackMs),
): string {
  const out: string[] = []
  for (const k of views) {
    out.push(`${k.keyId}`)
    for (const p of k.silentPlaces ?? [])
      out.push(`  SILENT ${describeSilence(p)}: verdicts of ${k.keyId} are unknown`)
    for (const v of k.versions) {
      const verdict = v.verdict
        ? `  gate: ${v.verdict}${v.failing?.length ? ` (${v.failing.join(', ')})` : ''}`
        : ''
      out.push(
        `  ${v.version.padEnd(8)} ${v.state.padEnd(12)} ${shareBar(v.share1h)} ${pct(v.share1h)} 1h  ${pct(v.share24h)} 24h  ${String(v.requests24h).padStart(8)} req/24h  last ${ago(v.lastSeen, now)}${verdict}`,
      )
      if (v.leakNote) out.push(`      possible_leak not raised: ${v.leakNote}`)
      for (const s of (v.stragglers ?? []).slice(0, SHOWN_STRAGGLERS)) {
        const both = s.partiallyMigrated ? `  also on ${s.newerVersionsUsed.join(', ')}` : ''
        out.push(
          `      straggler ${(s.clientId || '(no client id)').padEnd(24)} last ${ago(s.lastSeen, now).padEnd(9)} ${String(s.requests).padStart(7)} req/${lookback}  ${s.sourceAddresses.slice(0, 3).join(', ')}${both}`,
        )
      }
      const more = (v.stragglers?.length ?? 0) - SHOWN_STRAGGLERS
      if (more > 0) out.push(`      … and ${more} more (--json lists them all)`)
      if (v.moved) out.push(`      ${v.moved} client(s) moved to a newer version in the last ${lookback}`)
    }
    out.push('')
  }
  if (views.length === 0) out.push('no keys registered or seen in the last 24 h')
  return `${out.join('\n')}\n`
}

/**
 * The places section: how many gateways and sources are reporting, and each
 * silent one by name with since when (verdicts depending on it are unknown).
 */
export function renderPlaces(places: readonly PlaceStatus[]): string {
  const silent = places.filter((p) => p.silent)
  const head = `places: ${places.length - silent.length} of ${places.length} gateway(s) and source(s) reporting`
  return `${[head, ...silent.map((p) => `  SILENT ${describeSilence(p)}`)].join('\n')}\n`
}

export async function collect(src: Source, only: string | undefined, lookbackMs: number): Promise<KeyView[]> {
  const keys = (await src.keys()).filter((k) => !only || k.keyId === only)
  const views: KeyView[] = []
  for (const k of keys) {
    const d = await src.detail(k.keyId)
    const newestActive = d.versions.filter((v) => v.registered && v.state === 'active').at(-1)?.version
    const versions: VersionView[] = []
    for (const v of d.versions) {
      const s1 = d.shares['1h'].versions.find((x) => x.version === v.version)
      const s24 = d.shares['24h'].versions.find((x) => x.version === v.version)
      const view: VersionView = {
        version: v.version,
        state: v.registered ? v.state : 'unregistered',
        share1h: s1?.share ?? 0,
        share24h: s24?.share ?? 0,
        requests24h: s24?.requests ?? 0,
        lastSeen: v.seen?.lastSeen ?? null,
      }
      const leak = d.history?.possibleLeak.find((h) => h.version === v.version)
      if (leak && !leak.judged) view.leakNote = leak.reason
      if (v.registered && newestActive && v.version !== newestActive && v.state !== 'deactivated') {
        const verdict = await src.verdict(d.keyId, v.version)
        view.verdict = verdict.verdict
        view.failing = verdict.rules.filter((r) => r.outcome !== 'pass').map((r) => r.id)
        const report = await src.stragglers(d.keyId, v.version, lookbackMs)
        // Who sent the old version most recently is who to chase first.
        view.stragglers = [...report.stragglers].sort(
          (a, b) => b.lastSeen - a.lastSeen || a.clientId.localeCompare(b.clientId),
        )
        view.moved = report.moved.length
      }
      versions.push(view)
    }
    // `places` is absent from the detail of a daemon older than places_reporting.
    const silentPlaces = (d.places ?? []).filter((p) => p.silent)
    views.push({ keyId: d.keyId, versions, ...(silentPlaces.length > 0 ? { silentPlaces } : {}) })
  }
  return views
}

const apiGet =
  (url: string, token: string | undefined) =>
  <T>(path: string): Promise<T> =>
    callApi<T>(url, path, token === undefined ? {} : { token })

function httpSource(url: string, token: string | undefined): Source {
  const get = apiGet(url, token)
  const enc = encodeURIComponent
  return {
    keys: () => callApiAll<KeyListEntry>(url, '/api/v1/keys', 'keys', token === undefined ? {} : { token }),
    detail: (k) => get(`/api/v1/keys/${enc(k)}`),
    stragglers: (k, v, lookbackMs) =>
      get(`/api/v1/keys/${enc(k)}/versions/${enc(v)}/stragglers?lookback=${formatDurationMs(lookbackMs)}`),
    verdict: (k, v) => get(`/api/v1/keys/${enc(k)}/versions/${enc(v)}/readiness?asked_by=status`),
  }
}

export function registerStatusCommand(program: Command): void {
  withConfigOption(program.command('status'))
    .description('show keys, versions with share bars, stragglers and readiness verdicts')
    .option('-k, --key <key>', 'only this key')
    .option(
      '--url <url>',
      'a running keyshift (default $KEYSHIFT_URL); else the store directly',
      process.env.KEYSHIFT_URL,
    )
    .option('--token <token>', 'read token for --url (default $KEYSHIFT_TOKEN)', process.env.KEYSHIFT_TOKEN)
    .option('--lookback <duration>', 'how far back to look for stragglers, e.g. 6h, 24h, 7d', '24h')
    .option('--json', 'print JSON')
    .action(
      async (o: {
        key?: string
        url?: string
        token?: string
        json?: boolean
        config?: string
        lookback: string
      }) => {
        const now = Date.now()
        const lookbackMs = parseDuration(o.lookback, '--lookback')
        let views: KeyView[]
        let places: PlaceStatus[]
        if (o.url) {
          views = await collect(httpSource(o.url, o.token), o.key, lookbackMs)
          places = (await apiGet(o.url, o.token)<{ places: PlaceStatus[] }>('/api/v1/places')).places
        } else {
          const app = await createApp(offlineConfig(configFrom(o)), {
            logger: silentLogger(),
            existingStore: true,
          })
          try {
            const r = app.rotation
            views = await collect(
              {
                keys: () => r.listKeys(now),
                detail: (k) => r.keyDetail(k, now),
                stragglers: (k, v, lookback) => r.stragglers(k, v, now, lookback),
                verdict: (k, v) =>
                  r.readiness({ keyId: k, version: v, askedBy: 'status', via: 'status', audit: false }, now),
              },
              o.key,
              lookbackMs,
            )
            places = await r.places(now)
          } finally {
            await app.stop()
          }
        }
        process.stdout.write(
          o.json
            ? `${JSON.stringify(views, null, 2)}\n` // places: GET /api/v1/places
            : `${renderStatus(views, now, lookbackMs, o.lookback.trim())}${renderPlaces(places)}`,
        )
      },
    )
}
