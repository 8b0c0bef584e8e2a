// keyshift status page: polls the read API under /api/v1 and renders each key's
// version shares (bars and an hourly SVG chart), the readiness verdict and
// stragglers of every old version, and the open alerts or findings. A plain ES
// module with no dependencies; every value from the API reaches the DOM as text
// or as an attribute value, never as markup.

const SVG_NS = 'http://www.w3.org/2000/svg'
const TOKEN_STORAGE_KEY = 'keyshift.token'
const DEFAULT_REFRESH_S = 5
const MIN_REFRESH_S = 1
const REQUEST_TIMEOUT_MS = 15_000
/** Requests in flight at once: a fleet of keys must not hammer the store every few seconds. */
const MAX_CONCURRENT_REQUESTS = 6
const STRAGGLERS_SHOWN = 10
/**
 * Keys shown at once, needs-attention first: each costs a few requests per
 * refresh, so the page's load follows this, never the number of keys (10 000
 * keys are ordinary on an API platform). The rest are a page turn away.
 */
const KEYS_PER_PAGE = 20
const LIST_ITEMS_SHOWN = 3
const PALETTE_SIZE = 8
const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 }

// ---------------------------------------------------------------------------
// Settings: refresh interval (?refresh=) and bearer token (#token= or storage)
// ---------------------------------------------------------------------------

/**
 * `?refresh=` in seconds (`10`, `2.5`, `10s`, `1m`, `500ms`); `0` or `off` turns
 * automatic refresh off. Missing or unreadable values mean the default; values
 * below one second are raised to one second.
 */
export function refreshSeconds(search) {
  const raw = new URLSearchParams(search).get('refresh')
  if (raw === null || raw.trim() === '') return DEFAULT_REFRESH_S
  const value = raw.trim().toLowerCase()
  if (value === 'off' || value === 'false') return 0
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value)
  if (!m) return DEFAULT_REFRESH_S
  const seconds = Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2] ?? 's']
  if (seconds === 0) return 0
  return Math.max(MIN_REFRESH_S, seconds)
}

let memoryToken = null

function readToken() {
  try {
    return window.localStorage.getItem(TOKEN_STORAGE_KEY) ?? memoryToken
  } catch {
    return memoryToken
  }
}

function writeToken(token) {
  memoryToken = token
  try {
    if (token === null) window.localStorage.removeItem(TOKEN_STORAGE_KEY)
    else window.localStorage.setItem(TOKEN_STORAGE_KEY, token)
  } catch {
    // Storage disabled: the token lives as long as the page.
  }
}

/** Moves `#token=` from the URL into storage, so it does not linger in the address bar or bookmarks. */
function takeTokenFromFragment() {
  const params = new URLSearchParams(window.location.hash.slice(1))
  const token = params.get('token')
  if (token === null) return
  if (token.trim() !== '') writeToken(token.trim())
  params.delete('token')
  const rest = params.toString()
  const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : '')
  window.history.replaceState(null, '', url)
}

// ---------------------------------------------------------------------------
// API client
// ---------------------------------------------------------------------------

class ApiError extends Error {
  constructor(path, status, title, detail) {
    super(`${title}${detail ? `: ${detail}` : ''}`)
    this.path = path
    this.status = status
    this.title = title
    this.detail = detail
  }
}

function limiter(max) {
  let active = 0
  const queue = []
  const next = () => {
    if (active >= max || queue.length === 0) return
    active++
    const job = queue.shift()
    job
      .run()
      .then(job.resolve, job.reject)
      .finally(() => {
        active--
        next()
      })
  }
  return (run) =>
    new Promise((resolve, reject) => {
      queue.push({ run, resolve, reject })
      next()
    })
}

const schedule = limiter(MAX_CONCURRENT_REQUESTS)

/** GETs `path` (relative to the page, so a reverse-proxy prefix works) as JSON; throws ApiError. */
function getJson(path) {
  return schedule(async () => {
    const headers = { accept: 'application/json' }
    const token = readToken()
    if (token) headers.authorization = `Bearer ${token}`
    const abort = new AbortController()
    const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS)
    try {
      let res
      try {
        res = await fetch(path, { headers, signal: abort.signal, cache: 'no-store' })
      } catch (err) {
        const detail =
          err?.name === 'AbortError'
            ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`
            : 'keyshift did not answer (is it running?)'
        throw new ApiError(path, 0, 'Network error', detail)
      }
      if (!res.ok) {
        let body = null
        try {
          body = await res.json()
        } catch {
          // Not JSON (a proxy's error page): the status line says enough.
        }
        const title = typeof body?.title === 'string' ? body.title : res.statusText || 'Request failed'
        const detail =
          typeof body?.detail === 'string'
            ? body.detail
            : typeof body?.message === 'string'
              ? body.message
              : ''
        throw new ApiError(path, res.status, title, detail)
      }
      try {
        return await res.json()
      } catch {
        throw new ApiError(path, res.status, 'Unreadable answer', 'the response is not JSON')
      }
    } finally {
      clearTimeout(timer)
    }
  })
}

/** The last successful answer per path: shown (as stale) when a later request fails. */
const lastGood = new Map()

/**
 * Loads one resource for this refresh. On failure the error is collected for
 * the banner and the last good answer is returned instead, so a failing API
 * never blanks what the page already showed. `optional`: a 404 means the
 * endpoint does not exist on this version of keyshift (no error, null data).
 */
async function load(path, errors, { optional = false, list = null } = {}) {
  try {
    const data = list ? await getAllPages(path, list) : await getJson(path)
    lastGood.set(path, data)
    return data
  } catch (err) {
    if (optional && err instanceof ApiError && err.status === 404) {
      lastGood.delete(path)
      return null
    }
    errors.push(err instanceof ApiError ? err : new ApiError(path, 0, 'Error', String(err)))
    return lastGood.get(path) ?? null
  }
}

const enc = encodeURIComponent

/** A paginated list, every page: the first page's fields with `field` holding all items. */
async function getAllPages(path, field) {
  const first = await getJson(path)
  const items = [...first[field]]
  let cursor = first.next_cursor
  while (cursor) {
    const page = await getJson(`${path}${path.includes('?') ? '&' : '?'}cursor=${enc(cursor)}`)
    items.push(...page[field])
    cursor = page.next_cursor
  }
  return { ...first, [field]: items, next_cursor: null }
}

/**
 * Deactivated versions that still carried requests in the last 24 hours: the
 * gateway still accepts them, or clients keep failing on them. Either way an
 * incident, never "no rotation in progress".
 */
export function deactivatedInUse(detail) {
  const day = detail.shares['24h']
  return detail.versions
    .filter((v) => v.registered && v.state === 'deactivated')
    .map((v) => ({ version: v.version, share: day.versions.find((x) => x.version === v.version) }))
    .filter((x) => x.share && x.share.requests > 0)
    .map((x) => ({
      version: x.version,
      requests: x.share.requests,
      share: x.share.share,
      total: day.totalRequests,
    }))
}

/**
 * Versions whose deactivation is the next step: registered versions older than
 * the newest active one (the API lists registered versions oldest first) that
 * are not deactivated yet.
 */
export function oldVersions(versions) {
  const registered = versions.filter((v) => v.registered)
  let newestActive = -1
  registered.forEach((v, i) => {
    if (v.state === 'active') newestActive = i
  })
  return registered.slice(0, Math.max(newestActive, 0)).filter((v) => v.state !== 'deactivated')
}

async function loadKey(entry, errors) {
  const base = `api/v1/keys/${enc(entry.keyId)}`
  const detail = await load(base, errors)
  const old = detail ? oldVersions(detail.versions) : []
  const rotations = await Promise.all(
    old.map(async (v) => {
      const vbase = `${base}/versions/${enc(v.version)}`
      const [readiness, stragglers] = await Promise.all([
        load(`${vbase}/readiness?asked_by=status-page&audit=false`, errors),
        load(`${vbase}/stragglers`, errors),
      ])
      return { version: v.version, readiness, stragglers }
    }),
  )
  const stillUsed = await Promise.all(
    (detail ? deactivatedInUse(detail) : []).map(async (d) => ({
      ...d,
      stragglers: await load(`${base}/versions/${enc(d.version)}/stragglers`, errors),
    })),
  )
  // Older daemons have no usage-bands route (404): the chart is left out.
  const bands = detail ? await load(`${base}/usage-bands`, errors, { optional: true }) : null
  return { entry, detail, rotations, stillUsed, bands }
}

/**
 * /api/v1/alerts is newer than /api/v1/findings: when the daemon answers 404 the
 * page shows findings instead and asks again only after this long (not on every
 * refresh), so an older daemon does not get a 404 every few seconds.
 */
const ALERTS_REPROBE_MS = 60_000
let alertsAbsentUntil = 0

async function loadAlerts(errors) {
  if (Date.now() < alertsAbsentUntil) return null
  const data = await load('api/v1/alerts', errors, { optional: true, list: 'alerts' })
  if (data === null && !lastGood.has('api/v1/alerts')) alertsAbsentUntil = Date.now() + ALERTS_REPROBE_MS
  return data
}

/** Open incidents with their live views (null when the daemon has no incidents API). */
async function loadIncidents(errors) {
  const list = await load('api/v1/incidents?state=open', errors, { optional: true, list: 'incidents' })
  if (list === null) return null
  const views = await Promise.all(list.incidents.map((i) => load(`api/v1/incidents/${enc(i.id)}`, errors)))
  return views.filter((v) => v !== null)
}

/**
 * Which page of keys is shown: `cursors` holds the cursor of every page before
 * the current one (empty on the first), `filter` the key-id text to match.
 */
const keyPaging = { cursors: [], filter: '' }

/** The key-list path of the current page: needs-attention first, KEYS_PER_PAGE keys. */
export function keysPath(paging) {
  const q = new URLSearchParams({ order: 'attention', limit: String(KEYS_PER_PAGE) })
  if (paging.filter !== '') q.set('contains', paging.filter)
  const cursor = paging.cursors.at(-1)
  if (cursor) q.set('cursor', cursor)
  return `api/v1/keys?${q}`
}

/**
 * Everything one refresh shows. `onList` gets the key list as soon as it
 * arrives, before each key's details, alerts and incidents are asked for: a
 * new page of keys is drawn after one request.
 */
async function loadAll(onList) {
  const errors = []
  // The first draw waits on this one small request alone; the rest start once it is in.
  const list = await load(keysPath(keyPaging), errors)
  if (list) onList(list)
  const incidentsP = loadIncidents(errors)
  const alertsP = loadAlerts(errors)
  // Findings of the keys on this page (and unknown-key surges), not of every key.
  const shown = [...(list?.keys ?? []).map((k) => k.keyId), 'unknown']
  const findingsP = load(`api/v1/findings?keys=${shown.map(enc).join(',')}`, errors, { list: 'findings' })
  const keys = list ? await Promise.all(list.keys.map((k) => loadKey(k, errors))) : null
  return { list, keys, findings: await findingsP, alerts: await alertsP, incidents: await incidentsP, errors }
}

// ---------------------------------------------------------------------------
// DOM helpers: text only, never markup
// ---------------------------------------------------------------------------

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue
    el.append(typeof c === 'string' || typeof c === 'number' ? String(c) : c)
  }
  return el
}

function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue
    el.setAttribute(name, value === true ? '' : String(value))
  }
  return el
}

/** Replaces `el`'s content; null, undefined and false children are skipped (replaceChildren would print "null"). */
function fill(el, ...children) {
  el.replaceChildren()
  return append(el, children)
}

/** An HTML element with attributes (set with setAttribute) and text or element children. */
function h(tag, attrs = {}, ...children) {
  return append(setAttrs(document.createElement(tag), attrs), children)
}

function svg(tag, attrs = {}, ...children) {
  return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children)
}

/** A table with a caption (`hiddenCaption`: for screen readers only, when a heading already says it). */
function table(caption, headers, rows, attrs = {}, hiddenCaption = false) {
  // Wide tables scroll inside their own box, so the page never scrolls sideways on a phone.
  return h('div', { class: 'table-scroll' }, tableElement(caption, headers, rows, attrs, hiddenCaption))
}

function tableElement(caption, headers, rows, attrs, hiddenCaption) {
  return h(
    'table',
    attrs,
    h('caption', hiddenCaption ? { class: 'sr-only' } : {}, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((x) => h('th', { scope: 'col' }, x)),
      ),
    ),
    h('tbody', {}, rows),
  )
}

// ---------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------

const pad = (n) => String(n).padStart(2, '0')
const num = (n) => Number(n).toLocaleString('en-US')
export const pct = (share) => `${(share * 100).toFixed(1)}%`

/** `2025-01-31 14:05 UTC` (seconds with `withSeconds`). */
function utc(ms, withSeconds = false) {
  const d = new Date(ms)
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}${withSeconds ? `:${pad(d.getUTCSeconds())}` : ''}`
  return `${date} ${time} UTC`
}

function clockTime(ms) {
  const d = new Date(ms)
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`
}

function ago(then, now) {
  const s = Math.max(0, Math.round((now - then) / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.round(s / 60)} min ago`
  if (s < 86_400) return `${Math.round(s / 360) / 10} h ago`
  return `${Math.round(s / 8640) / 10} d ago`
}

/** A <time> showing "3 min ago" with the exact UTC time as its title. */
function timeAgo(ms, now) {
  if (!ms) return h('span', { class: 'muted' }, 'never')
  return h('time', { datetime: new Date(ms).toISOString(), title: utc(ms, true) }, ago(ms, now))
}

function shortList(items) {
  if (items.length === 0) return h('span', { class: 'muted' }, '—')
  const shown = items.slice(0, LIST_ITEMS_SHOWN).join(', ')
  const more = items.length - LIST_ITEMS_SHOWN
  return h('span', { title: items.join('\n') }, more > 0 ? `${shown} +${more} more` : shown)
}

function severityBadge(severity) {
  return h(
    'span',
    { class: `badge sev sev-${SEVERITY_RANK[severity] ?? 3}`, 'data-severity': severity },
    severity,
  )
}

// ---------------------------------------------------------------------------
// Keys: shares, chart, readiness, stragglers
// ---------------------------------------------------------------------------

/** Colour slot per version label, stable within one key (versions in API order). */
function colours(detail) {
  const labels = [...detail.versions.map((v) => v.version)]
  const add = (w) => {
    for (const v of w.versions) if (!labels.includes(v.version)) labels.push(v.version)
  }
  add(detail.shares['1h'])
  add(detail.shares['24h'])
  for (const b of detail.series) add(b)
  return new Map(labels.map((l, i) => [l, `c${i % PALETTE_SIZE}`]))
}

function shareBar(keyId, label, window, colour) {
  const total = window.totalRequests
  const bar = h('div', {
    class: 'bar',
    role: 'group',
    'aria-label': `${keyId}: share of requests by version, ${label} (${num(total)} requests)`,
  })
  if (total === 0) bar.append(h('span', { class: 'bar-empty' }, 'no traffic'))
  for (const v of window.versions) {
    if (v.requests === 0) continue
    const text = `${v.version}: ${pct(v.share)} (${num(v.requests)} of ${num(total)} requests, ${label})`
    const seg = h(
      'div',
      {
        class: `seg ${colour.get(v.version)}`,
        role: 'img',
        'aria-label': text,
        title: text,
        'data-version': v.version,
      },
      v.share >= 0.12 ? h('span', { 'aria-hidden': 'true' }, `${v.version} ${pct(v.share)}`) : null,
    )
    seg.style.width = `${v.share * 100}%`
    bar.append(seg)
  }
  return h(
    'div',
    { class: 'bar-row', 'data-window': label === 'last hour' ? '1h' : '24h' },
    h('span', { class: 'bar-label' }, label === 'last hour' ? 'Last hour' : 'Last 24 h'),
    bar,
    h('span', { class: 'bar-total' }, `${num(total)} req`),
  )
}

function shareCell(window, version, name) {
  const v = window.versions.find((x) => x.version === version)
  const text = window.totalRequests === 0 ? '—' : pct(v ? v.share : 0)
  return h('td', { class: 'num', 'data-window': name, title: v ? `${num(v.requests)} requests` : '' }, text)
}

function versionsTable(detail, colour) {
  const rows = detail.versions.map((v) =>
    h(
      'tr',
      { 'data-version': v.version },
      h(
        'th',
        { scope: 'row' },
        h('span', { class: `swatch ${colour.get(v.version)}`, 'aria-hidden': 'true' }),
        v.version,
      ),
      h(
        'td',
        {},
        h(
          'span',
          { class: `badge state-${v.registered ? v.state : 'unregistered'}` },
          v.registered ? v.state : 'not registered',
        ),
      ),
      shareCell(detail.shares['1h'], v.version, '1h'),
      shareCell(detail.shares['24h'], v.version, '24h'),
      h('td', { class: 'num' }, v.seen ? num(v.seen.requests) : '0'),
      h('td', { class: 'num' }, v.seen ? num(v.seen.clients) : '0'),
      h('td', {}, v.seen ? timeAgo(v.seen.lastSeen, detail.now) : h('span', { class: 'muted' }, 'not seen')),
    ),
  )
  return table(
    `Versions of ${detail.keyId}`,
    ['Version', 'State', 'Share, last hour', 'Share, last 24 h', 'Requests', 'Clients', 'Last seen'],
    rows,
    { class: 'versions' },
  )
}

const CHART = { width: 720, height: 200, left: 44, right: 12, top: 10, bottom: 26 }

/** Hourly share per version over the last 24 hours as an SVG line chart, one path per version. */
function shareChart(detail, colour) {
  const series = detail.series
  const { width, height, left, right, top, bottom } = CHART
  const plotW = width - left - right
  const plotH = height - top - bottom
  const t0 = series.length > 0 ? series[0].from : detail.now
  const t1 = series.length > 0 ? series[series.length - 1].to : detail.now + 1
  const x = (t) => left + ((t - t0) / Math.max(1, t1 - t0)) * plotW
  const y = (share) => top + (1 - share) * plotH
  const titleId = `chart-title-${enc(detail.keyId).replace(/[^A-Za-z0-9_-]/g, '_')}`
  const versions = series.length > 0 ? series[0].versions.map((v) => v.version) : []
  const latest = [...series].reverse().find((b) => b.totalRequests > 0)
  const summary = latest
    ? `Latest hour with traffic (${utc(latest.from)}): ${latest.versions.map((v) => `${v.version} ${pct(v.share)}`).join(', ')}.`
    : 'No traffic in the last 24 hours.'

  const chart = svg(
    'svg',
    {
      class: 'chart',
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-labelledby': titleId,
      'data-key': detail.keyId,
    },
    svg(
      'title',
      { id: titleId },
      `Hourly share of requests per version of ${detail.keyId}, last 24 hours. ${summary}`,
    ),
  )
  for (const share of [0, 0.25, 0.5, 0.75, 1]) {
    chart.append(
      svg('line', { class: 'grid', x1: left, x2: width - right, y1: y(share), y2: y(share) }),
      svg('text', { class: 'axis', x: left - 6, y: y(share) + 4, 'text-anchor': 'end' }, `${share * 100}%`),
    )
  }
  series.forEach((b, i) => {
    if (i % 6 !== 0) return
    const d = new Date(b.from)
    chart.append(
      svg(
        'text',
        { class: 'axis', x: x(b.from), y: height - 8, 'text-anchor': 'middle' },
        `${pad(d.getUTCHours())}:00`,
      ),
    )
  })
  chart.append(svg('text', { class: 'axis', x: width - right, y: height - 8, 'text-anchor': 'end' }, 'UTC'))
  if (!latest) {
    chart.append(
      svg(
        'text',
        { class: 'no-data', x: left + plotW / 2, y: top + plotH / 2, 'text-anchor': 'middle' },
        'no traffic',
      ),
    )
  }
  for (const version of versions) {
    let d = ''
    let pen = false
    const markers = []
    for (const b of series) {
      if (b.totalRequests === 0) {
        pen = false
        continue
      }
      const share = b.versions.find((v) => v.version === version)?.share ?? 0
      const px = x((b.from + b.to) / 2).toFixed(1)
      const py = y(share).toFixed(1)
      d += `${pen ? 'L' : 'M'}${px} ${py} `
      pen = true
      markers.push(
        svg(
          'circle',
          { class: `marker ${colour.get(version)}`, cx: px, cy: py, r: 3 },
          svg('title', {}, `${version} ${pct(share)}, ${utc(b.from)}`),
        ),
      )
    }
    chart.append(
      svg('path', {
        class: `series ${colour.get(version)}`,
        d: d.trim() || `M${left} ${y(0)}`,
        'data-version': version,
      }),
      svg('g', { 'aria-hidden': 'true' }, markers),
    )
  }
  const legend = h(
    'ul',
    { class: 'legend', 'aria-label': 'Chart legend' },
    versions.map((v) =>
      h('li', {}, h('span', { class: `swatch ${colour.get(v)}`, 'aria-hidden': 'true' }), v),
    ),
  )
  return h(
    'figure',
    { class: 'chart-box' },
    chart,
    h('figcaption', {}, 'Share of requests per version, hourly, last 24 hours ', legend),
  )
}

const TREND_REASONS = {
  too_few_points: 'not enough hourly data for an estimate yet',
  not_decreasing: 'its share is not falling',
  poor_fit: 'its share is falling too unevenly to estimate',
  already_zero: 'no traffic on it in the latest hour',
}

function trendLine(t, now) {
  const tr = t.trend
  if (tr.kind === 'estimate') {
    return h(
      'li',
      { 'data-version': t.version },
      `${t.version}: falling ${(-tr.slopePerHour * 100).toFixed(1)} points per hour; reaches 0% around `,
      h('time', { datetime: new Date(tr.etaMs).toISOString() }, utc(tr.etaMs)),
      ` (in ${ago(now, tr.etaMs).replace(' ago', '')}, r² ${tr.r2.toFixed(2)})`,
    )
  }
  return h(
    'li',
    { 'data-version': t.version },
    `${t.version}: no ETA, ${TREND_REASONS[tr.reason] ?? tr.reason}`,
  )
}

function readinessBlock(keyId, r) {
  if (!r.readiness) {
    return h('p', { class: 'muted' }, `The readiness verdict of ${keyId} ${r.version} is not available.`)
  }
  const v = r.readiness
  const failing = v.rules.filter((x) => x.outcome !== 'pass')
  const rows = v.rules.map((rule) =>
    h(
      'tr',
      { 'data-rule': rule.id, 'data-outcome': rule.outcome, class: `outcome-${rule.outcome}` },
      h('th', { scope: 'row' }, h('code', {}, rule.id)),
      h('td', {}, h('span', { class: `badge outcome outcome-${rule.outcome}` }, rule.outcome)),
      h('td', {}, rule.detail),
    ),
  )
  return h(
    'div',
    { class: 'readiness', 'data-version': r.version },
    h(
      'p',
      { class: 'verdict-line' },
      'Deactivation readiness: ',
      h('span', { class: `badge verdict verdict-${v.verdict}`, 'data-verdict': v.verdict }, v.verdict),
      failing.length > 0
        ? h('span', { class: 'failing' }, ` — ${failing.map((x) => `${x.id} (${x.outcome})`).join(', ')}`)
        : null,
    ),
    v.error ? h('p', { class: 'error-text' }, `The verdict could not be evaluated: ${v.error}`) : null,
    rows.length > 0
      ? table(`Readiness rules for ${keyId} ${r.version}`, ['Rule', 'Outcome', 'Detail'], rows, {
          class: 'rules',
        })
      : null,
  )
}

function stragglersBlock(keyId, r, now) {
  if (!r.stragglers)
    return h('p', { class: 'muted' }, `Stragglers of ${keyId} ${r.version} are not available.`)
  const { stragglers, moved } = r.stragglers
  const movedText =
    moved.length > 0 ? `${num(moved.length)} client(s) moved off ${r.version} within the last 24 h.` : null
  if (stragglers.length === 0) {
    return h(
      'div',
      { class: 'stragglers', 'data-version': r.version },
      h('p', {}, `No client used ${r.version} in the last 24 h. `, movedText),
    )
  }
  const rows = stragglers
    .slice(0, STRAGGLERS_SHOWN)
    .map((s) =>
      h(
        'tr',
        { 'data-client': s.clientId },
        h(
          'th',
          { scope: 'row' },
          s.clientId === '' ? h('span', { class: 'muted' }, '(no client id)') : s.clientId,
        ),
        h('td', { class: 'num', 'data-field': 'requests' }, num(s.requests)),
        h('td', { class: 'num', 'data-field': 'failures' }, num(s.failures)),
        h('td', {}, timeAgo(s.lastSeen, now)),
        h('td', { 'data-field': 'addresses' }, shortList(s.sourceAddresses)),
        h('td', {}, shortList(s.userAgents)),
        h('td', {}, shortList(s.gateways)),
        h('td', {}, s.partiallyMigrated ? `yes (${s.newerVersionsUsed.join(', ')})` : 'no'),
      ),
    )
  const more = stragglers.length - STRAGGLERS_SHOWN
  return h(
    'div',
    { class: 'stragglers', 'data-version': r.version },
    table(
      `Stragglers still on ${keyId} ${r.version} (last 24 h), most requests first`,
      [
        'Client',
        'Requests',
        'Failures',
        'Last seen',
        'Addresses',
        'User agents',
        'Gateways',
        'Also on newer',
      ],
      rows,
    ),
    more > 0 ? h('p', { class: 'muted' }, `…and ${num(more)} more client(s).`) : null,
    movedText ? h('p', { class: 'muted' }, movedText) : null,
  )
}

/** Scores at or above this are drawn as anomalies (the watch's default alarm score). */
const BAND_ALARM_SCORE = 0.5

/** What each watched series of a key is called on its chart. */
const BAND_METRICS = {
  requests: { title: 'Requests per 5 minutes', caption: 'Requests per 5 min', unit: 'requests' },
  new_sources: {
    title: 'New source addresses (not seen on the key in 8 days) per 5 minutes',
    caption: 'New source addresses per 5 min',
    unit: 'new addresses',
  },
}

/**
 * One watched series of the key (its total: requests, or new source addresses)
 * per 5 minutes against the band the usage watch expected from the key's own
 * pattern; buckets scored as anomalous are marked. Nothing is drawn until the
 * watch has scored a bucket of that series.
 */
function bandChart(keyId, bands, metric) {
  const names = BAND_METRICS[metric]
  const points = (bands?.points ?? []).filter((p) => p.metric === metric)
  if (points.length === 0) return null
  const { width, height, left, right, top, bottom } = CHART
  const plotW = width - left - right
  const plotH = height - top - bottom
  const t0 = points[0].bucket
  const t1 = points[points.length - 1].bucket
  const max = Math.max(1, ...points.map((p) => Math.max(p.observed, p.upper)))
  const x = (t) => left + ((t - t0) / Math.max(1, t1 - t0)) * plotW
  const y = (v) => top + (1 - v / max) * plotH
  const anomalies = points.filter((p) => p.score >= BAND_ALARM_SCORE)
  const titleId = `band-title-${enc(keyId).replace(/[^A-Za-z0-9_-]/g, '_')}`
  const last = points[points.length - 1]
  const chart = svg(
    'svg',
    {
      class: 'chart band-chart',
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-labelledby': titleId,
      'data-metric': metric,
      'data-points': String(points.length),
      'data-anomalies': String(anomalies.length),
    },
    svg(
      'title',
      { id: titleId },
      `${names.title} of ${keyId} against the expected band. Latest (${utc(last.bucket)}): ` +
        `${num(Math.round(last.observed))}, expected ${num(Math.round(last.lower))}–${num(Math.round(last.upper))}. ` +
        `${anomalies.length} bucket(s) outside it.`,
    ),
  )
  for (const v of [0, max / 2, max]) {
    chart.append(
      svg('line', { class: 'grid', x1: left, x2: width - right, y1: y(v), y2: y(v) }),
      svg('text', { class: 'axis', x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, num(Math.round(v))),
    )
  }
  const upper = points.map((p) => `${x(p.bucket).toFixed(1)},${y(p.upper).toFixed(1)}`)
  const lower = [...points].reverse().map((p) => `${x(p.bucket).toFixed(1)},${y(p.lower).toFixed(1)}`)
  chart.append(svg('polygon', { class: 'band', points: [...upper, ...lower].join(' ') }))
  chart.append(
    svg('polyline', {
      class: 'observed',
      points: points.map((p) => `${x(p.bucket).toFixed(1)},${y(p.observed).toFixed(1)}`).join(' '),
    }),
  )
  for (const p of anomalies) {
    chart.append(
      svg(
        'circle',
        { class: 'anomaly', cx: x(p.bucket).toFixed(1), cy: y(p.observed).toFixed(1), r: 4 },
        svg(
          'title',
          {},
          `${utc(p.bucket)}: ${num(Math.round(p.observed))} ${names.unit}, score ${p.score.toFixed(2)}`,
        ),
      ),
    )
  }
  return h(
    'figure',
    { class: 'band-figure' },
    h('figcaption', {}, `${names.caption} against the expected band (usage anomalies marked)`),
    chart,
  )
}

function keyArticle(k) {
  const { entry, detail, rotations } = k
  const headingId = keyAnchor(entry.keyId)
  const article = h(
    'article',
    { class: 'key', 'data-key': entry.keyId, 'aria-labelledby': headingId },
    h(
      'header',
      { class: 'key-head' },
      h('h3', { id: headingId }, entry.keyId),
      entry.registered ? null : h('span', { class: 'badge state-unregistered' }, 'not registered'),
      h(
        'p',
        { class: 'key-summary' },
        `${num(entry.requests)} requests in 24 h · ${num(entry.failures)} failed · last seen `,
        timeAgo(entry.lastSeen, detail?.now ?? Date.now()),
      ),
    ),
  )
  if (entry.attention?.level) {
    article.append(
      h(
        'p',
        { class: 'key-attention', 'data-level': entry.attention.level },
        severityBadge(entry.attention.level),
        ' ',
        entry.attention.reasons.join('; '),
      ),
    )
  }
  if (!detail) {
    article.append(
      h(
        'p',
        { class: 'muted' },
        k.loading ? 'Loading details…' : 'Details of this key are not available yet.',
      ),
    )
    return article
  }
  const colour = colours(detail)
  const old = rotations.map((r) => r.version)
  article.append(
    h(
      'div',
      { class: 'key-grid' },
      h(
        'div',
        { class: 'key-left' },
        h(
          'div',
          { class: 'bars' },
          shareBar(entry.keyId, 'last hour', detail.shares['1h'], colour),
          shareBar(entry.keyId, 'last 24 hours', detail.shares['24h'], colour),
        ),
        versionsTable(detail, colour),
        detail.trends.length > 0
          ? h(
              'ul',
              { class: 'trends', 'aria-label': 'Migration estimates' },
              detail.trends.map((t) => trendLine(t, detail.now)),
            )
          : null,
      ),
      shareChart(detail, colour),
    ),
  )
  for (const metric of Object.keys(BAND_METRICS)) {
    const band = bandChart(entry.keyId, k.bands, metric)
    if (band) article.append(band)
  }
  article.append(...judgementNotes(detail))
  const stillUsed = k.stillUsed ?? []
  for (const d of stillUsed) {
    article.append(
      h(
        'section',
        {
          class: 'deactivated-in-use',
          'data-version': d.version,
          'aria-label': `${entry.keyId} ${d.version}, deactivated but still in use`,
        },
        h('h4', {}, `${d.version} is deactivated but still in use`),
        h(
          'p',
          {},
          `${num(d.requests)} request(s), ${pct(d.share)} of the key's traffic in the last 24 hours, ` +
            'still used this version after it was deactivated: the gateway may still accept it, or these ' +
            'clients are failing. Check the gateway; the clients are listed below.',
        ),
        stragglersBlock(entry.keyId, d, detail.now),
      ),
    )
  }
  if (old.length === 0 && stillUsed.length === 0) {
    article.append(
      h(
        'p',
        { class: 'muted rotation-none' },
        'No rotation in progress: no older version is still accepted.',
      ),
    )
  }
  for (const r of rotations) {
    article.append(
      h(
        'section',
        {
          class: 'rotation',
          'data-version': r.version,
          'aria-label': `${entry.keyId} ${r.version}, old version`,
        },
        h('h4', {}, `${r.version} (old version)`),
        readinessBlock(entry.keyId, r),
        stragglersBlock(entry.keyId, r, detail.now),
      ),
    )
  }
  return article
}

/**
 * What the key's verdicts and findings rest on, when it is not the whole story:
 * places that carried the key and went silent (its verdicts are unknown), and
 * retired versions whose stored history is too short to judge possible_leak.
 * Both fields are absent from the detail of an older daemon.
 */
function judgementNotes(detail) {
  const notes = []
  const silent = (detail.places ?? []).filter((p) => p.silent)
  if (silent.length > 0) {
    notes.push(
      h(
        'ul',
        { class: 'silent-places', 'aria-label': 'Silent places' },
        silent.map((p) =>
          h(
            'li',
            {},
            `${p.kind} ${p.name} silent for ${Math.round(p.silentForMs / 1000)} s ` +
              `(since ${new Date(p.lastHeard).toISOString()}, bound ${Math.round(p.silentAfterMs / 1000)} s): ` +
              'verdicts of this key are unknown',
          ),
        ),
      ),
    )
  }
  for (const l of (detail.history?.possibleLeak ?? []).filter((x) => !x.judged)) {
    notes.push(
      h(
        'p',
        { class: 'muted leak-note', 'data-version': l.version },
        `possible_leak not raised: ${l.reason}`,
      ),
    )
  }
  return notes
}

const keyAnchor = (keyId) => `key-${enc(keyId).replace(/[^A-Za-z0-9_-]/g, '_')}`

/**
 * What needs a person now, first on the page: deactivated versions still in
 * use, old versions that are not ready (and why), firing alerts.
 */
export function attentionItems(state) {
  const items = []
  for (const k of state.keys ?? []) {
    for (const d of k.stillUsed ?? []) {
      items.push({
        level: 'critical',
        id: `deactivated-in-use:${k.entry.keyId}:${d.version}`,
        anchor: keyAnchor(k.entry.keyId),
        text: `${k.entry.keyId} ${d.version} is deactivated but still carried ${num(d.requests)} request(s), ${pct(d.share)} of the key's traffic, in the last 24 h.`,
      })
    }
    for (const r of k.rotations ?? []) {
      const v = r.readiness
      if (!v || v.verdict === 'ready') continue
      const failing = v.rules.filter((x) => x.outcome !== 'pass').map((x) => x.id)
      items.push({
        level: v.verdict === 'unknown' ? 'warning' : 'info',
        id: `not-ready:${k.entry.keyId}:${r.version}`,
        anchor: keyAnchor(k.entry.keyId),
        text: `${k.entry.keyId} ${r.version} is ${v.verdict.replace('_', ' ')}${failing.length > 0 ? `: ${failing.join(', ')}` : ''}.`,
      })
    }
  }
  const firing = (state.alerts?.alerts ?? []).filter(
    (a) => a.status === 'firing' && a.silenced_by.length === 0,
  )
  if (firing.length > 0) {
    const critical = firing.filter((a) => a.severity === 'critical').length
    items.push({
      level: critical > 0 ? 'critical' : 'warning',
      id: 'alerts-firing',
      anchor: 'alerts',
      text: `${firing.length} alert(s) firing${critical > 0 ? `, ${critical} critical` : ''}.`,
    })
  }
  const more = beyondThisPage(state.list)
  if (more) items.push(more)
  const rank = { critical: 0, warning: 1, info: 2 }
  return items.sort((a, b) => rank[a.level] - rank[b.level])
}

/** Keys that need attention but are not on the page shown (counted by the key list over all pages). */
function beyondThisPage(list) {
  if (!list?.attention) return null
  const left = {
    critical: list.attention.critical,
    warning: list.attention.warning,
    info: list.attention.info,
  }
  for (const k of list.keys) if (k.attention?.level) left[k.attention.level]--
  const levels = ['critical', 'warning', 'info'].filter((l) => left[l] > 0)
  if (levels.length === 0) return null
  const n = levels.reduce((sum, l) => sum + left[l], 0)
  return {
    level: levels[0],
    id: 'more-keys',
    anchor: 'keys',
    text: `${num(n)} more key(s) on other pages need attention: ${levels.map((l) => `${num(left[l])} ${l}`).join(', ')}.`,
  }
}

function renderAttention(state) {
  const body = document.getElementById('attention-body')
  if (!state.list) return
  const items = attentionItems(state)
  if (items.length === 0) {
    fill(body, h('p', { class: 'ok-text' }, 'Nothing needs attention: every rotation is ready or finished.'))
    return
  }
  fill(
    body,
    h(
      'ul',
      { class: 'attention-list' },
      items.map((i) =>
        h(
          'li',
          { 'data-attention': i.id, class: `attention-${i.level}` },
          severityBadge(i.level),
          ' ',
          h('a', { href: `#${i.anchor}` }, i.text),
        ),
      ),
    ),
  )
}

/** Which keys of how many this page shows, and the buttons to the pages around it. */
function keysNav(list) {
  const nav = document.getElementById('keys-nav')
  const first = keyPaging.cursors.length * KEYS_PER_PAGE + 1
  const range =
    list.keys.length === 0
      ? ''
      : `Keys ${num(first)}–${num(first + list.keys.length - 1)} of ${num(list.total ?? list.keys.length)}, those that need attention first`
  const prev = h('button', { type: 'button', class: 'link', 'data-page': 'previous' }, '← Previous')
  prev.disabled = keyPaging.cursors.length === 0
  prev.addEventListener('click', () => {
    keyPaging.cursors.pop()
    refresh()
  })
  const next = h('button', { type: 'button', class: 'link', 'data-page': 'next' }, 'Next →')
  next.disabled = !list.next_cursor
  next.addEventListener('click', () => {
    keyPaging.cursors.push(list.next_cursor)
    refresh()
  })
  fill(nav, h('span', { class: 'keys-range' }, range), ' ', prev, ' ', next)
}

function renderKeys(state) {
  const body = document.getElementById('keys-body')
  if (!state.list) return // nothing ever loaded: keep the placeholder; the banner says why
  keysNav(state.list)
  if (state.keys.length === 0) {
    const none =
      keyPaging.filter === ''
        ? 'No keys registered or seen in the last 24 hours.'
        : `No key id contains “${keyPaging.filter}”.`
    fill(body, h('p', { class: 'muted' }, none))
    return
  }
  fill(body, ...state.keys.map(keyArticle))
}

// ---------------------------------------------------------------------------
// Alerts and findings
// ---------------------------------------------------------------------------

const bySeverity = (sev) => (a, b) => (SEVERITY_RANK[sev(a)] ?? 3) - (SEVERITY_RANK[sev(b)] ?? 3)

function alertsTable(alerts) {
  if (alerts.length === 0) return h('p', { class: 'ok-text' }, 'No open alerts.')
  const rows = [...alerts]
    .sort(bySeverity((a) => a.severity))
    .map((a) =>
      h(
        'tr',
        { 'data-alert': a.id },
        h('td', {}, severityBadge(a.severity)),
        h('td', {}, a.status, a.silenced_by.length > 0 ? ' (silenced)' : ''),
        h(
          'th',
          { scope: 'row' },
          h('span', { class: 'title' }, a.title),
          h('br'),
          h('span', { class: 'muted' }, a.summary),
        ),
        h('td', {}, a.type),
        h('td', {}, a.key_id),
        h('td', {}, a.version),
        h('td', {}, a.scope),
        h('td', {}, h('time', { datetime: a.starts_at, title: a.starts_at }, utc(Date.parse(a.starts_at)))),
      ),
    )
  return table(
    'Open alerts (pending and firing)',
    ['Severity', 'Status', 'Alert', 'Type', 'Key', 'Version', 'Scope', 'Since'],
    rows,
    { class: 'alerts' },
    true,
  )
}

function findingsTable(findings, now, caption) {
  if (findings.length === 0) return h('p', { class: 'ok-text' }, 'No open findings.')
  const rows = [...findings]
    .sort(bySeverity((f) => f.severity))
    .map((f) =>
      h(
        'tr',
        { 'data-finding': f.id },
        h('td', {}, severityBadge(f.severity)),
        h(
          'th',
          { scope: 'row' },
          h('span', { class: 'title' }, f.title),
          h('br'),
          h('span', { class: 'muted' }, f.summary),
        ),
        h('td', {}, f.type),
        h('td', {}, f.keyId),
        h('td', {}, f.version),
        h('td', {}, f.scope),
        h('td', {}, timeAgo(f.firstSeen, now)),
        h('td', {}, timeAgo(f.lastSeen, now)),
      ),
    )
  return table(
    caption,
    ['Severity', 'Finding', 'Type', 'Key', 'Version', 'Scope', 'First seen', 'Last seen'],
    rows,
    { class: 'findings' },
    true,
  )
}

/**
 * The answering instance's last evaluation round (GET /api/v1/alerts `evaluation`):
 * how long it took and how many keys it read. Null when that instance does not evaluate.
 */
export function evaluationLine(e) {
  if (!e) return null
  const n = (x) => x.toLocaleString('en')
  return (
    `Last evaluation ${clockTime(Date.parse(e.at))}: ${n(e.duration_ms)} ms, read ${n(e.keys_read)} of ` +
    `${n(e.keys_total)} keys and ${n(e.readiness_read)} of ${n(e.readiness_candidates)} readiness verdicts`
  )
}

function renderAlerts(state) {
  const body = document.getElementById('alerts-body')
  const parts = []
  const evaluation = evaluationLine(state.alerts?.evaluation)
  if (evaluation) parts.push(h('p', { class: 'muted', id: 'evaluation-round' }, evaluation))
  if (state.alerts) parts.push(h('h3', {}, 'Alerts'), alertsTable(state.alerts.alerts))
  if (state.findings) {
    parts.push(
      h('h3', {}, state.alerts ? 'Current findings' : 'Open findings'),
      findingsTable(
        state.findings.findings,
        state.findings.now,
        state.alerts ? 'Current findings' : 'Open findings',
      ),
    )
  }
  if (parts.length > 0) fill(body, ...parts)
}

// ---------------------------------------------------------------------------
// Banner, status line, refresh loop
// ---------------------------------------------------------------------------

const CHECK_MARK = { done: '✔', pending: '…', failed: '✘', unknown: '?' }

/** One open incident: what to chase now (the live view of GET /api/v1/incidents/:id). */
function incidentBlock(v) {
  const i = v.incident
  const left = v.knownUsers.filter((u) => u.state !== 'moved')
  return h(
    'article',
    { class: 'incident', 'data-incident': i.id },
    h(
      'p',
      { class: 'incident-title' },
      `INCIDENT ${i.id}: ${i.keyId} ${i.version} ${i.reason}, open ${ago(i.openedAt, v.now).replace(' ago', '')}`,
      ` · ${pct(v.share.share)} of the key's traffic`,
    ),
    h(
      'ul',
      { class: 'incident-checklist' },
      v.checklist.map((c) =>
        h(
          'li',
          { 'data-step': c.id, 'data-state': c.state },
          `${CHECK_MARK[c.state] ?? '?'} ${c.id.replaceAll('_', ' ')}: ${c.detail}`,
        ),
      ),
    ),
    table(
      `Known users still on ${i.version} (${left.length} of ${v.knownUsers.length})`,
      ['Client', 'Source', 'User agent', 'State', 'Last use'],
      left.map((u) =>
        h(
          'tr',
          {},
          h('td', {}, u.clientId || '—'),
          h('td', {}, u.sourceAddress || '—'),
          h('td', {}, u.userAgent || '—'),
          h('td', {}, u.state.replace('_', ' ')),
          h('td', {}, timeAgo(u.lastLeakedUse, v.now)),
        ),
      ),
      { class: 'incident-known' },
    ),
    table(
      `Unknown sources (${v.unknownSources.length})`,
      ['Source', 'User agents', 'Gateways', 'Routes', 'Requests', 'Accepted', 'Last use'],
      v.unknownSources.map((u) =>
        h(
          'tr',
          {},
          h('td', {}, u.sourceAddress || '—'),
          h('td', {}, shortList(u.userAgents)),
          h('td', {}, shortList(u.gateways)),
          h('td', {}, shortList(u.routes)),
          h('td', { class: 'num' }, num(u.requests)),
          h('td', { class: 'num' }, num(u.accepted)),
          h('td', {}, timeAgo(u.lastSeen, v.now)),
        ),
      ),
      { class: 'incident-unknown' },
    ),
    h('p', {}, 'Routes reached: ', shortList(v.routesReached), ` · gate: ${v.readiness.verdict}`),
  )
}

function renderIncidents(state) {
  const el = document.getElementById('incidents')
  const views = state.incidents ?? []
  el.hidden = views.length === 0
  fill(el, views.map(incidentBlock))
}

let lastBannerText = ''
let lastSuccess = null

function renderBanner(errors) {
  const banner = document.getElementById('banner')
  const lines = errors.map((e) => {
    const where = `GET /${e.path.replace(/^\//, '').replace(/\?.*$/, '')}`
    return `${where}: ${e.status > 0 ? `${e.status} ` : ''}${e.message}`
  })
  const unauthorized = errors.some((e) => e.status === 401)
  const text = lines.join('\n')
  if (text === lastBannerText) return
  lastBannerText = text
  if (errors.length === 0) {
    banner.hidden = true
    fill(banner)
    return
  }
  const first = errors.slice(0, 5)
  fill(
    banner,
    h(
      'p',
      { class: 'banner-title' },
      `The keyshift API answered with ${errors.length} error(s).`,
      lastSuccess === null
        ? ''
        : ` Showing the data of the last successful update (${clockTime(lastSuccess)}).`,
    ),
    h(
      'ul',
      {},
      first.map((_, i) => h('li', {}, lines[i])),
    ),
    errors.length > first.length ? h('p', {}, `…and ${errors.length - first.length} more.`) : null,
    unauthorized
      ? h(
          'p',
          {},
          'The API needs a read token: enter it in the API token field above, or open this page with #token=<token>.',
        )
      : null,
  )
  banner.hidden = false
  if (unauthorized) document.getElementById('token-form').hidden = false
}

function renderStatus(ok, now) {
  const el = document.getElementById('update-status')
  el.dataset.state = ok ? 'ok' : 'error'
  if (ok) {
    el.dataset.updated = String(now)
    fill(el, 'Last update ', h('time', { datetime: new Date(now).toISOString() }, clockTime(now)))
  } else {
    fill(
      el,
      `Update failed at ${clockTime(now)}`,
      lastSuccess === null ? '' : `; last successful update ${clockTime(lastSuccess)}`,
    )
  }
}

let timer = null
let running = false
let interval = DEFAULT_REFRESH_S

/** The key-list path drawn last: a refresh of the same page redraws only once its details are in. */
let drawnKeysPath = null

/** A refresh was asked for (a page turn, a search) while one was running: run again after it. */
let again = false

async function refresh() {
  if (running) {
    again = true
    return
  }
  running = true
  clearTimeout(timer)
  try {
    const path = keysPath(keyPaging)
    const state = await loadAll((list) => {
      if (drawnKeysPath === path || keysPath(keyPaging) !== path) return
      renderKeys({ list, keys: list.keys.map((entry) => ({ entry, loading: true })) })
    })
    // The reader turned the page or searched meanwhile: draw the page asked for, not this one.
    if (keysPath(keyPaging) !== path) return
    drawnKeysPath = path
    renderIncidents(state)
    renderAttention(state)
    renderKeys(state)
    renderAlerts(state)
    const ok = state.errors.length === 0
    if (ok) lastSuccess = Date.now()
    renderStatus(ok, Date.now())
    renderBanner(state.errors)
  } catch (err) {
    renderStatus(false, Date.now())
    renderBanner([new ApiError('', 0, 'The page failed to render the data', String(err?.message ?? err))])
  } finally {
    running = false
    if (again) {
      again = false
      refresh()
    } else if (interval > 0) timer = setTimeout(refresh, interval * 1000)
  }
}

function init() {
  takeTokenFromFragment()
  interval = refreshSeconds(window.location.search)
  const info = document.getElementById('refresh-info')
  const button = h('button', { type: 'button', class: 'link' }, 'Refresh now')
  button.addEventListener('click', () => refresh())
  fill(
    info,
    interval > 0 ? `· refreshes every ${interval} s · ` : '· automatic refresh off (?refresh=) · ',
    button,
  )

  const keyFilter = document.getElementById('keys-filter')
  keyFilter.addEventListener('submit', (e) => {
    e.preventDefault()
    keyPaging.filter = document.getElementById('keys-filter-input').value.trim()
    keyPaging.cursors = []
    refresh()
  })

  const form = document.getElementById('token-form')
  const input = document.getElementById('token-input')
  form.hidden = readToken() === null
  if (readToken() !== null) input.placeholder = 'a token is saved in this browser'
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const t = input.value.trim()
    if (t !== '') writeToken(t)
    input.value = ''
    input.placeholder = 'a token is saved in this browser'
    refresh()
  })
  document.getElementById('token-clear').addEventListener('click', () => {
    writeToken(null)
    input.value = ''
    input.placeholder = 'read token (only if the API needs one)'
    refresh()
  })
  refresh()
}

init()
