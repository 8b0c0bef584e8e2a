// Renders an incident report as Markdown for a post-mortem or a compliance
// record: summary, timeline with evidence, checklist, known users, unknown
// sources. Pure; cells are escaped so a user agent cannot break the tables.
import type { IncidentReport } from '../analysis/incident-report.ts'

const utc = (ms: number | null) =>
  ms === null
    ? '—'
    : new Date(ms)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d{3}Z$/, ' UTC')
const cell = (s: string) =>
  s
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/[\r\n]+/g, ' ')
const dur = (ms: number | null) => {
  if (ms === null) return '—'
  const m = Math.round(ms / 60_000)
  return m < 120 ? `${m} min` : `${(m / 60).toFixed(1)} h`
}
const list = (xs: readonly string[]) => (xs.length === 0 ? '—' : xs.map(cell).join(', '))

export function reportMarkdown(r: IncidentReport): string {
  const i = r.incident
  const s = r.summary
  const out: string[] = [
    `# Incident ${i.id}: ${cell(i.keyId)} ${cell(i.version)} (${i.reason})`,
    '',
    `Generated ${utc(r.generatedAt)}.`,
    '',
    '## Summary',
    '',
    '| | |',
    '|---|---|',
    `| State | ${s.state} |`,
    `| Opened | ${utc(i.openedAt)} by ${cell(i.openedBy || 'unknown')} |`,
    `| Note | ${cell(i.note || '—')} |`,
    `| Closed | ${i.closedAt === null ? '—' : `${utc(i.closedAt)} by ${cell(i.closedBy ?? '')}`} |`,
    `| Duration | ${dur(s.durationMs)} |`,
    `| Known users moved | ${s.knownUsersMoved} of ${s.knownUsers} |`,
    `| Unknown sources | ${s.unknownSources} (${s.unknownRequests} request(s), ${s.unknownAccepted} accepted) |`,
    `| Routes reached | ${list(r.routesReached)} |`,
    `| Deactivated | ${utc(s.deactivatedAt)} (${dur(s.timeToDeactivateMs)} after opening) |`,
    `| Gate verdict | ${s.verdict} |`,
    '',
    '## Timeline',
    '',
    '| time | step | what | evidence |',
    '|---|---|---|---|',
    ...r.timeline.map(
      (t) => `| ${utc(t.time)} | ${t.step} | ${cell(t.detail)} | \`${cell(JSON.stringify(t.evidence))}\` |`,
    ),
    '',
    '## Playbook checklist',
    '',
    ...r.checklist.map(
      (c) => `- [${c.state === 'done' ? 'x' : ' '}] **${c.id}** (${c.state}): ${cell(c.detail)}`,
    ),
    '',
    '## Known users (snapshot before opening)',
    '',
    '| client | source | user agent | gateways | state | last use of the leaked version | moved at |',
    '|---|---|---|---|---|---|---|',
    ...r.knownUsers.map(
      (u) =>
        `| ${cell(u.clientId || '—')} | ${cell(u.sourceAddress || '—')} | ${cell(u.userAgent || '—')} | ${list(u.gateways)} | ${u.state}${u.breakageAccepted ? ' (breakage accepted)' : ''} | ${utc(u.lastLeakedUse)} | ${utc(u.movedAt)} |`,
    ),
    '',
    '## Unknown sources',
    '',
    ...(r.unknownSources.length === 0
      ? ['None.']
      : [
          '| source | user agents | gateways | clients | routes | requests | accepted | first | last |',
          '|---|---|---|---|---|---|---|---|---|',
          ...r.unknownSources.map(
            (u) =>
              `| ${cell(u.sourceAddress || '—')} | ${list(u.userAgents)} | ${list(u.gateways)} | ${list(u.clients)} | ${list(u.routes)} | ${u.requests} | ${u.accepted} | ${utc(u.firstSeen)} | ${utc(u.lastSeen)} |`,
          ),
        ]),
    '',
  ]
  return out.join('\n')
}
