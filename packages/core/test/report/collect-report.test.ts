import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import sharp from 'sharp'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { OriginalStore } from '../../src/cache/original-store.js'
import { createFlux, type Flux } from '../../src/create-flux.js'
import { FluxError } from '../../src/errors.js'
import { collectReport } from '../../src/report/collect-report.js'
import { makeThumbnail } from '../../src/report/make-thumbnail.js'
import { writeReport } from '../../src/report/write-report.js'
import type { CanonicalRequest, GeneratedImage, Logger } from '../../src/types.js'

const KEY = 'sk-flux-collect-test-5e0a-DO-NOT-LEAK'
const NOW = new Date('2025-06-01T12:00:00Z')

let root: string
let logger: Logger & { lines: string[] }

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-report-'))
  const lines: string[] = []
  logger = { lines, info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) }
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

async function files(entries: Record<string, string>): Promise<void> {
  for (const [file, text] of Object.entries(entries)) {
    await mkdir(dirname(join(root, file)), { recursive: true })
    await writeFile(join(root, file), text)
  }
}

async function image(size: string, colour = '#336699'): Promise<GeneratedImage> {
  const [width, height] = size.split('x').map(Number) as [number, number]
  const bytes = await sharp({ create: { width, height, channels: 3, background: colour } })
    .png()
    .toBuffer()
  return { bytes, format: 'png', width, height, created: 1_700_000_000, revisedPrompt: 'revised text' }
}

/** The key and request a prompt of the project resolves to. */
async function keyOf(flux: Flux, prompt: string): Promise<{ key: string; request: CanonicalRequest }> {
  const item = (await flux.scan()).items.find((i) => i.request.prompt === prompt)
  if (!item) throw new Error(`no directive asks for ${prompt}`)
  return item
}

/** A cache holding one entry of each kind; a.md and b.md use some of them. */
async function populated(): Promise<{ flux: Flux; cache: OriginalStore; keys: Record<string, string> }> {
  await files({
    'a.md': '![Real](flux:real one?size=1536x1024)\n\n![Ph](flux:placeholder one)\n',
    'b.md':
      '![Refused](flux:refused one)\n![Broken](flux:broken one)\n![Real again](flux:real one?size=1536x1024)\n',
    'c.md': '![Old](flux:old one?size=768x1344)\n![New](flux:never made)\n',
  })
  const flux = createFlux({ root, logger, apiKey: KEY, baseURL: 'http://127.0.0.1:9' })
  const { cache } = flux
  const keys: Record<string, string> = {}
  for (const [name, prompt, store] of [
    ['real', 'real one', 'original'],
    ['placeholder', 'placeholder one', 'placeholder'],
    ['broken', 'broken one', 'original'],
    ['old', 'old one', 'original'],
  ] as const) {
    const { key, request } = await keyOf(flux, prompt)
    keys[name] = key
    await cache.put(key, request, await image(request.size), {
      provider: store === 'placeholder' ? 'placeholder' : 'openai-images',
      placeholder: store === 'placeholder',
    })
  }
  const refused = await keyOf(flux, 'refused one')
  keys.refused = refused.key
  await cache.refusals.put(refused.key, refused.request, `Rejected by the safety system (Bearer ${KEY})`)
  keys.missing = (await keyOf(flux, 'never made')).key
  // The broken original: one byte changed after it was stored.
  const broken = join(flux.options.cacheDir, 'originals', `${keys.broken}.png`)
  const bytes = await readFile(broken)
  bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0xff
  await writeFile(broken, bytes)
  // c.md's first image is no longer used.
  await writeFile(join(root, 'c.md'), '![New](flux:never made)\n')
  return { flux, cache, keys }
}

describe('collectReport', () => {
  describe('an empty project', () => {
    it('has no entries and creates no cache directory', async () => {
      const flux = createFlux({ root, logger })
      const data = await collectReport({ flux, now: NOW })
      expect(data.entries).toEqual([])
      expect(data.missing).toEqual([])
      expect(data.generatedAt).toBe('2025-06-01T12:00:00.000Z')
      expect(await readdir(root)).toEqual([])
    })
  })

  describe('a cache with every kind of entry', () => {
    it('gives each key one entry with its status, in source order, unused last', async () => {
      const { flux, keys } = await populated()
      const data = await collectReport({ flux, logger, now: NOW })
      expect(data.entries.map((e) => [e.key, e.status, e.stored])).toEqual([
        [keys.real, 'real', 'original'],
        [keys.placeholder, 'placeholder', 'placeholder'],
        [keys.refused, 'moderated', 'refusal'],
        [keys.broken, 'corrupt', 'original'],
        [keys.old, 'unused', 'original'],
      ])
      expect(
        data.missing.map((m) => [m.key, m.request.prompt, m.usedAt.map((u) => u.location.file)]),
      ).toEqual([[keys.missing, 'never made', ['c.md']]])
      expect(data.project).toBe(root.split('/').pop())
      expect(data.scanProblems).toEqual([])
    })

    it('describes each entry from its metadata and where it is used', async () => {
      const { flux } = await populated()
      const data = await collectReport({ flux, logger, now: NOW })
      const [real, placeholder, refused, broken, old] = data.entries
      expect(real?.request).toEqual({
        model: 'flux-1.1-pro',
        prompt: 'real one',
        size: '1536x1024',
        quality: 'standard',
      })
      expect(real?.image).toEqual(
        expect.objectContaining({ width: 1536, height: 1024, format: 'png', provider: 'openai-images' }),
      )
      expect(real?.revisedPrompt).toBe('revised text')
      expect(real?.created).toBe('2023-11-14T22:13:20.000Z')
      expect(real?.usedAt).toEqual([
        { location: { file: 'a.md', line: 1, column: 9 }, kind: 'markdown', alt: 'Real' },
        { location: { file: 'b.md', line: 3, column: 15 }, kind: 'markdown', alt: 'Real again' },
      ])
      expect(placeholder?.image?.provider).toBe('placeholder')
      expect(refused?.refusal).toContain('safety system')
      expect(refused?.image).toBeUndefined()
      expect(refused?.thumbnail).toBeUndefined()
      expect(broken?.problem).toMatch(/corrupt/)
      expect(broken?.thumbnail).toBeUndefined()
      expect(old?.usedAt).toEqual([])
      expect(old?.request?.prompt).toBe('old one')
      expect(data.totals.originals.count).toBe(3)
      expect(data.totals.placeholders.count).toBe(1)
      expect(data.totals.originals.bytes).toBeGreaterThan(0)
    })

    it('embeds a small WebP thumbnail of every image it can serve', async () => {
      const { flux } = await populated()
      const data = await collectReport({ flux, logger, now: NOW })
      const withThumbs = data.entries.filter((e) => e.thumbnail).map((e) => e.status)
      expect(withThumbs).toEqual(['real', 'placeholder', 'unused'])
      for (const e of data.entries) {
        if (!e.thumbnail) continue
        const [, base64] = e.thumbnail.src.split('data:image/webp;base64,')
        const meta = await sharp(Buffer.from(base64 ?? '', 'base64')).metadata()
        expect(meta.format).toBe('webp')
        expect([meta.width, meta.height]).toEqual([e.thumbnail.width, e.thumbnail.height])
        expect(Math.max(e.thumbnail.width, e.thumbnail.height)).toBe(320)
      }
      const old = data.entries.find((e) => e.status === 'unused')
      expect([old?.thumbnail?.width, old?.thumbnail?.height]).toEqual([183, 320])
    })

    it('can leave thumbnails out', async () => {
      const { flux } = await populated()
      const data = await collectReport({ flux, logger, thumbnails: false })
      expect(data.entries.every((e) => e.thumbnail === undefined)).toBe(true)
    })

    it('writes nothing to the cache', async () => {
      const { flux } = await populated()
      const list = async () => (await readdir(flux.options.cacheDir, { recursive: true })).sort()
      const before = await list()
      await collectReport({ flux, logger })
      expect(await list()).toEqual(before)
    })
  })

  describe('scan problems', () => {
    it('are reported, located, since they make `unused` uncertain', async () => {
      await files({ 'a.md': '---\ntitle: [oops\ncover: "flux: lost"\n---\n' })
      const data = await collectReport({ flux: createFlux({ root, logger }) })
      expect(data.scanProblems).toHaveLength(1)
      expect(data.scanProblems[0]).toMatch(/a\.md:\d+:\d+: The frontmatter could not be parsed/)
    })
  })
})

describe('writeReport', () => {
  it('writes the page to flux-report.html in the root by default, without the key', async () => {
    const { flux } = await populated()
    const { path, data } = await writeReport({ flux, logger, now: NOW })
    expect(path).toBe(join(root, 'flux-report.html'))
    expect(data.entries).toHaveLength(5)
    const html = await readFile(path, 'utf8')
    expect(html).toContain('<!doctype html>')
    expect(html.match(/<article class="card/g)).toHaveLength(5)
    expect(html).not.toContain(KEY)
    expect(logger.lines.join('\n')).not.toContain(KEY)
  })

  it('writes to `out` relative to the root, creating its folder and leaving no temporary file', async () => {
    const flux = createFlux({ root, logger })
    const { path } = await writeReport({ flux, out: 'reports/cache.html' })
    expect(path).toBe(join(root, 'reports', 'cache.html'))
    expect(await readdir(join(root, 'reports'))).toEqual(['cache.html'])
  })

  it('fails with FLUX_REPORT_WRITE naming the file when it cannot write', async () => {
    await files({ blocker: 'a file, not a folder' })
    const flux = createFlux({ root, logger })
    const err = await writeReport({ flux, out: 'blocker/report.html' }).catch((e: unknown) => e)
    expect(FluxError.is(err, 'FLUX_REPORT_WRITE')).toBe(true)
    expect((err as FluxError).message).toContain(join(root, 'blocker', 'report.html'))
  })
})

describe('makeThumbnail', () => {
  it('never enlarges a small image', async () => {
    const path = join(root, 'small.png')
    await writeFile(path, (await image('40x30')).bytes)
    expect(await makeThumbnail(path)).toEqual(expect.objectContaining({ width: 40, height: 30 }))
  })

  it('rejects a file sharp cannot decode', async () => {
    const path = join(root, 'bad.png')
    await writeFile(path, Buffer.from('not an image'))
    await expect(makeThumbnail(path)).rejects.toThrow()
  })
})
