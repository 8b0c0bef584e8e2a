import { describe, expect, it } from 'vitest'
import { caseInsensitive, firstPresent, header, parseKeyRef, scaled, tagValue } from './conventions.ts'

describe('preset conventions', () => {
  it.each([
    ['acme-payments:v2', { keyId: 'acme-payments', version: 'v2' }],
    ['acme:prod:7', { keyId: 'acme:prod', version: '7' }],
    ['acme-payments:2024-06', { keyId: 'acme-payments', version: '2024-06' }],
    ['acme-payments', { keyId: 'acme-payments', version: undefined }],
    ['urn:acme', { keyId: 'urn:acme', version: undefined }],
    ['acme:', { keyId: 'acme:', version: undefined }],
  ])('parseKeyRef(%j)', (input, expected) => {
    expect(parseKeyRef(input)).toEqual(expected)
  })

  it('parseKeyRef ignores non-strings and placeholders', () => {
    expect(parseKeyRef(42)).toBeUndefined()
    expect(parseKeyRef('-')).toBeUndefined()
  })

  it.each([
    [['team:billing', 'key_version:v2'], 'key_version', 'v2'],
    [['Key-Version=v3'], 'key_version', 'v3'],
    [['key_version:'], 'key_version', undefined],
    [['key_versions:v1'], 'key_version', undefined],
    ['key_version:v2', 'key_version', undefined],
  ])('tagValue(%j, %s)', (tags, name, expected) => {
    expect(tagValue(tags, name)).toBe(expected)
  })

  it('reads flat documents case-insensitively, first present name wins', () => {
    const field = caseInsensitive({ 'request_X-Api-Key': 'k1', empty: '', dash: '-', list: ['a', 'b'] })
    expect(field('request_x-api-key')).toBe('k1')
    expect(field('empty', 'dash', 'LIST')).toBe('a')
    expect(field('missing')).toBeUndefined()
  })

  it('header takes the first of repeated values; firstPresent skips absent ones', () => {
    expect(header({ authorization: ['Bearer a', 'Bearer b'] }, 'authorization')).toBe('Bearer a')
    expect(header(['x'], 'authorization')).toBeUndefined()
    expect(firstPresent(undefined, null, '', '-', 0, 'x')).toBe(0)
  })

  it('scales numbers and numeric strings, leaves anything else for normalise to reject', () => {
    expect(scaled('0.012', 1000)).toBe(12)
    expect(scaled(2_100_000, 1e-6)).toBeCloseTo(2.1)
    expect(scaled('fast', 1000)).toBe('fast')
    expect(scaled(undefined, 1000)).toBeUndefined()
  })
})
