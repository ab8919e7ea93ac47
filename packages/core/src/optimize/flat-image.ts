import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { loadSharp } from '../sharp.js'

/**
 * A PNG of one colour (a few hundred bytes at any size): what a host's own image pipeline reads in
 * place of an image that is still being generated, with the size and colour the image will have.
 */
export async function writeFlatImage(
  path: string,
  { width, height, color }: { width: number; height: number; color: string },
): Promise<void> {
  const sharp = await loadSharp()
  await mkdir(dirname(path), { recursive: true })
  await sharp({ create: { width, height, channels: 3, background: color } })
    .png()
    .toFile(path)
}
