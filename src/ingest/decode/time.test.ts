import { describe, expect, it } from 'vitest'
import { DecodeError } from '../../domain/errors.ts'
import { parseEventTime, type TimeFormat } from './time.ts'

const T = Date.UTC(2024, 8, 19, 22, 10, 39) // 2024-09-19T22:10:39Z = 1726783839000

describe('parseEventTime', () => {
  it.each<[string, unknown, TimeFormat, number]>([
    ['ISO with Z', '2024-09-19T22:10:39Z', 'auto', T],
    ['ISO with ms', '2024-09-19T22:10:39.123Z', 'auto', T + 123],
    ['ISO with ns (Traefik StartUTC) truncates', '2024-09-19T22:10:39.250120755Z', 'auto', T + 250],
    ['ISO with offset', '2024-09-20T00:10:39+02:00', 'auto', T],
    ['ISO with compact offset', '2024-09-19T15:10:39.5-0700', 'auto', T + 500],
    ['ISO without offset is UTC', '2024-09-19T22:10:39', 'auto', T],
    ['ISO with space separator', '2024-09-19 22:10:39.001', 'auto', T + 1],
    ['ISO without seconds', '2024-09-19T22:10Z', 'auto', T - 39_000],
    ['ISO explicit format', '2024-09-19T22:10:39.123Z', 'iso8601', T + 123],
    ['CLF (NGINX time_local, AWS requestTime)', '19/Sep/2024:22:10:39 +0000', 'auto', T],
    ['CLF with offset', '10/Oct/2000:13:55:36 -0700', 'auto', Date.UTC(2000, 9, 10, 20, 55, 36)],
    ['epoch seconds', 1726783839, 'auto', T],
    ['epoch seconds with ms fraction (NGINX msec)', '1726783839.123', 'auto', T + 123],
    ['epoch ms (Kong started_at)', 1726783839123, 'auto', T + 123],
    ['epoch ms as string (AWS requestTimeEpoch)', '1726783839123', 'auto', T + 123],
    ['epoch µs', 1726783839123456, 'auto', T + 123],
    ['epoch ns', '1726783839123456789', 'auto', T + 123],
    ['explicit epoch_s', 1726783839, 'epoch_s', T],
    ['explicit epoch_ms', '1726783839123', 'epoch_ms', T + 123],
    ['explicit epoch_us', 1726783839123456, 'epoch_us', T + 123],
    ['explicit epoch_ns', '1726783839123456789', 'epoch_ns', T + 123],
    ['explicit unit wins over magnitude', 1726783839, 'epoch_ms', 1726783839],
  ])('%s', (_, value, format, expected) => {
    expect(parseEventTime(value, format)).toBe(expected)
  })

  it.each<[string, unknown, TimeFormat, string]>([
    ['prose', 'yesterday', 'auto', 'bad_time'],
    ['month 13', '2024-13-01T00:00:00Z', 'auto', 'bad_time'],
    ['31 February', '2024-02-31T00:00:00Z', 'auto', 'bad_time'],
    ['hour 24', '2024-09-19T24:00:00Z', 'auto', 'bad_time'],
    ['bad CLF month', '19/Foo/2024:22:10:39 +0000', 'auto', 'bad_time'],
    ['epoch where ISO is required', 1726783839, 'iso8601', 'bad_time'],
    ['ISO where an epoch is required', '2024-09-19T22:10:39Z', 'epoch_ms', 'bad_time'],
    ['object', { t: 1 }, 'auto', 'bad_type'],
    ['boolean', true, 'auto', 'bad_type'],
  ])('rejects %s', (_, value, format, reason) => {
    let caught: unknown
    try {
      parseEventTime(value, format)
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(DecodeError)
    expect((caught as DecodeError).reason).toBe(reason)
  })
})
