/**
 * Image bombs and masquerading files (issue 16, items 1 and 12): one pixel budget for every
 * decode (gateway answers, cached originals, report thumbnails), the real format checked before a
 * cached original is decoded, EXIF orientation in the recorded dimensions, and a warning naming
 * the directive when the gateway ignores the size asked for.
 */
import { once } from 'node:events'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { deflateSync } from 'node:zlib'
import sharp from 'sharp'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createDiskCache, type DiskCache } from '../src/cache/disk-cache.js'
import { requestKey } from '../src/cache/request-key.js'
import { createVariantStore } from '../src/cache/variant-store.js'
import { createFlux } from '../src/create-flux.js'
import { FluxError } from '../src/errors.js'
import { createOptimizer } from '../src/optimize/create-optimizer.js'
import { createCounters } from '../src/optimize/make-variants.js'
import { resolveOptimizeOptions } from '../src/optimize/resolve-optimize-options.js'
import { makeSocialCard } from '../src/optimize/social-card.js'
import { decodeAnswerImage, sizeWarning } from '../src/providers/check-image.js'
import { makeThumbnail } from '../src/report/make-thumbnail.js'
import { decodeOptions, MAX_INPUT_PIXELS, readImageHeader } from '../src/sharp.js'
import type { CanonicalRequest, GeneratedImage, Logger, Provider } from '../src/types.js'

const silent: Logger = { info() {}, warn() {}, error() {} }
const caught = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  )

/**
 * A 74-byte PNG whose header claims `width` x `height` over one short IDAT: its header reads, its
 * pixels cannot. A refusal that names the budget was made from the header; a decode would have
 * failed with libpng's "read error" instead (or, on a whole bomb, succeeded after gigabytes).
 */
function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1000))),
    pngChunk('IEND', Buffer.alloc(0)),
  ])
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const out = Buffer.alloc(body.length + 8)
  out.writeUInt32BE(data.length, 0)
  body.copy(out, 4)
  out.writeUInt32BE(crc32(body), body.length + 4)
  return out
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff
  for (const byte of bytes) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}

const SVG = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="20000" height="20000"><rect width="100%" height="100%"/></svg>',
)

/**
 * An SVG whose cost is its filter, not its pixels: 1200x630 (well within the budget), 240 bytes,
 * and one blur-and-dilate pass over a 2000x2000 area: a card of it took 9.7-10.5 s (5.3 s of CPU)
 * on the 2-core machine of BENCHMARKS.md (the review's 2.4 KB one, 26.8 s). Decoding it here would be the bug.
 */
const COSTLY_SVG = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630"><defs><filter id="f">' +
    '<feGaussianBlur stdDeviation="80"/><feMorphology operator="dilate" radius="60"/></filter></defs>' +
    '<rect width="2000" height="2000" filter="url(#f)"/></svg>',
)

/** A 40x30 JPEG stored sideways: EXIF orientation 6 (turn 90 degrees clockwise), displayed 30x40. */
const sideways = () =>
  sharp({ create: { width: 40, height: 30, channels: 3, background: '#8899aa' } })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .toBuffer()

describe('the pixel budget', () => {
  it('is 3072x3072: a header at the budget reads, one pixel row over it is refused', async () => {
    expect(MAX_INPUT_PIXELS).toBe(3072 * 3072)
    expect(await readImageHeader(pngClaiming(3072, 3072))).toEqual({
      format: 'png',
      width: 3072,
      height: 3072,
    })
    const err = await caught(readImageHeader(pngClaiming(3072, 3073)))
    expect(String(err)).toContain('3072x3073 pixels (9.4 MP), over the budget of 9.4 MP (3072x3072)')
  })

  it('is in the options of every decode: sharp refuses a header over it before reading pixels', async () => {
    // The second lock, for a file changed between its header check and its decode.
    const err = await caught(sharp(pngClaiming(16000, 16000), decodeOptions('error')).raw().toBuffer())
    expect(String(err)).toContain('Input image exceeds pixel limit')
  })
})

describe('a gateway answer (decodeAnswerImage)', () => {
  it('a 16000x16000 PNG is refused from its header: FLUX_BAD_IMAGE naming the size and the budget', async () => {
    const err = await caught(decodeAnswerImage(pngClaiming(16000, 16000)))
    expect(FluxError.is(err, 'FLUX_BAD_IMAGE')).toBe(true)
    const flux = err as FluxError
    expect(flux.message).toContain('the png image is 16000x16000 pixels (256.0 MP), over the budget')
    expect(flux.hint).toMatch(/^Nothing was decoded or cached/)
  })

  it('a whole, decodable image just over the budget is refused too', async () => {
    const bytes = await sharp({ create: { width: 3073, height: 3072, channels: 3, background: '#000' } })
      .png({ compressionLevel: 1 })
      .toBuffer()
    const err = await caught(decodeAnswerImage(bytes))
    expect(FluxError.is(err, 'FLUX_BAD_IMAGE')).toBe(true)
    expect(String(err)).toContain('3073x3072 pixels')
  })

  it('an SVG is refused before any parser sees it', async () => {
    const err = await caught(decodeAnswerImage(SVG))
    expect(FluxError.is(err, 'FLUX_BAD_IMAGE')).toBe(true)
    expect(String(err)).toContain('starting "<svg xmlns="http" is not a PNG, JPEG or WebP image')
  })

  it('an EXIF-rotated JPEG is recorded with its displayed dimensions', async () => {
    expect(await decodeAnswerImage(await sideways())).toEqual({ format: 'jpeg', width: 30, height: 40 })
  })
})

describe('a gateway answering a bomb, over HTTP', () => {
  let root: string
  let server: Server
  let requests = 0
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'flux-bombs-http-'))
    requests = 0
    const bomb = pngClaiming(16000, 16000).toString('base64')
    server = createServer((req, res) => {
      requests++
      req.resume().on('end', () => {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ created: 1_700_000_000, data: [{ b64_json: bomb }] }))
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
  })
  afterEach(async () => {
    server.close()
    await rm(root, { recursive: true, force: true })
  })

  it('generate: FLUX_BAD_IMAGE at the directive after 1 request, no retry, nothing cached', async () => {
    await mkdir(join(root, 'posts'), { recursive: true })
    await writeFile(join(root, 'posts/a.md'), '# Title\n\n![a](flux:a huge fox)\n')
    const env = {
      FLUX_API_KEY: 'sk-test-bombs',
      FLUX_BASE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    }
    const flux = createFlux({ root, progress: 'off', logger: silent, maxRetries: 3 }, { env })
    const summary = await flux.generate()
    expect(requests).toBe(1)
    expect(summary.generated).toBe(0)
    expect(summary.failed).toHaveLength(1)
    const err = summary.failed[0] as FluxError
    expect(err.code).toBe('FLUX_BAD_IMAGE')
    expect(err.location).toMatchObject({ file: 'posts/a.md', line: 3, column: 6 })
    expect(err.message).toContain('16000x16000 pixels (256.0 MP), over the budget of 9.4 MP')
    expect((await flux.scan()).items.map((item) => item.status)).toEqual(['missing'])
    await flux.close()
  })
})

describe('a cached original (the optimizer)', () => {
  let dir: string
  let cache: DiskCache
  beforeEach(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'flux-bombs-')), '.flux-cache')
    cache = createDiskCache({ dir, logger: silent })
  })
  afterEach(async () => {
    await rm(join(dir, '..'), { recursive: true, force: true })
  })

  /** A cache entry whose metadata says `format` and whose file holds `bytes`, hashes consistent. */
  function put(prompt: string, bytes: Buffer, format = 'png', width = 1024, height = 1024) {
    const request: CanonicalRequest = {
      model: 'flux-schnell',
      prompt,
      size: '1024x1024',
      quality: 'standard',
    }
    return cache.put(
      requestKey(request),
      request,
      { bytes, format, width, height, created: 1_700_000_000 },
      {
        provider: 'test',
        placeholder: false,
      },
    )
  }

  async function optimize(entry: Awaited<ReturnType<typeof put>>) {
    const counters = createCounters()
    const optimizer = createOptimizer({
      variants: createVariantStore({ dir, logger: silent }),
      options: resolveOptimizeOptions({ widths: [16], formats: ['webp'], webp: { effort: 0 } }),
      logger: silent,
      counters,
    })
    const err = await caught(optimizer.optimize(entry))
    const files = await readdir(join(dir, 'variants', 'files')).catch(() => [])
    return { err, counters, files }
  }

  it('an SVG saved as <key>.png is refused unparsed: FLUX_BAD_ORIGINAL saying what to do, no variant', async () => {
    const entry = await put('Masquerade', SVG)
    expect(entry.path.endsWith('.png')).toBe(true)
    const { err, counters, files } = await optimize(entry)
    expect(FluxError.is(err, 'FLUX_BAD_ORIGINAL')).toBe(true)
    const flux = err as FluxError
    expect(flux.message).toContain(entry.path)
    expect(flux.message).toContain('it starts "<svg xmlns="http": not a PNG, JPEG or WebP image')
    expect(flux.hint).toMatch(/Delete the file and the .json next to it/)
    expect(counters.decodes).toBe(0)
    expect(files).toEqual([])
  })

  it('a 16000x16000 PNG in the cache is refused from its header, never decoded', async () => {
    const { err, counters, files } = await optimize(await put('Bomb', pngClaiming(16000, 16000)))
    expect(FluxError.is(err, 'FLUX_BAD_ORIGINAL')).toBe(true)
    expect(String(err)).toContain('16000x16000 pixels (256.0 MP), over the budget')
    expect(counters.decodes).toBe(0)
    expect(files).toEqual([])
  })

  it('a file of another format than its metadata says is refused', async () => {
    const jpeg = await sharp({ create: { width: 20, height: 20, channels: 3, background: '#123' } })
      .jpeg()
      .toBuffer()
    const { err } = await optimize(await put('Other format', jpeg, 'png'))
    expect(FluxError.is(err, 'FLUX_BAD_ORIGINAL')).toBe(true)
    expect(String(err)).toContain('it is a jpeg image, its metadata says png')
  })

  it('an EXIF-rotated original gives upright variants', async () => {
    const entry = await put('Sideways', await sideways(), 'jpeg', 30, 40)
    const optimizer = createOptimizer({
      variants: createVariantStore({ dir, logger: silent }),
      options: resolveOptimizeOptions({ widths: [], formats: ['webp'], webp: { effort: 0 } }),
      logger: silent,
    })
    const result = await optimizer.optimize(entry)
    expect([result.width, result.height]).toEqual([30, 40])
  })

  it('the report thumbnail: a bomb and an SVG are refused, a rotated image is upright', async () => {
    const bomb = await put('Thumb bomb', pngClaiming(16000, 16000))
    expect(String(await caught(makeThumbnail(bomb.path)))).toContain('over the budget')
    const svg = await put('Thumb svg', SVG)
    expect(String(await caught(makeThumbnail(svg.path)))).toContain('not a PNG, JPEG or WebP image')
    const upright = await put('Thumb sideways', await sideways(), 'jpeg', 30, 40)
    expect(await makeThumbnail(upright.path)).toMatchObject({ width: 30, height: 40 })
  })
})

// Regression (issue 23, section 2): social cards decoded their input unchecked; a 2.4 KB SVG named
// .png cost 26.8 s of CPU.
describe('a social card (makeSocialCard)', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flux-bombs-card-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  /** The card of a file holding `bytes` named `name`: the error, what was decoded and encoded, the cards written. */
  async function card(name: string, bytes: Buffer) {
    const input = join(dir, name)
    await writeFile(input, bytes)
    const counters = { encodes: 0, decodes: 0 }
    const cacheDir = join(dir, '.flux-cache')
    const serve = { publicPath: '/_flux/', base: '/' }
    const err = await caught(makeSocialCard({ input, cacheDir, serve, counters }))
    const cards = await readdir(join(cacheDir, 'variants', 'cards')).catch(() => [])
    return { input, err, counters, cards }
  }

  it('an SVG named .png is refused unparsed: FLUX_BAD_CARD_INPUT naming the file, nothing decoded', async () => {
    const { input, err, counters, cards } = await card('hero.png', COSTLY_SVG)
    expect(FluxError.is(err, 'FLUX_BAD_CARD_INPUT')).toBe(true)
    const flux = err as FluxError
    expect(flux.message).toBe(
      `[flux] The social card's image ${input} was not decoded, so no card was made: ` +
        `${COSTLY_SVG.length} bytes starting "<svg xmlns="http": not a PNG, JPEG or WebP image`,
    )
    expect(flux.hint).toMatch(/^Give socialCard\(\) a PNG, JPEG or WebP image of at most 3072x3072 pixels/)
    expect(counters).toEqual({ encodes: 0, decodes: 0 })
    expect(cards).toEqual([])
  })

  it('a 16000x16000 PNG is refused from its header, never decoded', async () => {
    const { err, counters, cards } = await card('bomb.png', pngClaiming(16000, 16000))
    expect(FluxError.is(err, 'FLUX_BAD_CARD_INPUT')).toBe(true)
    expect(String(err)).toContain('the png image is 16000x16000 pixels (256.0 MP), over the budget of 9.4 MP')
    expect(counters).toEqual({ encodes: 0, decodes: 0 })
    expect(cards).toEqual([])
  })

  it('a whole, decodable PNG one column over the budget is refused from its header too', async () => {
    const bytes = await sharp({ create: { width: 3073, height: 3072, channels: 3, background: '#000' } })
      .png({ compressionLevel: 1 })
      .toBuffer()
    const { err, counters, cards } = await card('wide.png', bytes)
    expect(String(err)).toContain('3073x3072 pixels (9.4 MP), over the budget')
    expect(counters).toEqual({ encodes: 0, decodes: 0 })
    expect(cards).toEqual([])
  })

  it('an image within the budget is decoded once and makes a 1200x630 JPEG, read back', async () => {
    const { err, counters, cards } = await card('sideways.jpg', await sideways())
    expect(err).toBeUndefined()
    expect(counters).toEqual({ encodes: 1, decodes: 1 })
    expect(cards).toHaveLength(1)
    const meta = await sharp(join(dir, '.flux-cache', 'variants', 'cards', cards[0] ?? '')).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 1200, 630])
  })
})

describe('an answer of the wrong size', () => {
  const meta = { key: 'k1', file: 'k1.png', requestedSize: '1536x1024', width: 1024, height: 1024 }
  const at = (line: number) => ({ file: 'posts/a.md', line, column: 3 })

  it('gives a warning naming every directive, with a hint', () => {
    expect(sizeWarning(meta, [at(1), at(7)])).toBe(
      '[flux] posts/a.md:1:3: the gateway returned a 1024x1024 image for size 1536x1024 (also used at ' +
        'posts/a.md:7:3); it is kept (k1), with its real dimensions in the markup.\n' +
        "  hint: Check that your gateway and model support this size. To ask again, delete k1.png and k1.json from the cache's originals and build again (a new, paid request).",
    )
  })

  it('gives none when the size matches', () => {
    expect(sizeWarning({ ...meta, width: 1536 }, [at(1)])).toBeUndefined()
  })

  describe('through the engine', () => {
    let root: string
    beforeEach(async () => {
      root = await mkdtemp(join(tmpdir(), 'flux-bombs-engine-'))
    })
    afterEach(async () => {
      await rm(root, { recursive: true, force: true })
    })
    const env = { FLUX_API_KEY: 'sk-test-bombs', FLUX_BASE_URL: 'http://127.0.0.1:9' }

    /** A gateway answering every request with `image`. */
    function answering(image: () => Promise<GeneratedImage>): Provider {
      return { name: 'fake', placeholder: false, generate: image }
    }

    async function post(text: string) {
      await mkdir(dirname(join(root, 'posts/a.md')), { recursive: true })
      await writeFile(join(root, 'posts/a.md'), text)
    }

    it('generate warns once per image, at its directives, and only when it was generated', async () => {
      await post('# Title\n\n![a](flux:a red fox)\n\n![b](flux:a red fox)\n')
      const bytes = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#000' } })
        .png()
        .toBuffer()
      const provider = answering(async () => ({ bytes, format: 'png', width: 1024, height: 768, created: 1 }))
      const lines: string[] = []
      const logger: Logger = { ...silent, warn: (m) => lines.push(m) }
      const flux = createFlux({ root, progress: 'off', logger }, { env, provider })
      expect((await flux.generate()).failed).toEqual([])
      const warned = lines.filter((l) => l.includes('for size 1024x1024'))
      expect(warned).toHaveLength(1)
      expect(warned[0]).toContain('posts/a.md:3:6: the gateway returned a 1024x768 image')
      expect(warned[0]).toContain('(also used at posts/a.md:5:6)')
      await flux.generate()
      expect(lines.filter((l) => l.includes('for size 1024x1024'))).toHaveLength(1)
    })

    it("resolve() of a located directive warns at its location (the adapters' path)", async () => {
      const bytes = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#000' } })
        .png()
        .toBuffer()
      const provider = answering(async () => ({ bytes, format: 'png', width: 768, height: 1024, created: 1 }))
      const lines: string[] = []
      const logger: Logger = { ...silent, warn: (m) => lines.push(m) }
      const flux = createFlux({ root, progress: 'off', logger }, { env, provider })
      const location = { file: 'src/pages/index.astro', line: 12, column: 9 }
      await flux.resolve({ prompt: 'a green fox', location })
      await flux.resolve({ prompt: 'a green fox', location })
      const warned = lines.filter((l) => l.includes('for size 1024x1024'))
      expect(warned).toHaveLength(1)
      expect(warned[0]).toContain('[flux] src/pages/index.astro:12:9: the gateway returned a 768x1024 image')
    })

    it('an SVG answer cached as PNG fails its directive, located, when optimized', async () => {
      await post('# Title\n\n![a](flux:a blue fox)\n')
      const provider = answering(async () => ({
        bytes: SVG,
        format: 'png',
        width: 1024,
        height: 1024,
        created: 1,
      }))
      const flux = createFlux({ root, progress: 'off', logger: silent }, { env, provider })
      const summary = await flux.generate({ optimize: true })
      expect(summary.failed).toHaveLength(1)
      const err = summary.failed[0] as FluxError
      expect(err.code).toBe('FLUX_BAD_ORIGINAL')
      expect(err.location).toMatchObject({ file: 'posts/a.md', line: 3, column: 6 })
      expect(err.message).toContain('not a PNG, JPEG or WebP image')
    })
  })
})
