import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFlatImage } from '../optimize/flat-image.js'
import type { ImageResult } from '../optimize/index.js'
import type { Session } from '../session/create-session.js'
import type { DirectiveParams } from '../types.js'

/**
 * The file a host's own image pipeline reads for a directive (Astro's `image()`, `<Image>`): the
 * cached original once it exists (locally or in the shared bucket), with no variant of ours; a local
 * placeholder's largest fallback variant (no key, or placeholder mode); in dev, while the image is
 * pending, a flat picture of its size and dominant colour (the page reloads when it arrives).
 */
export async function imageFile(
  session: Session,
  input: { prompt: string; params: DirectiveParams },
): Promise<string> {
  const status = await session.flux.status(input)
  // In the shared bucket: downloaded and verified by `resolve`, then the original like a cached one.
  if (status === 'cached' || status === 'remote') return (await session.flux.resolve(input)).entry.path
  const shown = await session.image(input)
  const fallback = shown.files.filter((f) => f.format === 'jpeg' || f.format === 'png')
  if (fallback.length > 0) return fallback.reduce((a, b) => (b.width > a.width ? b : a)).path
  return pendingPicture(session, input, shown)
}

/** A flat picture of the image's requested size in its dominant colour, until the image arrives. */
async function pendingPicture(
  session: Session,
  input: { prompt: string; params: DirectiveParams },
  { key, dominantColor }: ImageResult,
): Promise<string> {
  const size = input.params.size ?? session.options.size
  const [width = 1024, height = 1024] = size.split('x').map(Number)
  // Beside the variants: derived, rebuilt when missing, never committed.
  const path = join(session.options.cacheDir, 'variants', 'pending', `${key}-${width}x${height}.png`)
  if (!(await stat(path).catch(() => undefined))) {
    await writeFlatImage(path, { width, height, color: dominantColor })
  }
  return path
}
