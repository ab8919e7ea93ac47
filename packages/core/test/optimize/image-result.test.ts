import { describe, expect, it } from 'vitest'
import { toImageResult, withUrls } from '../../src/optimize/image-result.js'
import type { VariantManifest } from '../../src/optimize/variant-manifest.js'

const file = (name: string, format: 'avif' | 'webp' | 'jpeg', width: number) => ({
  file: `${name}-${width}.${format === 'jpeg' ? 'jpg' : format}`,
  format,
  width,
  height: (width * 2) / 3,
  bytes: width,
})

const MANIFEST: VariantManifest = {
  version: 1,
  key: 'v'.repeat(24),
  source: { key: 'k'.repeat(24), sha256: 's'.repeat(64), placeholder: true },
  width: 960,
  height: 640,
  hasAlpha: false,
  dominantColor: '#102030',
  placeholder: '#102030',
  formats: ['avif', 'webp'],
  fallback: 'jpeg',
  files: [960, 480].flatMap((w) => [file('a', 'avif', w), file('a', 'webp', w), file('a', 'jpeg', w)]),
}
const INFO = { key: 'k'.repeat(24), prompt: 'a cat', alt: 'A cat' }

describe('withUrls', () => {
  it('is the result built under other URLs: src, every srcset and the files, from the files', () => {
    const image = toImageResult(MANIFEST, INFO, {
      filesDir: '/cache/files',
      publicPath: '/_flux/',
      base: '/',
    })
    const moved = withUrls(image, ({ url }) => url.replace('/_flux/', '/_flux/~pending/'))
    expect(moved).toEqual(
      toImageResult(MANIFEST, INFO, { filesDir: '/cache/files', publicPath: '/_flux/~pending/', base: '/' }),
    )
    expect(moved.src).toBe('/_flux/~pending/a-960.jpg')
    expect(moved.sources[0]?.srcset).toBe('/_flux/~pending/a-480.avif 480w, /_flux/~pending/a-960.avif 960w')
  })
})
