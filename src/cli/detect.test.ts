import { PassThrough, Readable, Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../domain/errors.ts'
import { DETECT_OPTIONS, detectSettings, parseTimestamp, runDetect } from './detect.ts'

class Sink extends Writable {
  text = ''
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString()
    done()
  }
}

async function detect(lines: string[], opts = {}) {
  const out = new Sink()
  const err = new Sink()
  const result = await runDetect(Readable.from(lines.map((l) => `${l}\n`)), out, { errors: err, ...opts })
  return { out: out.text, err: err.text, result }
}

const T = 1_736_121_600 // 2025-01-06T00:00:00Z in epoch seconds
const iso = (minute: number) => new Date((T + minute * 60) * 1000).toISOString().replace('.000Z', 'Z')

describe('runDetect', () => {
  it('scores an obvious spike on a cold start (≥ 20 failures in 5 min; score 0.5 × window sum / 20)', async () => {
    const { out, err, result } = await detect([
      'timestamp,value',
      `${iso(0)},0`,
      `${iso(1)},1`,
      `${iso(2)},0`,
      `${iso(3)},2`,
      `${iso(4)},60`,
      `${iso(5)},0`,
    ])
    expect(out).toBe(
      [
        'timestamp,value,anomaly_score',
        '2025-01-06T00:00:00Z,0,0.0000',
        '2025-01-06T00:01:00Z,1,0.0250', // window 1
        '2025-01-06T00:02:00Z,0,0.0000', // nothing new this minute
        '2025-01-06T00:03:00Z,2,0.0750', // window 1 + 0 + 2 = 3
        '2025-01-06T00:04:00Z,60,1.0000', // window 63 ≥ 20
        '2025-01-06T00:05:00Z,0,0.0000',
        '',
      ].join('\n'),
    )
    expect(err).toBe('')
    expect(result).toEqual({ rows: 6, badLines: 0, exitCode: 0 })
  })

  it('scores a spike against the recent baseline once an hour of history exists', async () => {
    // Two hours of one failure per minute, then 30 in one minute. Baseline: 23
    // five-minute blocks of 5 → 5 per window; observed 4 + 30 = 34, P(X ≥ 34 | 5) ≈ 1e-17.
    const lines = Array.from({ length: 120 }, (_, m) => `${T + m * 60},1`)
    const { out, result } = await detect([...lines, `${T + 120 * 60},30`, `${T + 121 * 60},1`])
    const rows = out.trimEnd().split('\n')
    expect(rows).toHaveLength(1 + 122)
    expect(rows[1]).toBe(`${T},1,0.0250`) // cold start
    expect(rows[120]).toBe(`${T + 119 * 60},1,0.0000`) // at the baseline
    expect(rows[121]).toBe(`${T + 120 * 60},30,1.0000`)
    expect(rows[122]).toBe(`${T + 121 * 60},1,0.0000`) // back at the baseline itself
    expect(result.exitCode).toBe(0)
  })

  it('reports bad lines with their number, writes them without a score, and exits 1', async () => {
    const { out, err, result } = await detect([
      `${T},0`,
      `${T + 60}000,1`,
      'garbage,1',
      `${T + 120},abc`,
      `${T + 120},-1`,
      `${T},5`,
      `${T + 180},2,extra`,
      '',
      `${T + 180},2`,
    ])
    expect(out).toBe(
      [
        'timestamp,value,anomaly_score',
        `${T},0,0.0000`,
        `${T + 60}000,1,0.0250`,
        'garbage,1,',
        `${T + 120},abc,`,
        `${T + 120},-1,`,
        `${T},5,`,
        `${T + 180},2,`,
        `${T + 180},2,0.0750`,
        '',
      ].join('\n'),
    )
    expect(err).toBe(
      [
        'keyshift detect: line 3: timestamp "garbage" is neither ISO 8601 nor epoch seconds/milliseconds; row written without a score',
        'keyshift detect: line 4: value "abc" is not a number ≥ 0; row written without a score',
        'keyshift detect: line 5: value "-1" is not a number ≥ 0; row written without a score',
        "keyshift detect: line 6: timestamp 2025-01-06T00:00:00.000Z is earlier than the previous point's (2025-01-06T00:01:00.000Z bucket); points must come in time order; row written without a score",
        'keyshift detect: line 7: expected 2 fields (timestamp,value), found 3; row written without a score',
        '',
      ].join('\n'),
    )
    expect(result).toEqual({ rows: 8, badLines: 5, exitCode: 1 })
  })

  it('writes each row as soon as its line is read', async () => {
    const input = new PassThrough()
    const out = new Sink()
    const done = runDetect(input, out, { errors: new Sink() })
    input.write(`${iso(0)},3\r\n`)
    for (let i = 0; i < 100 && !out.text.includes('\n2025'); i++) await new Promise((r) => setImmediate(r))
    expect(out.text).toBe('timestamp,value,anomaly_score\n2025-01-06T00:00:00Z,3,0.0750\n')
    input.end(`${iso(1)},0\n`)
    expect(await done).toEqual({ rows: 2, badLines: 0, exitCode: 0 })
  })

  it('applies the sensitivity option', async () => {
    // high: cold start needs 10 failures, so 10 in the window is already a spike (0.5 × 10 / 10)
    const { out } = await detect([`${iso(0)},10`], { sensitivity: 'high' })
    expect(out).toBe('timestamp,value,anomaly_score\n2025-01-06T00:00:00Z,10,0.5000\n')
  })
})

describe('parseTimestamp', () => {
  const ms = T * 1000
  it.each([
    ['2025-01-06T00:00:00Z', ms],
    ['2025-01-06T00:00:00.250Z', ms + 250],
    ['2025-01-06T01:00:00+01:00', ms],
    ['2025-01-06T01:00:00+0100', ms],
    ['2025-01-06 00:00', ms],
    ['2025-01-06', ms],
    [String(T), ms],
    [`${T}.5`, ms + 500],
    [String(ms), ms],
    ['2025-02-30T00:00:00Z', null],
    ['2025-13-01', null],
    ['yesterday', null],
    ['', null],
  ])('%s', (text, want) => {
    expect(parseTimestamp(text)).toBe(want)
  })
})

describe('detect options', () => {
  it('are described for any CLI library', () => {
    expect(DETECT_OPTIONS.map((o) => [o.flags, o.name, o.default])).toEqual([
      ['--sensitivity <level>', 'sensitivity', 'medium'],
      ['--window-minutes <n>', 'windowMinutes', '5'],
      ['--step-seconds <n>', 'stepSeconds', '60'],
    ])
  })

  it('become detector settings', () => {
    const s = detectSettings({ sensitivity: 'high', windowMinutes: '10' as unknown as number })
    expect([s.sensitivity, s.alpha, s.window_ms, s.step_ms]).toEqual(['high', 1e-3, 600_000, 60_000])
  })

  it.each([
    [{ windowMinutes: 0 }, '--window-minutes'],
    [{ sensitivity: 'extreme' }, '--sensitivity'],
    [{ stepSeconds: 7 }, '--step-seconds: must divide a day'],
    [{ stepSeconds: 3600, windowMinutes: 5 }, '--window-minutes: must be a whole number of steps'],
    [{ verbose: true }, 'Unrecognized key'],
  ])('reject %o', (opts, message) => {
    expect(() => detectSettings(opts as never)).toThrow(ValidationError)
    expect(() => detectSettings(opts as never)).toThrow(message)
  })
})
