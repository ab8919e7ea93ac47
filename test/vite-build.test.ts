import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { flux } from '@flux-images/vite'
import { build } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/vite-basic', import.meta.url))
const KEY = 'sk-flux-vite-build-7c1e'
// Small variants keep the encodes (AVIF above all) short; the pipeline is the same.
const IMAGE = { widths: [160], maxWidth: 320 }

let gateway: MockGateway
const temps: string[] = []

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(async () => {
  await gateway?.close()
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })))
})

/** A fresh copy of the fixture, with its own cache directory. */
async function project(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flux-vite-build-'))
  temps.push(dir)
  await cp(FIXTURE, join(dir, 'site'), { recursive: true })
  return join(dir, 'site')
}

async function buildSite(root: string, out: string, options: Parameters<typeof flux>[0] = {}, base = '/') {
  await build({
    root,
    base,
    logLevel: 'silent',
    configFile: false,
    build: { outDir: join(root, '..', out), emptyOutDir: true },
    plugins: [flux({ apiKey: KEY, baseURL: gateway.url, image: IMAGE, ...options })],
  })
  const dir = join(root, '..', out)
  const html = await readFile(join(dir, 'index.html'), 'utf8')
  const assets = await readdir(join(dir, 'assets'))
  const js = await readFile(join(dir, 'assets', assets.find((f) => f.endsWith('.js')) ?? ''), 'utf8')
  const fluxFiles = (await readdir(join(dir, 'assets', '_flux'))).sort()
  return { dir, html, js, fluxFiles }
}

/** Every variant URL in a text (HTML attributes, JSON in the bundle). */
const variantUrls = (text: string) => [...new Set(text.match(/\/[\w/-]*_flux\/[\w.-]+/g) ?? [])]

/** Modification times of every variant file in the cache. */
async function variantTimes(cacheDir: string): Promise<Map<string, number>> {
  const times = new Map<string, number>()
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) await walk(path)
      else times.set(path, (await stat(path)).mtimeMs)
    }
  }
  await walk(join(cacheDir, 'variants'))
  return times
}

describe('vite build with flux()', () => {
  it('renders <picture>, emits each referenced file once, and a warm build calls and encodes nothing', async () => {
    const root = await project()
    gateway.reset()
    const first = await buildSite(root, 'dist')
    expect(gateway.requests).toBe(3)

    // HTML: the <img> became a <picture> with AVIF and WebP sources and a sized, described <img>.
    const picture = first.html.match(/<picture>.*?<\/picture>/s)?.[0] ?? ''
    expect(picture).toMatch(
      /<source\s+type="image\/avif" srcset="\/assets\/_flux\/[^"]+\.avif 160w, [^"]+ 320w"/,
    )
    expect(picture).toMatch(/<source\s+type="image\/webp" srcset="\/assets\/_flux\/[^"]+\.webp 160w/)
    expect(picture).toMatch(/<img\s+src="\/assets\/_flux\/[^"]+\.(jpg|jpeg|png)"/)
    expect(picture).toMatch(/ width="320" height="213" alt="The lighthouse" loading="eager"/)
    expect(picture).toContain('class="hero"')
    expect(picture).not.toContain('vite-ignore')
    expect(first.html).not.toContain('flux:')

    // Bundle: both imports' metadata, no cache paths, no key.
    expect(first.js).toContain('prompt:`A neon-lit city street at night, rain`')
    // One module for the cat, whichever modules import it.
    expect(first.js.match(/prompt:`A cat asleep on a windowsill`/g)).toHaveLength(1)
    expect(first.js).not.toContain('.flux-cache')
    expect(first.html + first.js).not.toContain(KEY)

    // Every URL referenced exists, and every emitted file is referenced.
    const referenced = [...variantUrls(first.html), ...variantUrls(first.js)]
    expect(referenced.length).toBeGreaterThan(0)
    for (const url of referenced) expect((await stat(join(first.dir, url))).size).toBeGreaterThan(0)
    expect(new Set(referenced.map((u) => u.split('/').pop()))).toEqual(new Set(first.fluxFiles))
    // The cat, imported from two modules, is one set: 2 widths x (AVIF, WebP, fallback).
    expect(first.fluxFiles.filter((f) => f.startsWith('a-cat-asleep'))).toHaveLength(6)
    expect(first.fluxFiles).toHaveLength(18)

    // Warm build, into another folder and under a base: no request, no encode, same files.
    const times = await variantTimes(join(root, '.flux-cache'))
    gateway.reset()
    const second = await buildSite(root, 'dist2', {}, '/sub/')
    expect(gateway.requests).toBe(0)
    expect(await variantTimes(join(root, '.flux-cache'))).toEqual(times)
    expect(second.fluxFiles).toEqual(first.fluxFiles)
    const underBase = [...variantUrls(second.html), ...variantUrls(second.js)]
    expect(underBase.length).toBe(referenced.length)
    for (const url of underBase) {
      expect(url.startsWith('/sub/assets/_flux/')).toBe(true)
      expect((await stat(join(second.dir, url.slice('/sub'.length)))).isFile()).toBe(true)
    }
  })

  it('fails a frozen build on a new directive, naming its file and line', async () => {
    const root = await project()
    await writeFile(
      join(root, 'src', 'other.ts'),
      "\nimport x from 'flux:A brand new prompt'\nexport const caption = x.alt\n",
    )
    gateway.reset()
    const failure = buildSite(root, 'dist', { mode: 'frozen' })
    await expect(failure).rejects.toThrow(/src\/other\.ts:2:\d+\s+A brand new prompt/)
    await expect(failure).rejects.toThrow(/index\.html:9:\d+\s+A lighthouse at dawn/)
    expect(gateway.requests).toBe(0)
  })

  it('fails the build with the directive and the gateway message when a generation fails', async () => {
    const root = await project()
    gateway.reset()
    gateway.fault = ({ body }) => (body.prompt.startsWith('A cat') ? { type: 'moderation' } : undefined)
    await expect(buildSite(root, 'dist')).rejects.toThrow(
      /src\/main\.ts:2:\d+.*safety system.*also used at .*other\.ts:2/s,
    )
  })

  it('validates its options (with flux.config.mjs) when Vite resolves its config, listing every problem', async () => {
    gateway.reset()
    const root = await project()
    await writeFile(join(root, 'flux.config.mjs'), "export default { size: '999x1' }\n")
    await expect(buildSite(root, 'dist', { concurrency: 0, mode: 'lazy' as 'auto' })).rejects.toThrow(
      /mode:.*\n.*concurrency:.*\n.*size: .*"999x1"/s,
    )
    expect(gateway.requests).toBe(0)
  })
})
