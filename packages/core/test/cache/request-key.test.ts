import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CACHE_KEY_VERSION,
  hashRequest,
  isRequestKey,
  pickCanonical,
  REQUEST_KEY_PATTERN,
  requestKey,
} from '../../src/cache/request-key.js'
import type { CanonicalRequest } from '../../src/types.js'

const base: CanonicalRequest = {
  model: 'flux-1.1-pro',
  prompt: 'A lighthouse at dawn, watercolor',
  size: '1536x1024',
  quality: 'standard',
}

// sha256('flux-images/request/v1\n' + '{"model":"flux-1.1-pro","prompt":"A lighthouse at dawn, watercolor",
// "quality":"standard","size":"1536x1024"}'), first 24 hex chars: computed outside the code under test.
const PINNED_KEY = '017b17f87898d3999dc34f0a'

describe('requestKey', () => {
  it('is 24 lowercase hex characters', () => {
    const key = requestKey(base)
    expect(key).toMatch(/^[0-9a-f]{24}$/)
    expect(REQUEST_KEY_PATTERN.test(key)).toBe(true)
    expect(isRequestKey(key)).toBe(true)
  })

  it('is the same for equal requests whatever the property order', () => {
    const reordered = {
      seed: 7,
      quality: 'standard',
      size: '1536x1024',
      prompt: base.prompt,
      model: base.model,
    } as const
    expect(requestKey(reordered)).toBe(requestKey({ ...base, seed: 7 }))
    expect(requestKey({ ...base })).toBe(requestKey(base))
  })

  it('is a pinned value, so a silent change of the serialization is caught', () => {
    // Changing this value orphans every cached image: bump CACHE_KEY_VERSION on purpose instead.
    expect(requestKey(base)).toBe(hashRequest(base, CACHE_KEY_VERSION))
    expect(CACHE_KEY_VERSION).toBe(1)
    expect(requestKey(base)).toBe(PINNED_KEY)
  })

  it('changes when any field changes', () => {
    const variants: CanonicalRequest[] = [
      { ...base, model: 'flux-schnell' },
      { ...base, prompt: `${base.prompt}.` },
      { ...base, prompt: base.prompt.toLowerCase() },
      { ...base, size: '1024x1536' },
      { ...base, quality: 'hd' },
      { ...base, seed: 0 },
      { ...base, seed: 1 },
    ]
    const keys = new Set([requestKey(base), ...variants.map(requestKey)])
    expect(keys.size).toBe(variants.length + 1)
  })

  it('tells an undefined seed from a set one, and treats `seed: undefined` as absent', () => {
    expect(requestKey({ ...base, seed: 42 })).not.toBe(requestKey(base))
    expect(requestKey({ ...base, seed: undefined })).toBe(requestKey(base))
  })

  it('ignores properties that are not part of the canonical request', () => {
    const extra = {
      ...base,
      apiKey: 'sk-test-not-a-real-key',
      baseURL: 'http://127.0.0.1:1',
      concurrency: 8,
      alt: 'x',
    }
    expect(requestKey(extra)).toBe(requestKey(base))
    expect(pickCanonical(extra)).toEqual(base)
  })

  it('hashes the version: another version gives other keys', () => {
    expect(hashRequest(base, CACHE_KEY_VERSION + 1)).not.toBe(requestKey(base))
    expect(hashRequest(base, CACHE_KEY_VERSION + 1)).toMatch(/^[0-9a-f]{24}$/)
  })

  it('does not confuse field boundaries (prompt text that looks like another field)', () => {
    const a = { ...base, prompt: 'a","size":"1024x1024' }
    const b = { ...base, prompt: 'a', size: '1024x1024' }
    expect(requestKey(a)).not.toBe(requestKey(b))
  })

  it('gives distinct keys to distinct prompts (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (p, q) => {
        fc.pre(p !== q)
        expect(requestKey({ ...base, prompt: p })).not.toBe(requestKey({ ...base, prompt: q }))
      }),
      { numRuns: 300 },
    )
  })
})

describe('isRequestKey', () => {
  it.each([
    '',
    'abc',
    '../../etc/passwd',
    'A'.repeat(24),
    'g'.repeat(24),
    `${'a'.repeat(24)}\n`,
    'a'.repeat(25),
  ])('rejects %j', (value) => {
    expect(isRequestKey(value)).toBe(false)
  })
  it('rejects non-strings', () => {
    expect(isRequestKey(123)).toBe(false)
    expect(isRequestKey(undefined)).toBe(false)
  })
})
