import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createDiskCache, type DiskCache } from '../../src/cache/disk-cache.js'
import {
  parseRecord,
  VARIANT_MANIFEST_VERSION,
  type VariantManifest,
  VariantManifestSchema,
} from '../../src/cache/records.js'
import { requestKey } from '../../src/cache/request-key.js'
import { createVariantStore } from '../../src/cache/variant-store.js'
import { renderPicture } from '../../src/markup/index.js'
import { createOptimizer } from '../../src/optimize/create-optimizer.js'
import { type OptimizeOptions, resolveOptimizeOptions } from '../../src/optimize/resolve-optimize-options.js'
import type { CanonicalRequest, Logger } from '../../src/types.js'
import { photoFile } from './photo.js'

const KEY = '0123456789abcdef01234567'

function manifest(overrides: Partial<VariantManifest> = {}): VariantManifest {
  return {
    version: VARIANT_MANIFEST_VERSION,
    key: KEY,
    source: { key: 'fedcba9876543210fedcba98', sha256: 'a'.repeat(64), placeholder: false },
    width: 200,
    height: 100,
    hasAlpha: false,
    dominantColor: '#336699',
    placeholder: '#336699',
    formats: ['webp'],
    fallback: 'jpeg',
    files: [
      { file: 'a-0123456789ab-200.webp', format: 'webp', width: 200, height: 100, bytes: 10 },
      { file: 'a-0123456789ab-200.jpg', format: 'jpeg', width: 200, height: 100, bytes: 10 },
    ],
    ...overrides,
  }
}

/** The manifest as read back, or undefined when it reads as malformed. */
const parse = (value: unknown) => {
  const read = parseRecord(VariantManifestSchema, JSON.stringify(value), KEY, VARIANT_MANIFEST_VERSION)
  return typeof read === 'object' ? read : undefined
}

// Regression (issue 16, item 9): a manifest's `placeholder` was not validated, so a tampered
// manifest put its CSS into the `style` of every <picture> rendered from it.
describe('a variant manifest read back: placeholder', () => {
  describe('valid', () => {
    it.each([
      ['absent', undefined],
      ['a colour', '#0a1b2c'],
      ['a WebP data URI', 'data:image/webp;base64,UklGRh4AAABXRUJQVlA4TBEAAAAvAAAAAAfQ//73v/+BiOh/AAA='],
    ])('%s', (_kind, placeholder) => {
      expect(parse(manifest({ placeholder }))).toBeDefined()
    })
  })

  describe('invalid: the manifest reads as malformed', () => {
    it.each([
      'red;background-image:url(https://evil.example/x.png)',
      '#336699;position:fixed',
      '#33669',
      'red',
      'url(https://evil.example/x.png)',
      'data:image/webp;base64,AAAA");background:url("https://evil.example',
      'data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=',
      '',
    ])('%s', (placeholder) => {
      expect(parse(manifest({ placeholder }))).toBeUndefined()
    })

    it('a WebP data URI longer than 4 KiB', () => {
      expect(parse(manifest({ placeholder: `data:image/webp;base64,${'A'.repeat(5000)}` }))).toBeUndefined()
    })

    it('a non-string', () => {
      expect(parse({ ...manifest(), placeholder: 42 })).toBeUndefined()
    })
  })
})

describe('a tampered manifest on disk', () => {
  const silent: Logger = { info() {}, warn() {}, error() {} }
  const FAST: OptimizeOptions = { avif: { effort: 0 }, webp: { effort: 0 }, widths: [100], formats: ['webp'] }
  let dir: string
  let cache: DiskCache

  beforeEach(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'flux-manifest-')), '.flux-cache')
    cache = createDiskCache({ dir, logger: silent })
  })
  afterEach(async () => {
    await rm(join(dir, '..'), { recursive: true, force: true })
  })

  it.each(['color', 'blur'] as const)(
    'placeholder %s: is made again, and no <picture> carries its CSS',
    async (kind) => {
      const request: CanonicalRequest = {
        model: 'flux-schnell',
        prompt: 'tamper',
        size: '200x100',
        quality: 'standard',
      }
      const entry = await cache.put(
        requestKey(request),
        request,
        { bytes: await photoFile(200, 100), format: 'png', width: 200, height: 100, created: 1_700_000_000 },
        { provider: 'test', placeholder: false },
      )
      const options = resolveOptimizeOptions({ ...FAST, placeholder: kind })
      const cold = await createOptimizer({
        variants: createVariantStore({ dir, logger: silent }),
        options,
        logger: silent,
      }).optimize(entry)
      const manifests = join(dir, 'variants', 'manifests')
      const [name] = await readdir(manifests)
      const path = join(manifests, name ?? '')
      const stored = JSON.parse(await readFile(path, 'utf8')) as VariantManifest
      await writeFile(
        path,
        JSON.stringify({
          ...stored,
          placeholder: `${cold.dominantColor};background-image:url(https://evil.example/)`,
        }),
      )

      const again = createOptimizer({
        variants: createVariantStore({ dir, logger: silent }),
        options,
        logger: silent,
      })
      const warm = await again.optimize(entry)
      expect(again.stats).toMatchObject({ decodes: 1, hits: 0 })
      expect(warm.placeholder).toBe(cold.placeholder)
      const html = renderPicture(warm, { alt: 'x' })
      expect(html).not.toContain('evil.example')
      expect(JSON.parse(await readFile(path, 'utf8')).placeholder).toBe(cold.placeholder)
    },
  )
})
