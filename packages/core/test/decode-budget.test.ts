/**
 * The pixel budget at every decode site, not only in `decodeOptions()`: each decode is the second
 * lock, for a file that changed between its header check (`readImageHeader`) and its decode. Here
 * the header check reads a small stand-in for the bomb (sharp is wrapped to do so), as if the file
 * had been swapped after it, and the decode itself must refuse the 16000x16000 header. A decode
 * without the budget fails differently: libpng's read error on the bomb's short pixel data.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { deflateSync } from 'node:zlib'
import sharp from 'sharp'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createDiskCache } from '../src/cache/disk-cache.js'
import { requestKey } from '../src/cache/request-key.js'
import { createVariantStore } from '../src/cache/variant-store.js'
import { createOptimizer } from '../src/optimize/create-optimizer.js'
import { resolveOptimizeOptions } from '../src/optimize/resolve-optimize-options.js'
import { makeSocialCard } from '../src/optimize/social-card.js'
import { decodeAnswerImage } from '../src/providers/check-image.js'
import { makeThumbnail } from '../src/report/make-thumbnail.js'
import type { CanonicalRequest, Logger } from '../src/types.js'

/** A 16000x16000 PNG header over a short IDAT: the budget refuses its header, a decode fails on its pixels. */
const BOMB = pngClaiming(16000, 16000)
const STAND_IN = pngClaiming(8, 8, deflateSync(Buffer.alloc(8 * (1 + 8 * 3))))
// Files holding BOMB: their header check reads STAND_IN.
const bombPaths = new Set<string>()

vi.mock('sharp', async (importOriginal) => {
  const real = (await importOriginal<{ default: typeof sharp }>()).default
  type Input = Parameters<typeof sharp>[0]
  type Options = Parameters<typeof sharp>[1]
  // The header check is the one read with `limitInputPixels: false` (it applies the budget itself).
  const isBomb = (input: unknown) =>
    (Buffer.isBuffer(input) && input.equals(BOMB)) || (typeof input === 'string' && bombPaths.has(input))
  const wrapped = (input?: Input, options?: Options) =>
    real(options?.limitInputPixels === false && isBomb(input) ? STAND_IN : input, options)
  return { default: Object.assign(wrapped, real) }
})

const REFUSED = 'Input image exceeds pixel limit'
const silent: Logger = { info() {}, warn() {}, error() {} }
let dir: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-decode-budget-'))
})
afterEach(async () => {
  bombPaths.clear()
  await rm(dir, { recursive: true, force: true })
})

/** The messages of an error and its causes, one per line. */
async function refusal(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => new Error('expected a refusal'),
    (e: unknown) => e,
  )
  const messages: string[] = []
  for (let e: unknown = err; e instanceof Error; e = e.cause) messages.push(e.message)
  return messages.join('\n')
}

async function bombFile(name: string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, BOMB)
  bombPaths.add(path)
  return path
}

describe('every decode site refuses an image over the budget by itself', () => {
  it('the stand-in passes the header check, and the bomb fails a decode without the budget otherwise', async () => {
    expect(await decodeAnswerImage(STAND_IN)).toEqual({ format: 'png', width: 8, height: 8 })
    const unbudgeted = await refusal(sharp(BOMB, { failOn: 'error' }).raw().toBuffer())
    expect(unbudgeted).not.toContain(REFUSED)
    expect(
      await refusal(
        sharp(BOMB, { failOn: 'error', limitInputPixels: 3072 * 3072 })
          .raw()
          .toBuffer(),
      ),
    ).toContain(REFUSED)
  })

  it('a gateway answer (decodeAnswerImage)', async () => {
    expect(await refusal(decodeAnswerImage(BOMB))).toContain(REFUSED)
  })

  it('a cached original (the optimizer)', async () => {
    const cacheDir = join(dir, '.flux-cache')
    const request: CanonicalRequest = {
      model: 'flux-schnell',
      prompt: 'Bomb',
      size: '1024x1024',
      quality: 'standard',
    }
    const entry = await createDiskCache({ dir: cacheDir, logger: silent }).put(
      requestKey(request),
      request,
      { bytes: BOMB, format: 'png', width: 1024, height: 1024, created: 1_700_000_000 },
      { provider: 'test', placeholder: false },
    )
    bombPaths.add(entry.path)
    const optimizer = createOptimizer({
      variants: createVariantStore({ dir: cacheDir, logger: silent }),
      options: resolveOptimizeOptions({ widths: [16], formats: ['webp'], webp: { effort: 0 } }),
      logger: silent,
    })
    expect(await refusal(optimizer.optimize(entry))).toContain(REFUSED)
  })

  it('a report thumbnail', async () => {
    expect(await refusal(makeThumbnail(await bombFile('thumb.png')))).toContain(REFUSED)
  })

  it('a social card, centred on its subject and on a focal point', async () => {
    const serve = { publicPath: '/_flux/', base: '/' }
    for (const [name, focus] of [
      ['attention.png', 'attention'],
      ['point.png', { x: 0.5, y: 0.5 }],
    ] as const) {
      const input = await bombFile(name)
      expect(await refusal(makeSocialCard({ input, cacheDir: dir, focus, serve })), name).toContain(REFUSED)
    }
  })

  // A decode added elsewhere must get its own test above.
  it('are the only sharp() calls on an encoded image in core, each passing decodeOptions()', async () => {
    const src = fileURLToPath(new URL('../src', import.meta.url))
    const sites: string[] = []
    for (const file of (await readdir(src, { recursive: true })).filter((f) => f.endsWith('.ts')).sort()) {
      const lines = (await readFile(join(src, file), 'utf8')).split('\n')
      for (const line of lines) {
        // Raw pixels and new canvases are ours; `limitInputPixels: false` is the header check itself.
        if (!/\bsharp\(/.test(line) || /\{ (raw|create): |limitInputPixels: false/.test(line)) continue
        sites.push(
          `${relative(src, join(src, file))}: ${line.includes('decodeOptions(') ? 'budget' : line.trim()}`,
        )
      }
    }
    expect(sites).toEqual([
      'optimize/make-variants.ts: budget',
      // One decode: the crop takes its size from the header check.
      'optimize/social-card.ts: budget',
      'providers/check-image.ts: budget',
      'report/make-thumbnail.ts: budget',
    ])
  })
})

/** A PNG whose header claims `width` x `height`, over `idat` (by default one short block). */
function pngClaiming(width: number, height: number, idat = deflateSync(Buffer.alloc(1000))): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
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
