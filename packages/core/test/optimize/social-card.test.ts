import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { cropAround, makeSocialCard, SOCIAL_CARD } from '../../src/optimize/social-card.js'

const SERVE = { publicPath: '/_flux/', base: '/' }
let dir: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-card-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** A 1024x1024 PNG of one colour with a block of another at (left, top), written as `name`. */
async function picture(
  name: string,
  ground: string,
  block: { color: string; left: number; top: number; width: number; height: number },
) {
  const path = join(dir, name)
  const { color, left, top, width, height } = block
  const input = await sharp({ create: { width, height, channels: 3, background: color } })
    .png()
    .toBuffer()
  await sharp({ create: { width: 1024, height: 1024, channels: 3, background: ground } })
    .composite([{ input, left, top }])
    .png()
    .toFile(path)
  return path
}

/** Grey, with a red subject across its bottom band (source rows 850-1000). */
const subjectLow = () =>
  picture('subject.png', '#808080', { color: '#e01010', left: 212, top: 850, width: 600, height: 150 })

/** Red above, blue below. */
const halves = () =>
  picture('halves.png', '#e01010', { color: '#1010e0', left: 0, top: 512, width: 1024, height: 512 })

/** Pixels of the card that are clearly red. */
async function redPixels(path: string): Promise<number> {
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true })
  let red = 0
  for (let i = 0; i < data.length; i += info.channels) {
    if ((data[i] ?? 0) > 180 && (data[i + 1] ?? 0) < 80 && (data[i + 2] ?? 0) < 80) red++
  }
  return red
}

async function centre(path: string): Promise<number[]> {
  const { data } = await sharp(path)
    .extract({ left: SOCIAL_CARD.width / 2, top: SOCIAL_CARD.height / 2, width: 1, height: 1 })
    .raw()
    .toBuffer({ resolveWithObject: true })
  return [...data]
}

describe('makeSocialCard', () => {
  it('is a 1200x630 JPEG, read back with sharp, with a content-hashed public URL', async () => {
    const card = await makeSocialCard({
      input: await subjectLow(),
      cacheDir: dir,
      serve: SERVE,
      name: 'A lake',
    })
    const meta = await sharp(card.path).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 1200, 630])
    expect(card).toMatchObject({ width: 1200, height: 630, type: 'image/jpeg' })
    expect(card.url).toMatch(/^\/_flux\/a-lake-card-[0-9a-f]{16}\.jpg$/)
    expect(card.bytes).toBe((await stat(card.path)).size)
    expect(card.path).toBe(join(dir, 'variants', 'cards', card.url.slice('/_flux/'.length)))
  })

  it('centres on the subject (attention): the red band low in the picture is in the card', async () => {
    const input = await subjectLow()
    const attention = await makeSocialCard({ input, cacheDir: dir, serve: SERVE })
    // The control: the geometric centre crop misses the band.
    const middle = await makeSocialCard({ input, cacheDir: dir, serve: SERVE, focus: { x: 0.5, y: 0.5 } })
    expect(await redPixels(middle.path)).toBe(0)
    expect(await redPixels(attention.path)).toBeGreaterThan(50_000)
  })

  it('centres on a focal point the user gives, as far as the edges allow', async () => {
    const input = await halves()
    const top = await makeSocialCard({ input, cacheDir: dir, serve: SERVE, focus: { x: 0.5, y: 0.1 } })
    const bottom = await makeSocialCard({ input, cacheDir: dir, serve: SERVE, focus: { x: 0.5, y: 0.9 } })
    const [r1 = 0, , b1 = 0] = await centre(top.path)
    const [r2 = 0, , b2 = 0] = await centre(bottom.path)
    expect(r1).toBeGreaterThan(180)
    expect(b1).toBeLessThan(80)
    expect(b2).toBeGreaterThan(180)
    expect(r2).toBeLessThan(80)
    // 1024x1024 scaled to 1200x1200: the focus row minus half the card, kept inside the picture.
    expect(cropAround({ x: 0.5, y: 0.1 }, { width: 1200, height: 1200 })).toEqual({
      left: 0,
      top: 0,
      width: 1200,
      height: 630,
    })
    expect(cropAround({ x: 0.5, y: 0.5 }, { width: 1200, height: 1200 })).toMatchObject({ top: 285 })
    expect(cropAround({ x: 0.5, y: 0.9 }, { width: 1200, height: 1200 })).toMatchObject({ top: 570 })
  })

  it('is cached: a second call encodes nothing and rewrites nothing; a changed input is a new card', async () => {
    const input = await subjectLow()
    const counters = { encodes: 0 }
    const first = await makeSocialCard({ input, cacheDir: dir, serve: SERVE, counters })
    const before = await stat(first.path)
    const again = await makeSocialCard({ input, cacheDir: dir, serve: SERVE, counters })
    expect(counters.encodes).toBe(1)
    expect(again).toEqual(first)
    const after = await stat(first.path)
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs])
    await writeFile(input, await sharp(input).flip().png().toBuffer())
    const changed = await makeSocialCard({ input, cacheDir: dir, serve: SERVE, counters })
    expect(counters.encodes).toBe(2)
    expect(changed.path).not.toBe(first.path)
    expect((await readdir(join(dir, 'variants', 'cards'))).sort()).toHaveLength(2)
  })

  it('is made again when its input is rewritten in place, even at the same size and modification time', async () => {
    const input = await subjectLow()
    // Uncompressed PNGs: the same dimensions give the same length, whatever the pixels.
    const stored = (image: ReturnType<typeof sharp>) => image.png({ compressionLevel: 0 }).toBuffer()
    const unflipped = await stored(sharp(input))
    const flipped = await stored(sharp(input).flip())
    // One modification time, in whole seconds (set exactly), before and after the rewrite.
    const when = 1_700_000_000
    await writeFile(input, unflipped)
    await utimes(input, when, when)
    const counters = { encodes: 0 }
    const first = await makeSocialCard({ input, cacheDir: dir, serve: SERVE, counters })
    const before = await stat(input)
    // Other pixels, the same length, the same modification time: only the change time tells.
    await writeFile(input, flipped)
    await utimes(input, when, when)
    const now = await stat(input)
    expect([now.size, now.mtimeMs, now.ino]).toEqual([before.size, before.mtimeMs, before.ino])
    const changed = await makeSocialCard({ input, cacheDir: dir, serve: SERVE, counters })
    expect(counters.encodes).toBe(2)
    expect(changed.path).not.toBe(first.path)
  })

  it('rejects a focal point outside the image, saying what it expects', async () => {
    const input = await subjectLow()
    await expect(
      makeSocialCard({ input, cacheDir: dir, serve: SERVE, focus: { x: 1.5, y: 0 } }),
    ).rejects.toThrow(
      /Expected the social card's `focus` to be 'attention' or \{ x, y \} with each from 0 to 1.*got \{"x":1\.5,"y":0\}/,
    )
  })
})
