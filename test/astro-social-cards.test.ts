/**
 * socialCard() over Astro's own image (an `image()` field or an import: its `fsPath`): the file a
 * page names is checked as every other decode's input is, whatever its extension says.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FluxError, type Session } from '@flux-images/core'
import { createSocialCards } from '@flux-images/core/dev'
import sharp from 'sharp'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-astro-cards-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** The card of Astro's image for a file holding `bytes`: the error, the counters, the cards written. */
async function cardOf(name: string, bytes: Buffer) {
  const fsPath = join(dir, 'src', name)
  await writeFile(fsPath, bytes)
  const cacheDir = join(dir, '.flux-cache')
  // The card of an Astro image reads only these of the session.
  const session = { options: { cacheDir, image: { publicPath: '/_flux/', base: '/' } } } as unknown as Session
  const counters = { encodes: 0, decodes: 0 }
  const cards = createSocialCards(session, counters)
  const err = await cards.card({ fsPath, src: `/@fs${fsPath}` }).then(
    () => undefined,
    (e: unknown) => e,
  )
  const written = await readdir(join(cacheDir, 'variants', 'cards')).catch(() => [])
  return { fsPath, err, counters, written, files: cards.files }
}

describe('socialCard() of an Astro image', () => {
  beforeEach(async () => {
    await mkdir(join(dir, 'src'))
  })

  it('an SVG with a costly filter, named hero.png, is refused before any parser sees it', async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630"><defs><filter id="f">' +
        '<feGaussianBlur stdDeviation="80"/><feMorphology operator="dilate" radius="60"/></filter></defs>' +
        '<rect width="2000" height="2000" filter="url(#f)"/></svg>',
    )
    const { fsPath, err, counters, written, files } = await cardOf('hero.png', svg)
    expect(FluxError.is(err, 'FLUX_BAD_CARD_INPUT')).toBe(true)
    expect(String(err)).toBe(
      `[flux] The social card's image ${fsPath} was not decoded, so no card was made: ` +
        `${svg.length} bytes starting "<svg xmlns="http": not a PNG, JPEG or WebP image\n` +
        '  hint: Give socialCard() a PNG, JPEG or WebP image of at most 3072x3072 pixels (9.4 MP): ' +
        'convert the file (its name does not change what it holds), then build again.',
    )
    expect(counters).toEqual({ encodes: 0, decodes: 0 })
    expect(written).toEqual([])
    expect(files.size).toBe(0)
  })

  it('a PNG over the budget is refused from its header; a PNG within it makes its card', async () => {
    const png = (width: number) =>
      sharp({ create: { width, height: 3072, channels: 3, background: '#446688' } })
        .png({ compressionLevel: 1 })
        .toBuffer()
    const over = await cardOf('wide.png', await png(3073))
    expect(FluxError.is(over.err, 'FLUX_BAD_CARD_INPUT')).toBe(true)
    expect(String(over.err)).toContain(
      'the png image is 3073x3072 pixels (9.4 MP), over the budget of 9.4 MP',
    )
    expect(over.counters).toEqual({ encodes: 0, decodes: 0 })
    expect(over.written).toEqual([])

    const within = await cardOf('ok.png', await png(1200))
    expect(within.err).toBeUndefined()
    expect(within.counters).toEqual({ encodes: 1, decodes: 1 })
    expect(within.written).toHaveLength(1)
    const meta = await sharp(
      join(dir, '.flux-cache', 'variants', 'cards', within.written[0] ?? ''),
    ).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 1200, 630])
  })
})
