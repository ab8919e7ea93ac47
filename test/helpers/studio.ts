import type { Page } from 'playwright-core'
import sharp from 'sharp'
import { expect } from 'vitest'

/** The four corner colours of an image: the mock gateway's pictures are 2x2 colour grids, stretched. */
export async function corners(bytes: Buffer): Promise<number[]> {
  const { data } = await sharp(bytes)
    .removeAlpha()
    .resize(8, 8, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true })
  return [0, 7, 56, 63].flatMap((i) => [...data.subarray(i * 3, i * 3 + 3)])
}

/** The largest difference of one channel between two lists of colours. */
export const distance = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - (b[i] ?? 0))))

/** How many times the studio page has listed its images so far (it lists again after each action). */
export const loads = (studio: Pick<Page, 'evaluate'>) =>
  studio.evaluate<string>('document.body.dataset.loaded')

/** The studio's reply line, once it has listed its images again after an action. */
export async function acted(
  studio: Pick<Page, 'evaluate' | 'locator'>,
  before: string | undefined,
): Promise<string> {
  await expect.poll(() => loads(studio), { timeout: 60_000 }).not.toBe(before)
  return (await studio.locator('#message').textContent()) ?? ''
}
