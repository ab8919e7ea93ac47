import { describe, expect, it, vi } from 'vitest'
import { resolveOptimizeOptions } from '../../src/optimize/resolve-optimize-options.js'
import { variantKey } from '../../src/optimize/variant-manifest.js'

const source = { sha256: 'a'.repeat(64), placeholder: false }
const slug = 'a-lighthouse'
const base = resolveOptimizeOptions({})
const keyOf = (user: Parameters<typeof resolveOptimizeOptions>[0]) =>
  variantKey(source, slug, resolveOptimizeOptions(user))

// Variants made under other settings must never be served for these: every setting that changes
// a variant's bytes is in its key.
describe('variantKey covers every setting that changes a variant', () => {
  it('is the same for the same inputs', () => {
    expect(keyOf({})).toBe(variantKey(source, slug, base))
    expect(keyOf({})).toMatch(/^[0-9a-f]{24}$/)
  })

  it.each([
    ['avif quality', { avif: { quality: 51 } }],
    ['avif effort', { avif: { effort: 4 } }],
    ['webp quality', { webp: { quality: 79 } }],
    ['jpeg quality (fallback auto)', { jpeg: { quality: 81 } }],
    ['png quality (fallback auto)', { png: { quality: 90 } }],
    ['png compressionLevel (fallback auto)', { png: { compressionLevel: 6 } }],
    ['maxWidth', { maxWidth: 1000 }],
    ['widths', { widths: [480, 960] }],
    ['formats', { formats: ['webp' as const] }],
    ['fallback', { fallback: 'jpeg' as const }],
  ])('changes with %s', (_what, user) => {
    expect(keyOf(user)).not.toBe(keyOf({}))
  })

  it.each([
    ['jpeg quality', { fallback: 'jpeg' as const }, { fallback: 'jpeg' as const, jpeg: { quality: 81 } }],
    ['png quality', { fallback: 'png' as const }, { fallback: 'png' as const, png: { quality: 90 } }],
    [
      'png compressionLevel',
      { fallback: 'png' as const },
      { fallback: 'png' as const, png: { compressionLevel: 6 } },
    ],
  ])('changes with %s when it is the only fallback', (_what, before, after) => {
    expect(keyOf(after)).not.toBe(keyOf(before))
  })

  it('changes with the source, its placeholder flag and the slug', () => {
    const key = keyOf({})
    expect(variantKey({ ...source, sha256: 'b'.repeat(64) }, slug, base)).not.toBe(key)
    expect(variantKey({ ...source, placeholder: true }, slug, base)).not.toBe(key)
    expect(variantKey(source, 'another-slug', base)).not.toBe(key)
  })

  it('changes with the sharp version (the encoders ship with it)', async () => {
    vi.resetModules()
    vi.doMock('../../src/sharp.js', async (original) => ({
      ...(await original<typeof import('../../src/sharp.js')>()),
      sharpVersion: () => '0.0.1-another-sharp',
    }))
    try {
      const other = await import('../../src/optimize/variant-manifest.js')
      const otherOptions = (
        await import('../../src/optimize/resolve-optimize-options.js')
      ).resolveOptimizeOptions({})
      expect(other.variantKey(source, slug, otherOptions)).not.toBe(variantKey(source, slug, base))
    } finally {
      vi.doUnmock('../../src/sharp.js')
      vi.resetModules()
    }
  })
})
