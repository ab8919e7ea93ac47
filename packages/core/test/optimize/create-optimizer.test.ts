import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type CacheEntry, createDiskCache, type DiskCache } from '../../src/cache/disk-cache.js'
import { requestKey } from '../../src/cache/request-key.js'
import { createVariantStore } from '../../src/cache/variant-store.js'
import { FluxError } from '../../src/errors.js'
import { createOptimizer } from '../../src/optimize/create-optimizer.js'
import type { ImageResult } from '../../src/optimize/image-result.js'
import {
  type OptimizeOptions,
  resolveOptimizeOptions,
  threadpoolSize,
} from '../../src/optimize/resolve-optimize-options.js'
import type { CanonicalRequest, Logger } from '../../src/types.js'
import { photoFile } from './photo.js'

const silent: Logger = { info() {}, warn() {}, error() {} }

/** Fast encoders, for tests not about the defaults. */
const FAST: OptimizeOptions = { avif: { effort: 0 }, webp: { effort: 0 }, png: { compressionLevel: 1 } }
const SMALL: OptimizeOptions = { ...FAST, widths: [100, 200] }

let dir: string
let cache: DiskCache

beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'flux-optimize-')), '.flux-cache')
  cache = createDiskCache({ dir, logger: silent })
})

afterEach(async () => {
  await rm(join(dir, '..'), { recursive: true, force: true })
})

function optimizer(options: OptimizeOptions = SMALL) {
  return createOptimizer({
    variants: createVariantStore({ dir, logger: silent }),
    options: resolveOptimizeOptions(options),
    logger: silent,
  })
}

/** A real cache entry holding a photo-like original (or given bytes). */
async function original(
  prompt: string,
  {
    width = 320,
    height = 200,
    alpha = false,
    seed = 1,
    placeholder = false,
    bytes,
  }: {
    width?: number
    height?: number
    alpha?: boolean
    seed?: number
    placeholder?: boolean
    bytes?: Buffer
  } = {},
): Promise<CacheEntry> {
  const request: CanonicalRequest = {
    model: 'flux-schnell',
    prompt,
    size: `${width}x${height}`,
    quality: 'standard',
  }
  const image = bytes ?? (await photoFile(width, height, { seed, alpha }))
  return cache.put(
    requestKey(request),
    request,
    { bytes: image, format: 'png', width, height, created: 1_700_000_000 },
    { provider: placeholder ? 'placeholder' : 'test', placeholder },
  )
}

/** The sharp format name of each output format (sharp reads AVIF as HEIF with AV1 compression). */
const SHARP_FORMAT = { avif: 'heif', webp: 'webp', jpeg: 'jpeg', png: 'png' } as const

async function expectFilesMatch(result: ImageResult): Promise<void> {
  for (const file of result.files) {
    const meta = await sharp(file.path).metadata()
    expect({ path: file.path, format: meta.format, width: meta.width, height: meta.height }).toEqual({
      path: file.path,
      format: SHARP_FORMAT[file.format],
      width: file.width,
      height: file.height,
    })
    if (file.format === 'avif') expect(meta.compression).toBe('av1')
    expect((await readFile(file.path)).length).toBe(file.bytes)
  }
}

const widthsOf = (result: ImageResult, format: string) =>
  result.files.filter((f) => f.format === format).map((f) => f.width)

describe('variants', () => {
  it('makes 480, 960, 1440 and 1536 wide AVIF, WebP and JPEG variants of a 1536x1024 original', async () => {
    const entry = await original('A lighthouse at dawn', { width: 1536, height: 1024 })
    const result = await optimizer(FAST).optimize(entry, { alt: 'Lighthouse' })

    for (const format of ['avif', 'webp', 'jpeg'])
      expect(widthsOf(result, format)).toEqual([480, 960, 1440, 1536])
    expect(result.files).toHaveLength(12)
    expect(result.files.filter((f) => f.width === 960).map((f) => f.height)).toEqual([640, 640, 640])
    await expectFilesMatch(result)

    expect(result).toMatchObject({
      width: 1536,
      height: 1024,
      alt: 'Lighthouse',
      prompt: 'A lighthouse at dawn',
    })
    expect(result.key).toBe(entry.meta.key)
    expect(result.hasAlpha).toBe(false)
    expect(result.src).toMatch(/^\/_flux\/a-lighthouse-at-dawn-[0-9a-f]{12}-1536\.jpg$/)
    expect(result.sources.map((s) => s.type)).toEqual(['image/avif', 'image/webp'])
    const avifSrcset = result.sources[0]?.srcset.split(', ') ?? []
    expect(avifSrcset.map((s) => s.split(' ')[1])).toEqual(['480w', '960w', '1440w', '1536w'])
    expect(avifSrcset[0]).toMatch(/^\/_flux\/a-lighthouse-at-dawn-[0-9a-f]{12}-480\.avif 480w$/)
    expect(result.srcset.split(', ').map((s) => s.split(' ')[1])).toEqual(['480w', '960w', '1440w', '1536w'])
    // Variants live in the git-ignored, derived part of the cache.
    for (const file of result.files) expect(file.path.startsWith(join(dir, 'variants'))).toBe(true)
  })

  it('never upscales: a 1024x1024 original gets 480, 960 and 1024 (no 1440)', async () => {
    const entry = await original('A square harbour', { width: 1024, height: 1024 })
    const result = await optimizer({ ...FAST, formats: ['webp'] }).optimize(entry)
    expect(widthsOf(result, 'webp')).toEqual([480, 960, 1024])
    expect(widthsOf(result, 'jpeg')).toEqual([480, 960, 1024])
    expect(result).toMatchObject({ width: 1024, height: 1024 })
    await expectFilesMatch(result)
  })

  it('caps the largest variant at maxWidth, and width/height describe the capped image', async () => {
    const entry = await original('A capped image', { width: 320, height: 200 })
    const result = await optimizer({ ...FAST, widths: [100, 200, 300], maxWidth: 250 }).optimize(entry)
    expect(widthsOf(result, 'jpeg')).toEqual([100, 200, 250])
    expect(result).toMatchObject({ width: 250, height: 156 })
    await expectFilesMatch(result)
  })

  it('falls back to PNG for an original with transparency, and keeps its alpha', async () => {
    const entry = await original('A glass orb', { alpha: true })
    const result = await optimizer().optimize(entry)
    expect(result.hasAlpha).toBe(true)
    expect(widthsOf(result, 'png')).toEqual([100, 200, 320])
    expect(widthsOf(result, 'jpeg')).toEqual([])
    expect(result.src).toMatch(/-320\.png$/)
    await expectFilesMatch(result)
    for (const file of result.files) expect((await sharp(file.path).metadata()).hasAlpha).toBe(true)
  })

  it('drops an alpha channel that is opaque everywhere, so the fallback is JPEG', async () => {
    const { data, info } = await sharp(await photoFile(320, 200))
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true })
    const rgba = await sharp(data, { raw: { width: info.width, height: info.height, channels: 4 } })
      .png()
      .toBuffer()
    const entry = await original('An opaque RGBA image', { bytes: rgba })
    const result = await optimizer().optimize(entry)
    expect(result.hasAlpha).toBe(false)
    expect(widthsOf(result, 'jpeg')).toEqual([100, 200, 320])
  })

  // Guards the like-for-like benchmark: resizing each size once to raw pixels and encoding every
  // format from them must give the bytes of sharp's own one-pipeline resize + encode of the file.
  it('encodes byte for byte what sharp makes of the file in one pipeline, at every size and format', async () => {
    const entry = await original('A quay in the rain', { width: 320, height: 200, seed: 7 })
    const result = await optimizer({
      widths: [80, 160],
      fallback: 'png',
      avif: { quality: 50, effort: 0 },
      webp: { quality: 80, effort: 0 },
      png: { compressionLevel: 1 },
    }).optimize(entry)
    expect(result.files.map((f) => `${f.width} ${f.format}`).sort()).toEqual(
      ['80', '160', '320'].flatMap((w) => [`${w} avif`, `${w} png`, `${w} webp`]).sort(),
    )
    for (const file of result.files) {
      const pipeline = sharp(entry.path)
      if (file.width !== 320) pipeline.resize(file.width)
      const expected =
        file.format === 'avif'
          ? pipeline.avif({ quality: 50, effort: 0 })
          : file.format === 'webp'
            ? pipeline.webp({ quality: 80, effort: 0 })
            : pipeline.png({ compressionLevel: 1 })
      expect(
        (await readFile(file.path)).equals(await expected.toBuffer()),
        `${file.width} ${file.format}`,
      ).toBe(true)
    }
  })

  it('names files <slug>-<hash of the bytes>-<width>.<ext>, so equal bytes get equal names', async () => {
    const entry = await original('Ünïcode & spaces: a café at night!', { width: 320, height: 200 })
    const result = await optimizer().optimize(entry)
    for (const file of result.files) {
      const name = file.path.slice(file.path.lastIndexOf('/') + 1)
      expect(name).toMatch(/^unicode-spaces-a-cafe-at-night-[0-9a-f]{12}-(100|200|320)\.(avif|webp|jpg)$/)
      const { createHash } = await import('node:crypto')
      const hash = createHash('sha256')
        .update(await readFile(file.path))
        .digest('hex')
      expect(name).toContain(`-${hash.slice(0, 12)}-`)
    }
  })
})

describe('the variant cache', () => {
  it('answers a second call without decoding or encoding, with a deep-equal result', async () => {
    const entry = await original('A warm lighthouse')
    const opt = optimizer()
    const cold = await opt.optimize(entry, { alt: 'x' })
    expect(opt.stats).toMatchObject({ decodes: 1, encodes: 9 })

    const warm = await opt.optimize(entry, { alt: 'x' })
    expect(opt.stats).toMatchObject({ decodes: 1, encodes: 9, hits: 1 })
    expect(warm).toEqual(cold)
    // Every file was written through a temp file and renamed: none is left behind.
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
  })

  it('answers from the manifest on disk in a new optimizer over the same cache', async () => {
    const entry = await original('A lighthouse, next build')
    const cold = await optimizer().optimize(entry)
    const again = optimizer()
    const warm = await again.optimize(entry)
    expect(again.stats).toMatchObject({ decodes: 0, encodes: 0, hits: 1 })
    expect(warm).toEqual(cold)
    const manifests = await readdir(join(dir, 'variants', 'manifests'))
    expect(manifests).toHaveLength(1)
    expect(manifests[0]).toMatch(/^[0-9a-f]{24}\.json$/)
  })

  it('makes the variants once for concurrent calls on the same image', async () => {
    const entry = await original('Asked for three times at once')
    const opt = optimizer()
    const results = await Promise.all([opt.optimize(entry), opt.optimize(entry), opt.optimize(entry)])
    expect(opt.stats.decodes).toBe(1)
    expect(opt.stats.encodes).toBe(9)
    expect(results[1]).toEqual(results[0])
    expect(results[2]).toEqual(results[0])
  })

  it('makes the variants again when one of their files is gone', async () => {
    const entry = await original('A damaged variant cache')
    const cold = await optimizer().optimize(entry)
    await unlink(cold.files[0]?.path ?? '')
    const again = optimizer()
    const rebuilt = await again.optimize(entry)
    expect(again.stats).toMatchObject({ decodes: 1, hits: 0 })
    expect(existsSync(rebuilt.files[0]?.path ?? '')).toBe(true)
  })

  it('makes new variants when an encoder option changes, not when only URLs do', async () => {
    const entry = await original('Options change')
    await optimizer().optimize(entry)
    const urlsOnly = optimizer({ ...SMALL, base: '/blog/', publicPath: '/img/' })
    const moved = await urlsOnly.optimize(entry)
    expect(urlsOnly.stats.encodes).toBe(0)
    expect(moved.src).toMatch(/^\/blog\/img\//)

    const requality = optimizer({ ...SMALL, webp: { effort: 0, quality: 40 } })
    await requality.optimize(entry)
    expect(requality.stats.encodes).toBe(9)
  })

  it('keeps the variants of a placeholder apart from those of the real image that replaces it', async () => {
    const placeholder = await original('Replaced later', { seed: 7, placeholder: true })
    const opt = optimizer()
    const before = await opt.optimize(placeholder)
    const real = await original('Replaced later', { seed: 8 })
    const after = await opt.optimize(real)
    expect(opt.stats.decodes).toBe(2)
    const names = (r: ImageResult) => new Set(r.files.map((f) => f.path))
    expect([...names(after)].filter((p) => names(before).has(p))).toEqual([])

    // Even with identical bytes, a placeholder and a real image do not share a manifest.
    const same = await photoFile(320, 200, { seed: 9 })
    await opt.optimize(await original('Same bytes', { bytes: same, placeholder: true }))
    await opt.optimize(await original('Same bytes', { bytes: same }))
    expect(opt.stats.decodes).toBe(4)
  })
})

describe('placeholders', () => {
  it('blur: a WebP data URI well under 1 KB that decodes to a tiny image', async () => {
    const result = await optimizer().optimize(await original('A blurry harbour'))
    const uri = result.placeholder ?? ''
    expect(uri).toMatch(/^data:image\/webp;base64,[A-Za-z0-9+/]+=*$/)
    expect(uri.length).toBeLessThan(1024)
    const meta = await sharp(Buffer.from(uri.split(',')[1] ?? '', 'base64')).metadata()
    expect(meta.format).toBe('webp')
    expect(Math.max(meta.width ?? 0, meta.height ?? 0)).toBe(16)
    expect(result.dominantColor).toMatch(/^#[0-9a-f]{6}$/)
  })

  it('color: the dominant colour as #rrggbb', async () => {
    const red = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#c81e1e' } })
      .png()
      .toBuffer()
    const result = await optimizer({ ...SMALL, placeholder: 'color' }).optimize(
      await original('A red wall', { bytes: red }),
    )
    expect(result.placeholder).toMatch(/^#[0-9a-f]{6}$/)
    expect(result.placeholder).toBe(result.dominantColor)
    // The 4096-bin histogram gives the colour to within its bin (16 levels per channel).
    const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(result.dominantColor.slice(i, i + 2), 16))
    expect(Math.abs((r ?? 0) - 0xc8)).toBeLessThan(16)
    expect(Math.abs((g ?? 0) - 0x1e)).toBeLessThan(16)
    expect(Math.abs((b ?? 0) - 0x1e)).toBeLessThan(16)
  })

  it('none: no placeholder, the dominant colour still set', async () => {
    const result = await optimizer({ ...SMALL, placeholder: 'none' }).optimize(await original('Plain'))
    expect(result.placeholder).toBeUndefined()
    expect(result.dominantColor).toMatch(/^#[0-9a-f]{6}$/)
  })
})

describe('bad input', () => {
  it('a corrupt original: FLUX_BAD_ORIGINAL naming the entry, with a hint', async () => {
    const garbage = Buffer.from('this is not an image at all, just text bytes'.repeat(20))
    const entry = await original('Corrupt', { bytes: garbage })
    // The cache serves it: its sha256 matches what was stored.
    expect(await cache.get(entry.meta.key)).toBeDefined()
    const err = await optimizer()
      .optimize(entry)
      .catch((e: unknown) => e)
    expect(FluxError.is(err, 'FLUX_BAD_ORIGINAL')).toBe(true)
    const flux = err as FluxError
    expect(flux.message).toContain(entry.meta.key)
    expect(flux.message).toContain(entry.path)
    expect(flux.hint).toMatch(/Delete the file/)
  })

  it('a truncated original is refused, not encoded as grey', async () => {
    const whole = await photoFile(320, 200)
    const entry = await original('Truncated', { bytes: whole.subarray(0, whole.length >> 1) })
    const err = await optimizer()
      .optimize(entry)
      .catch((e: unknown) => e)
    expect(FluxError.is(err, 'FLUX_BAD_ORIGINAL')).toBe(true)
  })

  it('a missing original file: FLUX_BAD_ORIGINAL', async () => {
    const entry = await original('Missing file')
    const err = await optimizer()
      .optimize({ ...entry, path: join(dir, 'nowhere.png') })
      .catch((e: unknown) => e)
    expect(FluxError.is(err, 'FLUX_BAD_ORIGINAL')).toBe(true)
  })

  it('one bad image does not stop the others', async () => {
    const good1 = await original('Good one', { seed: 2 })
    const bad = await original('Bad one', { bytes: Buffer.from('garbage'.repeat(50)) })
    const good2 = await original('Good two', { seed: 3 })
    const opt = optimizer()
    const settled = await Promise.allSettled([good1, bad, good2].map((e) => opt.optimize(e)))
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    for (const s of settled) if (s.status === 'fulfilled') await expectFilesMatch(s.value)
    // Nothing was left half-done: the failed job wrote no manifest.
    expect(await readdir(join(dir, 'variants', 'manifests'))).toHaveLength(2)
  })
})

describe('the sharp pool', () => {
  it('runs at most `concurrency` sharp operations and holds at most that many originals at once', async () => {
    const entries = await Promise.all([1, 2, 3, 4, 5].map((seed) => original(`Pool ${seed}`, { seed })))
    const opt = optimizer({ ...SMALL, concurrency: 2 })
    await Promise.all(entries.map((e) => opt.optimize(e)))
    expect(opt.stats.decodes).toBe(5)
    expect(opt.stats.peakActive).toBe(2)
    expect(opt.stats.peakHeld).toBeLessThanOrEqual(2)
    expect(opt.stats.active).toBe(0)
    expect(opt.stats.held).toBe(0)
  })

  it('warns when the pool is larger than libuv threadpool, which would silently cap it', () => {
    const warnings: string[] = []
    const logger = { ...silent, warn: (m: string) => warnings.push(m) }
    const over = threadpoolSize() + 1
    createOptimizer({
      variants: createVariantStore({ dir, logger: silent }),
      options: resolveOptimizeOptions({ concurrency: over }),
      logger,
    })
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(`UV_THREADPOOL_SIZE=${over + 1}`)
    createOptimizer({
      variants: createVariantStore({ dir, logger: silent }),
      options: resolveOptimizeOptions(),
      logger,
    })
    expect(warnings).toHaveLength(1)
  })

  it('runs operations one at a time with concurrency 1', async () => {
    const entries = await Promise.all([1, 2].map((seed) => original(`Serial ${seed}`, { seed })))
    const opt = optimizer({ ...SMALL, concurrency: 1 })
    await Promise.all(entries.map((e) => opt.optimize(e)))
    expect(opt.stats.peakActive).toBe(1)
    expect(opt.stats.peakHeld).toBe(1)
  })
})

describe('URLs', () => {
  it('joins the site base and the public path', async () => {
    const entry = await original('A URL test')
    const name = (url: string) => url.slice(url.lastIndexOf('/') + 1)
    const byDefault = await optimizer().optimize(entry)
    expect(byDefault.src).toBe(`/_flux/${name(byDefault.src)}`)

    const blog = await optimizer({ ...SMALL, base: '/blog/' }).optimize(entry)
    expect(blog.src).toBe(`/blog/_flux/${name(byDefault.src)}`)
    for (const file of blog.files) expect(file.url).toMatch(/^\/blog\/_flux\/[^/]+$/)
    expect(blog.sources[0]?.srcset).toContain('/blog/_flux/')

    const bare = await optimizer({ ...SMALL, base: 'docs', publicPath: 'assets/img' }).optimize(entry)
    expect(bare.src).toBe(`/docs/assets/img/${name(byDefault.src)}`)

    const cdn = await optimizer({
      ...SMALL,
      base: '/blog/',
      publicPath: 'https://cdn.example/flux',
    }).optimize(entry)
    expect(cdn.src).toBe(`https://cdn.example/flux/${name(byDefault.src)}`)
  })
})
