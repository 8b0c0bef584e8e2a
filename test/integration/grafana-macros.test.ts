// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${var} in these strings is Grafana's variable syntax
// The expander that stands in for Grafana and the ClickHouse data source plugin
// when the dashboard tests run panel SQL. Expected strings follow the plugin's
// own definitions (pkg/macros/macros.go, CHDatasource.applyConditionalAll) and
// Grafana's variable formats; every case compares the whole generated string.
import { describe, expect, it } from 'vitest'
import {
  applyConditionalAll,
  type ExpandOptions,
  expandMacros,
  expandQuery,
  interpolateVariables,
  legacyArgumentCapture,
} from '../support/grafana-macros.ts'

// 2026-11-27T10:00:00.250Z .. 2026-11-27T16:00:00.999Z: seconds are floored, milliseconds kept.
const FROM_MS = 1795773600_250
const TO_MS = 1795795200_999
const opts = (over: Partial<ExpandOptions> = {}): ExpandOptions => ({
  range: { from: FROM_MS, to: TO_MS },
  intervalMs: 3_600_000,
  variables: {
    key: { current: 'acme-payments' },
    version: { current: 'v1' },
    keys: {
      current: ['acme-payments', 'globex-search'],
      options: ['acme-payments', 'globex-search', 'initech'],
    },
    all: { current: '$__all', options: ['a', 'b'] },
    allCustom: { current: '$__all', options: ['a', 'b'], allValue: '.*' },
    quoted: { current: "o'brien" },
    lookback: { current: '3600' },
  },
  ...over,
})

describe('plugin macros', () => {
  it.each([
    ['$__timeFilter(minute)', 'minute >= toDateTime(1795773600) AND minute <= toDateTime(1795795200)'],
    [
      '$__timeFilter_ms(time)',
      'time >= fromUnixTimestamp64Milli(1795773600250) AND time <= fromUnixTimestamp64Milli(1795795200999)',
    ],
    ['$__dateFilter(day)', "day >= toDate('2026-11-27') AND day <= toDate('2026-11-27')"],
    [
      '$__dateTimeFilter(day, time)',
      "(day >= toDate('2026-11-27') AND day <= toDate('2026-11-27')) AND (time >= toDateTime(1795773600) AND time <= toDateTime(1795795200))",
    ],
    [
      '$__dt(day,time)',
      "(day >= toDate('2026-11-27') AND day <= toDate('2026-11-27')) AND (time >= toDateTime(1795773600) AND time <= toDateTime(1795795200))",
    ],
    ['$__fromTime', 'toDateTime(1795773600)'],
    ['$__toTime', 'toDateTime(1795795200)'],
    ['$__fromTime_ms', 'fromUnixTimestamp64Milli(1795773600250)'],
    ['$__toTime_ms', 'fromUnixTimestamp64Milli(1795795200999)'],
    ['$__timeInterval(minute)', 'toStartOfInterval(toDateTime(minute), INTERVAL 3600 second)'],
    ['$__timeInterval_ms(time)', 'toStartOfInterval(toDateTime64(time, 3), INTERVAL 3600000 millisecond)'],
    ['$__interval_s', '3600'],
  ])('%s', (sql, expected) => {
    expect(expandMacros(sql, opts())).toBe(expected)
  })

  it('keeps nested parentheses inside an argument and trims arguments', () => {
    expect(expandMacros('WHERE $__timeFilter( toDateTime(time) ) AND x IN (1, 2)', opts())).toBe(
      'WHERE toDateTime(time) >= toDateTime(1795773600) AND toDateTime(time) <= toDateTime(1795795200) AND x IN (1, 2)',
    )
  })

  it('takes arguments only when "(" follows the name directly', () => {
    expect(
      expandMacros('minute >= ($__toTime - INTERVAL 1 HOUR) AND f($__fromTime) AND $__toTime (x)', opts()),
    ).toBe(
      'minute >= (toDateTime(1795795200) - INTERVAL 1 HOUR) AND f(toDateTime(1795773600)) AND toDateTime(1795795200) (x)',
    )
  })

  it('rounds the interval down to whole seconds, at least one', () => {
    expect(expandMacros('$__timeInterval(minute) / $__interval_s', opts({ intervalMs: 90_500 }))).toBe(
      'toStartOfInterval(toDateTime(minute), INTERVAL 90 second) / 90',
    )
    expect(expandMacros('$__timeInterval(minute) / $__interval_s', opts({ intervalMs: 200 }))).toBe(
      'toStartOfInterval(toDateTime(minute), INTERVAL 1 second) / 1',
    )
  })

  it('rejects unknown macros, wrong argument counts and unclosed calls', () => {
    expect(() => expandMacros('$__timeFilterEpoch(x)', opts())).toThrow('unknown macro $__timeFilterEpoch')
    expect(() => expandMacros('$__timeFilter(a, b)', opts())).toThrow('expected 1 argument(s), received 2')
    expect(() => expandMacros('$__timeFilter', opts())).toThrow('expected 1 argument(s), received 0')
    expect(() => expandMacros('$__timeFilter(minute', opts())).toThrow('without closing parenthesis')
  })
})

describe('template variables', () => {
  it.each([
    ["key_id = '$key'", "key_id = 'acme-payments'"],
    ["key_id = '${key}'", "key_id = 'acme-payments'"],
    ['key_id = ${key:singlequote}', "key_id = 'acme-payments'"],
    ["key_id = '[[key]]' AND v = [[version:singlequote]]", "key_id = 'acme-payments' AND v = 'v1'"],
    ['key_id = ${key:doublequote}', 'key_id = "acme-payments"'],
    ['key_id = ${key:sqlstring}', "key_id = 'acme-payments'"],
    ['INTERVAL ${lookback} SECOND', 'INTERVAL 3600 SECOND'],
    // Multi-value: the plugin's own format quotes and joins; Grafana's formats do the rest.
    ['key_id IN ($keys)', "key_id IN ('acme-payments','globex-search')"],
    ['key_id IN (${keys:singlequote})', "key_id IN ('acme-payments','globex-search')"],
    ['key_id IN (${keys:csv})', 'key_id IN (acme-payments,globex-search)'],
    // All expands to every option, or to the custom all value, unformatted.
    ['x IN (${all:singlequote})', "x IN ('a','b')"],
    ['x match ${allCustom:singlequote}', 'x match .*'],
    // Quotes inside values are escaped the way each format does it.
    ['c = ${quoted:singlequote}', "c = 'o\\'brien'"],
    ['c = ${quoted:sqlstring}', "c = 'o''brien'"],
    // Grafana's own globals; macros are left for the plugin's backend.
    [
      '$__from $__to $__interval_ms $__timeFilter(minute)',
      '1795773600250 1795795200999 3600000 $__timeFilter(minute)',
    ],
  ])('%s', (sql, expected) => {
    expect(interpolateVariables(sql, opts())).toBe(expected)
  })

  it('rejects unknown variables and unsupported formats', () => {
    expect(() => interpolateVariables('x = $nope', opts())).toThrow('unknown template variable $nope')
    expect(() => interpolateVariables('x = ${key:regex}', opts())).toThrow('variable format "regex"')
  })
})

describe('$__conditionalAll', () => {
  it('keeps the condition unless the variable selects All', () => {
    const sql =
      'WHERE $__conditionalAll(key_id IN (${keys:singlequote}), $keys) AND $__conditionalAll(v IN ($all), ${all})'
    expect(applyConditionalAll(sql, opts().variables)).toBe('WHERE key_id IN (${keys:singlequote}) AND 1=1')
  })

  it('treats an empty selection as All', () => {
    expect(applyConditionalAll('$__conditionalAll(k = 1, $k)', { k: { current: '' } })).toBe('1=1')
  })

  it('rejects a formatted variable as the second argument', () => {
    expect(() =>
      applyConditionalAll('$__conditionalAll(k IN (${k:singlequote}), ${k:singlequote})', {}),
    ).toThrow('second argument must be $var')
  })
})

describe('expandQuery', () => {
  it('applies $__conditionalAll, then variables, then macros', () => {
    const sql = [
      'SELECT $__timeInterval(minute) AS time, sum(requests) AS failures',
      'FROM keyshift.auth_minute',
      "WHERE outcome = 'failure' AND $__timeFilter(minute)",
      '  AND $__conditionalAll(key_id IN (${keys:singlequote}), $keys)',
      '  AND $__conditionalAll(key_version IN (${all:singlequote}), $all)',
      '  AND minute >= ($__toTime - INTERVAL ${lookback} SECOND)',
      'GROUP BY time ORDER BY time',
    ].join('\n')
    expect(expandQuery(sql, opts())).toBe(
      [
        'SELECT toStartOfInterval(toDateTime(minute), INTERVAL 3600 second) AS time, sum(requests) AS failures',
        'FROM keyshift.auth_minute',
        "WHERE outcome = 'failure' AND minute >= toDateTime(1795773600) AND minute <= toDateTime(1795795200)",
        "  AND key_id IN ('acme-payments','globex-search')",
        '  AND 1=1',
        '  AND minute >= (toDateTime(1795795200) - INTERVAL 3600 SECOND)',
        'GROUP BY time ORDER BY time',
      ].join('\n'),
    )
  })
})

describe('legacyArgumentCapture', () => {
  it('flags argument-less macros that an older plugin would read arguments for', () => {
    expect(legacyArgumentCapture('minute >= $__toTime - INTERVAL 1 HOUR AND f(x)')).toEqual([
      '$__toTime - INTERVAL 1 HOUR AND f(x)',
    ])
    expect(legacyArgumentCapture('minute >= ($__toTime - INTERVAL 1 HOUR) AND f(x)')).toEqual([])
    expect(legacyArgumentCapture('$__timeFilter(minute) AND g(y)')).toEqual([])
    expect(legacyArgumentCapture('LIMIT $__interval_s')).toEqual([])
  })
})
