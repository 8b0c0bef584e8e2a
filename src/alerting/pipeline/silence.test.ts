import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../domain/errors.ts'
import { live, MIN, T0 } from './fixtures.test-helper.ts'
import { applySilences, newSilence } from './silence.ts'
import type { Silence, SilenceMatchers } from './types.ts'

function silence(matchers: SilenceMatchers, over: Partial<Silence> = {}): Silence {
  return {
    id: 'sil_1',
    matchers,
    startsAt: T0,
    endsAt: T0 + 60 * MIN,
    createdBy: 'ana',
    comment: 'maintenance',
    createdAt: T0,
    updatedAt: T0,
    ver: 1,
    ...over,
  }
}

describe('applySilences', () => {
  const firing = live()
  const table: Array<[string, Silence[], number, boolean]> = [
    ['type matches', [silence({ type: ['failures_after_deactivation'] })], T0 + MIN, true],
    ['key glob matches', [silence({ key: ['acme-*'] })], T0 + MIN, true],
    ['key glob does not match', [silence({ key: ['globex-*'] })], T0 + MIN, false],
    ['every matcher must match', [silence({ key: ['acme-*'], version: ['v2'] })], T0 + MIN, false],
    [
      'label glob matches one element of a list label',
      [silence({ labels: { client: 'acme-mob*' } })],
      T0 + MIN,
      true,
    ],
    ['missing label does not match', [silence({ labels: { route: '*' } })], T0 + MIN, false],
    ['scope matches', [silence({ scope: ['*'] })], T0 + MIN, true],
    ['not started yet', [silence({ key: ['acme-*'] }, { startsAt: T0 + 2 * MIN })], T0 + MIN, false],
    ['expired silences are ignored', [silence({ key: ['acme-*'] })], T0 + 60 * MIN, false],
  ]
  it.each(table)('%s', (_name, silences, now, muted) => {
    const r = applySilences([firing], silences, now)
    expect(r.notify).toEqual(muted ? [] : [firing])
    expect(r.silenced.get(firing.key)).toEqual(muted ? ['sil_1'] : undefined)
  })

  it('lets resolutions through, so receivers learn an alert they were told about is over', () => {
    const resolved = live({ phase: 'resolved', resolvedAt: T0 + MIN })
    const r = applySilences([resolved], [silence({ key: ['acme-*'] })], T0 + 2 * MIN)
    expect(r.notify).toEqual([resolved])
  })
})

describe('newSilence', () => {
  it('builds a silence from a duration', () => {
    expect(
      newSilence(
        {
          matchers: { key: ['acme-*'], type: ['failure_spike'] },
          duration: '1h30m',
          created_by: 'ana',
          comment: 'INC-42',
        },
        T0,
        'sil_x',
      ),
    ).toEqual({
      id: 'sil_x',
      matchers: { type: ['failure_spike'], key: ['acme-*'] },
      startsAt: T0,
      endsAt: T0 + 90 * MIN,
      createdBy: 'ana',
      comment: 'INC-42',
      createdAt: T0,
      updatedAt: T0,
      ver: 1,
    })
  })

  it.each([
    [{ matchers: {}, duration: '2h', created_by: 'a', comment: 'c' }, 'give at least one matcher'],
    [{ matchers: { key: ['a'] }, created_by: 'a', comment: 'c' }, 'give either ends_at or duration'],
    [{ matchers: { key: ['a'] }, duration: '2h', ends_at: T0, created_by: 'a', comment: 'c' }, 'give either'],
    [
      { matchers: { key: ['a'] }, duration: '2 hours', created_by: 'a', comment: 'c' },
      'duration: "2 hours" is not a duration; write e.g. 500ms, 90s, 15m, 1h30m, 24h or 7d',
    ],
    [{ matchers: { key: ['a'] }, ends_at: T0 - 1, created_by: 'a', comment: 'c' }, 'ends_at must be after'],
    [{ matchers: { key: ['a'] }, duration: '2h', created_by: 'a', comment: '' }, 'comment: say why'],
    [
      { matchers: { key: ['a b'] }, duration: '2h', created_by: 'a', comment: 'c' },
      'matchers.key.0: may use',
    ],
    [{ matchers: { key: ['a'] }, duration: '400d', created_by: 'a', comment: 'c' }, 'at most 366 days'],
    // The store holds times up to 2299-12-31; a later silence was saved wrapped and broke every listing.
    [
      {
        matchers: { key: ['a'] },
        starts_at: 9_007_199_254_740_000,
        duration: '2h',
        created_by: 'a',
        comment: 'c',
      },
      'starts_at: must be before 2300-01-01T00:00:00Z',
    ],
    [
      {
        matchers: { key: ['a'] },
        starts_at: '2300-01-01T00:00:00Z',
        duration: '2h',
        created_by: 'a',
        comment: 'c',
      },
      'starts_at: must be before 2300-01-01T00:00:00Z',
    ],
    [
      {
        matchers: { key: ['a'] },
        starts_at: Date.UTC(2299, 11, 31, 23),
        duration: '2h',
        created_by: 'a',
        comment: 'c',
      },
      'invalid silence: ends_at must be before 2300-01-01T00:00:00Z',
    ],
  ])('refuses %j', (input, message) => {
    expect(() => newSilence(input, T0, 'sil_x')).toThrow(ValidationError)
    expect(() => newSilence(input, T0, 'sil_x')).toThrow(message)
  })
})
