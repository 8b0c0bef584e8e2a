// `keyshift gate`: may the old key version be switched off now? Exit 0 ready,
// 1 not ready, 2 unknown or error — fail closed. Inside GitHub Actions it also
// writes annotations and a job-summary table.
import { appendFileSync } from 'node:fs'
import type { Command } from 'commander'
import type { VerdictWithRules } from '../analysis/readiness.ts'
import { createApp } from '../app.ts'
import { silentLogger } from '../telemetry/logger.ts'
import { callApi } from './api-client.ts'
import { configFrom, offlineConfig, withConfigOption } from './common.ts'
import { acceptBreakage, openIncidentOf } from './incident.ts'

export interface GateVerdict {
  keyId: string
  version: string
  verdict: 'ready' | 'not_ready' | 'unknown'
  rules: VerdictWithRules['rules']
  ingestLagMs: number | null
  /** Set when the verdict followed incident rules (an incident is open for the version). */
  incidentId?: string
  error?: string
}

export const EXIT = { ready: 0, not_ready: 1, unknown: 2 } as const

const MARK = { pass: '✔', fail: '✘', unknown: '?' } as const

export function renderHuman(v: GateVerdict): string {
  const head = {
    ready: `READY: ${v.keyId} ${v.version} may be deactivated.`,
    not_ready: `NOT READY: ${v.keyId} ${v.version} must stay active.`,
    unknown: `UNKNOWN: keyshift cannot tell whether ${v.keyId} ${v.version} may be deactivated (failing closed).`,
  }[v.verdict]
  const lines = [head]
  for (const r of v.rules) lines.push(`  ${MARK[r.outcome]} ${r.id.padEnd(28)} ${r.detail}`)
  if (v.error) lines.push(`  error: ${v.error}`)
  return `${lines.join('\n')}\n`
}

/** GitHub Actions workflow commands: property values and messages need escaping. */
const escData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
const escProp = (s: string) => escData(s).replace(/:/g, '%3A').replace(/,/g, '%2C')
const escCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')

export function githubAnnotations(v: GateVerdict): string {
  const level = v.verdict === 'ready' ? 'notice' : v.verdict === 'not_ready' ? 'error' : 'warning'
  const title = `keyshift gate: ${v.keyId} ${v.version} ${v.verdict}`
  const failing = v.rules.filter((r) => r.outcome !== 'pass').map((r) => `${r.id}: ${r.detail}`)
  const msg = failing.length > 0 ? failing.join('\n') : (v.error ?? 'every readiness rule passed')
  return `::${level} title=${escProp(title)}::${escData(msg)}\n`
}

export function githubSummary(v: GateVerdict): string {
  const rows = v.rules.map((r) => `| ${MARK[r.outcome]} | \`${r.id}\` | ${escCell(r.detail)} |`)
  return [
    `### keyshift gate: \`${v.keyId}\` \`${v.version}\` → **${v.verdict}**`,
    '',
    '| | rule | detail |',
    '|---|---|---|',
    ...rows,
    ...(v.error ? ['', `Error: ${escCell(v.error)}`] : []),
    '',
  ].join('\n')
}

interface GateOpts {
  key?: string
  version?: string
  config?: string
  url?: string
  token?: string
  json?: boolean
  askedBy?: string
  acceptBreakage?: boolean
  why?: string
}

async function verdictFromUrl(o: Required<Pick<GateOpts, 'url'>> & GateOpts, keyId: string, version: string) {
  const query = o.askedBy ? `?${new URLSearchParams({ asked_by: o.askedBy })}` : ''
  return callApi<GateVerdict>(
    o.url,
    `/api/v1/keys/${encodeURIComponent(keyId)}/versions/${encodeURIComponent(version)}/readiness${query}`,
    { token: o.token },
  )
}

async function verdictFromStore(o: GateOpts, keyId: string, version: string): Promise<GateVerdict> {
  const app = await createApp(offlineConfig(configFrom(o)), { logger: silentLogger(), existingStore: true })
  try {
    const v = await app.incidents.verdict(
      { keyId, version, askedBy: o.askedBy ?? 'cli', via: 'cli' },
      Date.now(),
    )
    return {
      keyId,
      version,
      verdict: v.verdict,
      rules: v.rules,
      ingestLagMs: v.ingestLagMs,
      ...('incidentId' in v && v.incidentId ? { incidentId: v.incidentId } : {}),
    }
  } finally {
    await app.stop()
  }
}

function defaultAskedBy(): string {
  return process.env.GITHUB_ACTOR
    ? `github:${process.env.GITHUB_ACTOR}${process.env.GITHUB_RUN_ID ? `/run/${process.env.GITHUB_RUN_ID}` : ''}`
    : `cli:${process.env.USER ?? 'unknown'}`
}

export function registerGateCommand(program: Command): void {
  withConfigOption(program.command('gate'))
    .description(
      'answer "may the old version be switched off now?": exit 0 ready, 1 not ready, 2 unknown/error',
    )
    .argument('[key]', 'key id (or --key)')
    .argument('[version]', 'version to deactivate (or --version)')
    .option('-k, --key <key>', 'key id')
    .option('-v, --version <version>', 'version to deactivate')
    .option(
      '--url <url>',
      'ask a running keyshift (default $KEYSHIFT_URL); else read the store directly',
      process.env.KEYSHIFT_URL,
    )
    .option('--token <token>', 'read token for --url (default $KEYSHIFT_TOKEN)', process.env.KEYSHIFT_TOKEN)
    // Defaults from the environment are option defaults, so the CLI edge scrubs them too.
    .option(
      '--asked-by <who>',
      'recorded in the audit log (default $GITHUB_ACTOR or $USER)',
      defaultAskedBy(),
    )
    .option('--json', 'print the verdict as JSON')
    .option(
      '--accept-breakage',
      'during an incident: accept that the known users not moved yet break (needs --why; recorded with --asked-by)',
    )
    .option('--why <text>', 'why the breakage is acceptable (with --accept-breakage)')
    .action(async (keyArg: string | undefined, versionArg: string | undefined, o: GateOpts) => {
      const keyId = o.key ?? keyArg
      const version = o.version ?? versionArg
      if (!keyId || !version) {
        process.stderr.write('keyshift gate: give the key and version: keyshift gate --key K --version V\n')
        process.exitCode = EXIT.unknown
        return
      }
      if (o.acceptBreakage) {
        if (!o.why) {
          process.stderr.write('keyshift gate: --accept-breakage needs --why "<reason>"\n')
          process.exitCode = EXIT.unknown
          return
        }
        const id = await openIncidentOf(keyId, version, o)
        if (!id) {
          process.stderr.write(
            `keyshift gate: --accept-breakage applies to incidents; no incident is open for ${keyId} ${version}\n`,
          )
          process.exitCode = EXIT.unknown
          return
        }
        await acceptBreakage(id, { actor: o.askedBy ?? defaultAskedBy(), why: o.why }, o)
      }
      let v: GateVerdict
      try {
        v = o.url
          ? await verdictFromUrl({ ...o, url: o.url }, keyId, version)
          : await verdictFromStore(o, keyId, version)
      } catch (err) {
        v = {
          keyId,
          version,
          verdict: 'unknown',
          rules: [],
          ingestLagMs: null,
          error: (err as Error).message,
        }
      }
      process.stdout.write(o.json ? `${JSON.stringify(v, null, 2)}\n` : renderHuman(v))
      if (process.env.GITHUB_ACTIONS === 'true') {
        process.stdout.write(githubAnnotations(v))
        const summary = process.env.GITHUB_STEP_SUMMARY
        if (summary) appendFileSync(summary, githubSummary(v))
      }
      process.exitCode = EXIT[v.verdict] ?? EXIT.unknown
    })
}
