import { PassThrough, Readable, Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../domain/errors.ts'
import { DETECT_OPTIONS, detectorFor, parseTimestamp, runDetect } from './detect.ts'
import { parseDetectArgs } from './detect-main.ts'

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

describe('runDetect, general model', () => {
  it('writes every row in order; the 16 warm-up rows score 0', async () => {
    const lines = Array.from({ length: 16 }, (_, m) => `${iso(m)},${m % 2 === 0 ? -1.5 : 1.5}`)
    const { out, err, result } = await detect(['timestamp,value', ...lines])
    expect(out).toBe(['timestamp,value,anomaly_score', ...lines.map((l) => `${l},0`), ''].join('\n'))
    expect(err).toBe('')
    expect(result).toEqual({ rows: 16, badLines: 0 })
  })

  it('scores a jump far outside a noisy series above 0.5 and the series itself below 0.3', async () => {
    // Deterministic noise in [-1, 1] around -40, then one point at +60.
    const noise = (i: number) => ((i * 7919) % 21) / 10 - 1
    const lines = Array.from({ length: 300 }, (_, i) => `${T + i * 60},${(-40 + noise(i)).toFixed(2)}`)
    const { out } = await detect([...lines, `${T + 300 * 60},60`])
    const scores = out
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((r) => Number(r.split(',')[2]))
    expect(scores).toHaveLength(301)
    expect(Math.max(...scores.slice(0, 300))).toBeLessThan(0.3)
    expect(scores[300]).toBeGreaterThanOrEqual(0.5)
  })

  it('gives unusable rows score 0 and one warning each, and never fails for them', async () => {
    const { out, err, result } = await detect([
      `${T},0`,
      `${T + 60}000,1`,
      'garbage,1',
      `${T + 120},abc`,
      `${T + 120},`,
      `${T},5`,
      `${T + 180},2,extra`,
      `${T + 190}`,
      '',
      `${T + 180},-2`,
    ])
    expect(out).toBe(
      [
        'timestamp,value,anomaly_score',
        `${T},0,0`,
        `${T + 60}000,1,0`,
        'garbage,1,0',
        `${T + 120},abc,0`,
        `${T + 120},,0`,
        `${T},5,0`,
        `${T + 180},2,0`,
        `${T + 190},,0`,
        `${T + 180},-2,0`,
        '',
      ].join('\n'),
    )
    expect(err).toBe(
      [
        'keyshift detect: line 3: timestamp "garbage" is neither ISO 8601 nor epoch seconds/milliseconds; row written with score 0',
        'keyshift detect: line 4: value "abc" is not a number; row written with score 0',
        'keyshift detect: line 5: value "" is not a number; row written with score 0',
        "keyshift detect: line 6: timestamp 2025-01-06T00:00:00.000Z is earlier than the previous row's (2025-01-06T00:01:00.000Z); row written with score 0",
        'keyshift detect: line 7: expected 2 fields (timestamp,value), found 3; row written with score 0',
        'keyshift detect: line 8: expected 2 fields (timestamp,value), found 1; row written with score 0',
        '',
      ].join('\n'),
    )
    expect(result).toEqual({ rows: 9, badLines: 6 })
  })

  it('writes the rows of each chunk as soon as the chunk is read', async () => {
    const input = new PassThrough()
    const out = new Sink()
    const done = runDetect(input, out, { errors: new Sink() })
    input.write(`${iso(0)},3\r\n`)
    for (let i = 0; i < 100 && !out.text.includes('\n2025'); i++) await new Promise((r) => setImmediate(r))
    expect(out.text).toBe('timestamp,value,anomaly_score\n2025-01-06T00:00:00Z,3,0\n')
    input.end(`${iso(1)},0`) // last line without a newline
    expect(await done).toEqual({ rows: 2, badLines: 0 })
    expect(out.text).toBe(
      'timestamp,value,anomaly_score\n2025-01-06T00:00:00Z,3,0\n2025-01-06T00:01:00Z,0,0\n',
    )
  })

  it('rejects when the input itself fails', async () => {
    const input = new PassThrough()
    const done = runDetect(input, new Sink(), { errors: new Sink() })
    input.destroy(new Error('EIO: read failed'))
    await expect(done).rejects.toThrow('EIO: read failed')
  })
})

describe('runDetect, counts model (Poisson)', () => {
  it('scores an obvious spike on a cold start (≥ 20 failures in 5 min; score 0.5 × window sum / 20)', async () => {
    const { out, err } = await detect(
      [`${iso(0)},0`, `${iso(1)},1`, `${iso(2)},0`, `${iso(3)},2`, `${iso(4)},60`, `${iso(5)},0`],
      { model: 'counts' },
    )
    expect(out).toBe(
      [
        'timestamp,value,anomaly_score',
        '2025-01-06T00:00:00Z,0,0',
        '2025-01-06T00:01:00Z,1,0.025', // window 1
        '2025-01-06T00:02:00Z,0,0', // nothing new this minute
        '2025-01-06T00:03:00Z,2,0.075', // window 1 + 0 + 2 = 3
        '2025-01-06T00:04:00Z,60,1', // window 63 ≥ 20
        '2025-01-06T00:05:00Z,0,0',
        '',
      ].join('\n'),
    )
    expect(err).toBe('')
  })

  it('gives a negative count score 0 with a warning', async () => {
    const { out, err, result } = await detect([`${iso(0)},1`, `${iso(1)},-3`], { model: 'counts' })
    expect(out).toBe(
      'timestamp,value,anomaly_score\n2025-01-06T00:00:00Z,1,0.025\n2025-01-06T00:01:00Z,-3,0\n',
    )
    expect(err).toBe('keyshift detect: line 2: value -3 is not a count ≥ 0; row written with score 0\n')
    expect(result).toEqual({ rows: 2, badLines: 1 })
  })

  it('applies the sensitivity option', async () => {
    // high: cold start needs 10 failures, so 10 in the window is already a spike (0.5 × 10 / 10)
    const { out } = await detect([`${iso(0)},10`], { model: 'counts', sensitivity: 'high' })
    expect(out).toBe('timestamp,value,anomaly_score\n2025-01-06T00:00:00Z,10,0.5\n')
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
      ['--model <name>', 'model', 'general'],
      ['--sensitivity <level>', 'sensitivity', 'medium'],
      ['--window-minutes <n>', 'windowMinutes', '5'],
      ['--step-seconds <n>', 'stepSeconds', '60'],
    ])
  })

  it('parse from the command line', () => {
    expect(parseDetectArgs(['--model', 'counts', '--window-minutes=10'])).toEqual({
      model: 'counts',
      windowMinutes: '10',
    })
    expect(parseDetectArgs(['--help'])).toBe('help')
    expect(() => parseDetectArgs(['--verbose'])).toThrow("unknown option '--verbose'")
    expect(() => parseDetectArgs(['--model'])).toThrow("option '--model <name>' argument missing")
  })

  it.each([
    [{ model: 'prophet' }, '--model: expected one of general, counts, got "prophet"'],
    [{ windowMinutes: 0 }, '--window-minutes: expected a whole number from 1 to 1440, got "0"'],
    [{ sensitivity: 'extreme' }, '--sensitivity: expected one of low, medium, high, got "extreme"'],
    [{ model: 'counts', stepSeconds: 7 }, '--step-seconds: must divide a day'],
    [
      { model: 'counts', stepSeconds: 3600, windowMinutes: 5 },
      '--window-minutes: must be a whole number of steps',
    ],
    [{ verbose: true }, 'unknown option "verbose"'],
  ])('reject %o', async (opts, message) => {
    await expect(detectorFor(opts as never)).rejects.toThrow(ValidationError)
    await expect(detectorFor(opts as never)).rejects.toThrow(message)
  })
})
