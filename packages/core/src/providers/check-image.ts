import { fluxError, formatLocation } from '../errors.js'
import {
  decodeOptions,
  describeBytes,
  type ImageFormat,
  ImageRefusal,
  loadSharp,
  readImageHeader,
  sniffImageFormat,
} from '../sharp.js'
import type { SourceLocation } from '../types.js'

export { type ImageFormat, sniffImageFormat }

export interface CheckedImage {
  format: ImageFormat
  /** As displayed: EXIF orientation applied. */
  width: number
  height: number
}

/**
 * Checks the header (format, pixel budget: `readImageHeader`) and then decodes the whole image
 * once, so a truncated or corrupt file is caught before it is cached: `metadata()` alone reads
 * only the header, which survives truncation. Throws FLUX_BAD_IMAGE for anything that is not a
 * complete PNG, JPEG or WebP within MAX_INPUT_PIXELS; an image over it is never decoded.
 */
export async function decodeAnswerImage(bytes: Uint8Array): Promise<CheckedImage> {
  const format = sniffImageFormat(bytes)
  if (format === undefined) {
    throw fluxError('FLUX_BAD_IMAGE', { detail: `${describeBytes(bytes)} is not a PNG, JPEG or WebP image` })
  }
  const sharp = await loadSharp()
  try {
    const header = await readImageHeader(bytes)
    // The full decode to raw pixels, thrown away; failOn turns a short read into an error instead
    // of grey pixels. (stats() decodes too but then computes statistics: 2.5x the CPU here.)
    await sharp(bytes, decodeOptions('truncated')).raw().toBuffer()
    return header
  } catch (err) {
    const reason = err instanceof Error ? err.message.trim() : String(err)
    if (err instanceof ImageRefusal && err.kind === 'pixels') {
      throw fluxError(
        'FLUX_BAD_IMAGE',
        { detail: reason },
        {
          cause: err,
          hint: 'Nothing was decoded or cached. Check the size your gateway was asked for; if it persists, report it to your gateway.',
        },
      )
    }
    throw fluxError(
      'FLUX_BAD_IMAGE',
      { detail: `the ${format} image could not be decoded (${reason})` },
      { cause: err },
    )
  }
}

/**
 * The warning for an image that is not the size its directives asked for (`requestedSize`, as
 * `WxH`), located at the first directive and naming the others; undefined when the size matches.
 * The image is kept: its real dimensions are recorded and used in the markup.
 */
export function sizeWarning(
  meta: { key: string; file: string; requestedSize: string; width: number; height: number },
  locations: readonly SourceLocation[],
): string | undefined {
  const match = /^(\d+)x(\d+)$/.exec(meta.requestedSize)
  if (!match || (Number(match[1]) === meta.width && Number(match[2]) === meta.height)) return undefined
  const [first, ...others] = locations
  const where = first ? `${formatLocation(first)}: ` : ''
  const also = others.length ? ` (also used at ${others.map(formatLocation).join(', ')})` : ''
  return (
    `[flux] ${where}the gateway returned a ${meta.width}x${meta.height} image for size ${meta.requestedSize}` +
    `${also}; it is kept (${meta.key}), with its real dimensions in the markup.\n` +
    `  hint: Check that your gateway and model support this size. To ask again, delete ${meta.file} and ` +
    `${meta.key}.json from the cache's originals and build again (a new, paid request).`
  )
}
