import { createHash } from 'node:crypto'
import type { Sharp } from 'sharp'
import {
  type CacheEntry,
  type OutputFormat,
  VARIANT_EXTENSIONS,
  VARIANT_MANIFEST_VERSION,
  type VariantFile,
  type VariantManifest,
  type VariantStore,
} from '../cache/index.js'
import { fluxError } from '../errors.js'
import { decodeOptions, loadSharp, readImageHeader } from '../sharp.js'
import { planWidths, type VariantSize } from './plan-widths.js'
import type { FallbackFormat, ResolvedOptimizeOptions } from './resolve-optimize-options.js'
import { FILE_HASH_LENGTH } from './variant-manifest.js'

/** The blur placeholder fits in this many pixels square: ~150 bytes of WebP, smooth once scaled up. */
const BLUR_BOX = 16
const BLUR_QUALITY = 50

/** Counts of the optimizer's work, live. For tests, benchmarks and progress. */
export interface OptimizeCounters {
  /** Originals decoded (cold optimizations). */
  decodes: number
  /** Variant files encoded. */
  encodes: number
  /** Optimizations answered from a manifest on disk, without decoding. */
  hits: number
  /** sharp operations running now, and the most that ever ran at once. */
  active: number
  peakActive: number
  /** Originals held decoded now, and the most ever held at once. */
  held: number
  peakHeld: number
}

export function createCounters(): OptimizeCounters {
  return { decodes: 0, encodes: 0, hits: 0, active: 0, peakActive: 0, held: 0, peakHeld: 0 }
}

/** Runs one sharp operation in the optimizer's bounded pool. */
export type RunSharp = <T>(operation: () => Promise<T>) => Promise<T>

export interface MakeVariantsContext {
  entry: CacheEntry
  /** The variant key the manifest is stored under. */
  key: string
  slug: string
  options: ResolvedOptimizeOptions
  /** Where each variant file is stored as soon as it is encoded. */
  variants: VariantStore
  run: RunSharp
  counters: OptimizeCounters
}

/**
 * Checks the original's header (its real format against its metadata's, its pixels against
 * MAX_INPUT_PIXELS: `readImageHeader`), then decodes it once into raw pixels, upright, and makes
 * every variant from that one buffer (sharp `clone()`s of a raw input share it: no variant reads
 * or decodes the file again). Files go to the variant store under content-hashed names. The pixels
 * are released when this returns.
 */
export async function makeVariants(ctx: MakeVariantsContext): Promise<VariantManifest> {
  const { entry, options, run, counters } = ctx
  const sharp = await loadSharp()
  const decoded = await run(async () => {
    // The cache may hold files nobody here wrote (a committed cache, a copied folder): the real
    // format and the pixel count are checked from the header before anything is decoded.
    const header = await readImageHeader(entry.path)
    if (header.format !== entry.meta.format) {
      throw new Error(`it is a ${header.format} image, its metadata says ${entry.meta.format}`)
    }
    return (
      sharp(entry.path, decodeOptions('error'))
        .autoOrient()
        // Raw pixels carry no profile: convert to sRGB now, as every output is served in sRGB.
        .toColourspace('srgb')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true })
    )
  }).catch((err: unknown) => {
    throw fluxError(
      'FLUX_BAD_ORIGINAL',
      { key: entry.meta.key, path: entry.path, reason: reasonOf(err) },
      { cause: err },
    )
  })
  counters.decodes++
  const { width, height, channels } = decoded.info
  if (channels !== 3 && channels !== 4) {
    throw fluxError('FLUX_BAD_ORIGINAL', {
      key: entry.meta.key,
      path: entry.path,
      reason: `decoded to ${channels} channels, expected 3 or 4`,
    })
  }
  const source = sharp(decoded.data, { raw: { width, height, channels } })

  const stats = await run(() => source.clone().stats())
  const hasAlpha = channels === 4 && !stats.isOpaque
  // An alpha channel that is opaque everywhere (common in generated PNGs) would only cost bytes.
  const base = channels === 4 && !hasAlpha ? source.clone().removeAlpha() : source
  const dominantColor = toHex(stats.dominant)
  const fallback: FallbackFormat =
    options.fallback === 'auto' ? (hasAlpha ? 'png' : 'jpeg') : options.fallback

  let placeholder: string | undefined
  if (options.placeholder === 'color') placeholder = dominantColor
  else if (options.placeholder === 'blur') {
    const tiny = await run(() =>
      base
        .clone()
        .resize(BLUR_BOX, BLUR_BOX, { fit: 'inside' })
        .webp({ quality: BLUR_QUALITY, alphaQuality: BLUR_QUALITY })
        .toBuffer(),
    )
    placeholder = `data:image/webp;base64,${tiny.toString('base64')}`
  }

  const sizes = planWidths({ width, height }, options)
  // Each size is resized once, to raw pixels, and every format encoded from those: resizing once
  // per format took ours to 1.07x bare sharp's CPU in a like-for-like run (BENCHMARKS.md), 1.00x
  // since. The outputs are byte for byte the same. Started on first use, so the largest size's
  // pixels come first; all are released when this returns.
  const resized = new Map<number, Promise<Sharp>>()
  const sized = (size: VariantSize): Promise<Sharp> => {
    if (size.width === width) return Promise.resolve(base)
    let pixels = resized.get(size.width)
    if (!pixels) {
      pixels = run(() =>
        base
          .clone()
          .resize(size.width, size.height, { fit: 'fill' })
          .raw({ depth: 'uchar' })
          .toBuffer({ resolveWithObject: true }),
      ).then(({ data, info }) =>
        sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } }),
      )
      resized.set(size.width, pixels)
    }
    return pixels
  }
  // Largest and slowest (AVIF) first, so the pool does not end waiting on one long encode.
  const jobs = [...options.formats, fallback]
    .flatMap((format) => sizes.map((size) => ({ format, size })))
    .sort((a, b) => cost(b.format) * b.size.width - cost(a.format) * a.size.width)
  const settled = await Promise.allSettled(jobs.map((job) => encodeOne(ctx, sized, job.format, job.size)))
  // Every encode has finished (none left running on the pixels) before a failure is reported.
  const failure = settled.find((s) => s.status === 'rejected')
  if (failure) throw failure.reason
  const files = settled.map((s) => (s as PromiseFulfilledResult<VariantFile>).value)

  const top = sizes[sizes.length - 1] as VariantSize
  return {
    version: VARIANT_MANIFEST_VERSION,
    key: ctx.key,
    source: { key: entry.meta.key, sha256: entry.meta.sha256, placeholder: entry.placeholder },
    width: top.width,
    height: top.height,
    hasAlpha,
    dominantColor,
    ...(placeholder === undefined ? {} : { placeholder }),
    formats: [...options.formats],
    fallback,
    files: files.sort((a, b) => a.width - b.width || a.format.localeCompare(b.format)),
  }
}

async function encodeOne(
  ctx: MakeVariantsContext,
  sized: (size: VariantSize) => Promise<Sharp>,
  format: OutputFormat,
  size: VariantSize,
): Promise<VariantFile> {
  const variant = `${size.width}px ${format}`
  const { data, info } = await sized(size)
    .then((pixels) =>
      ctx.run(() => encoder(pixels.clone(), format, ctx.options).toBuffer({ resolveWithObject: true })),
    )
    .catch((err: unknown) => {
      throw fluxError(
        'FLUX_OPTIMIZE_FAILED',
        { key: ctx.entry.meta.key, variant, reason: reasonOf(err) },
        { cause: err },
      )
    })
  ctx.counters.encodes++
  const hash = createHash('sha256').update(data).digest('hex').slice(0, FILE_HASH_LENGTH)
  const file = `${ctx.slug}-${hash}-${info.width}.${VARIANT_EXTENSIONS[format]}`
  await ctx.variants.writeFile(file, data)
  return { file, format, width: info.width, height: info.height, bytes: data.length }
}

function encoder(pipeline: Sharp, format: OutputFormat, options: ResolvedOptimizeOptions): Sharp {
  switch (format) {
    case 'avif':
      return pipeline.avif(options.avif)
    case 'webp':
      return pipeline.webp(options.webp)
    case 'jpeg':
      return pipeline.jpeg({ quality: options.jpeg.quality, mozjpeg: true })
    case 'png': {
      const { quality, compressionLevel } = options.png
      return pipeline.png({ compressionLevel, ...(quality < 100 ? { palette: true, quality } : {}) })
    }
  }
}

/** Rough relative encode time per pixel, only to order the work. */
function cost(format: OutputFormat): number {
  return format === 'avif' ? 8 : format === 'webp' ? 2 : 1
}

function toHex({ r, g, b }: { r: number; g: number; b: number }): string {
  return `#${[r, g, b].map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message.trim() : String(err)
}
