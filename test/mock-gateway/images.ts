import { createHash } from 'node:crypto'
import sharp from 'sharp'

/** One generated picture: real PNG bytes at the requested size. */
export interface MockImage {
  bytes: Buffer
  width: number
  height: number
}

/**
 * Makes deterministic PNGs: the same (prompt, size, seed, index) always gives the same bytes.
 * Each is a 2x2 colour grid derived from a hash, stretched to size: cheap to encode, yet
 * distinct per request. Results are memoised for the life of the maker.
 */
export function createImageMaker(): { make(input: ImageInput): Promise<MockImage>; clear(): void } {
  const cache = new Map<string, Promise<MockImage>>()
  return {
    make(input) {
      const key = JSON.stringify([input.prompt, input.size, input.seed ?? null, input.index ?? 0])
      let image = cache.get(key)
      if (!image) {
        image = render(key, input.size)
        // A failed render must not poison the cache.
        image.catch(() => cache.delete(key))
        cache.set(key, image)
      }
      return image
    },
    clear() {
      cache.clear()
    },
  }
}

export interface ImageInput {
  prompt: string
  size: string
  seed?: number | undefined
  index?: number
}

async function render(key: string, size: string): Promise<MockImage> {
  const [width, height] = size.split('x').map(Number) as [number, number]
  const colours = createHash('sha256').update(key).digest().subarray(0, 12)
  const bytes = await sharp(colours, { raw: { width: 2, height: 2, channels: 3 } })
    .resize(width, height, { kernel: 'linear', fit: 'fill' })
    .png({ compressionLevel: 1 })
    .toBuffer()
  return { bytes, width, height }
}

/** Bytes that start like a PNG and then are noise: no decoder accepts them. */
export function corrupt(bytes: Buffer): Buffer {
  const out = Buffer.alloc(Math.min(bytes.length, 4096), 0x5a)
  bytes.copy(out, 0, 0, 16)
  return out
}

/** The first half of the file: the header is fine, the pixel data stops early. */
export function truncate(bytes: Buffer): Buffer {
  return Buffer.from(bytes.subarray(0, bytes.length >> 1))
}
