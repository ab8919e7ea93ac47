import { cp, mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { flux } from '@flux-images/astro'
import { build } from 'astro'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { removeSites } from './helpers/astro-content-store.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

// A site shaped like AstroPaper, the most used Astro blog theme: its content config (ogImage typed
// `image().or(z.string())`) wrapped in fluxSchema(), its layouts (the og image a string or Astro's
// image), a hero and a gallery through <Image>, body images. Plain files built by their own
// astro.config.mjs, the key and gateway in .env.local: as a user's site is.

const FIXTURE = fileURLToPath(new URL('./fixtures/astro-paper', import.meta.url))
// Inside the repository, so that the copy resolves astro and the integration from test/node_modules.
const TMP = fileURLToPath(new URL('./.tmp', import.meta.url))
const KEY = 'sk-flux-astro-paper-3e9a'
const SITE = 'https://paper.example'
/**
 * The site's distinct images: the lighthouse (ogImage and hero, one request), the beam (body), the
 * harbour (ogImage's object form, hero and body: one request), the kite and the heron (gallery).
 */
const GENERATED = 5
/** Our variants of one body image: AVIF, WebP and the fallback, at 2 widths. */
const VARIANTS_PER_IMAGE = 6

let gateway: MockGateway
let temp = ''
let root = ''
let dist = ''
const pages = new Map<string, string>()

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
  await mkdir(TMP, { recursive: true })
  temp = await mkdtemp(join(TMP, 'astro-paper-'))
  root = join(temp, 'site')
  await cp(FIXTURE, root, { recursive: true })
  await writeFile(join(root, '.env.local'), `FLUX_API_KEY=${KEY}\nFLUX_BASE_URL=${gateway.url}\n`)
  await build({ root, logLevel: 'error' })
  dist = join(root, 'dist')
  for (const entry of await readdir(dist, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && /\.(html|xml|css|js|json|txt)$/.test(entry.name)) {
      const path = join(entry.parentPath, entry.name)
      pages.set(path.slice(dist.length), await readFile(path, 'utf8'))
    }
  }
}, 120_000)
afterAll(async () => {
  await gateway?.close()
  if (temp) await removeSites([temp])
})

/** A page's images: each <img> and <source>'s URLs (src, srcset candidates), and og:image. */
function pageImages(html: string) {
  const imgs = [...html.matchAll(/<img\s[^>]*>/g)].map(([tag]) => tag)
  const urls: string[] = []
  for (const [tag] of html.matchAll(/<(?:img|source)\s[^>]*>/g)) {
    const attr = (name: string) => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1]
    const src = attr('src')
    if (src) urls.push(src)
    for (const candidate of (attr('srcset') ?? '').split(',').filter((c) => c.trim()))
      urls.push(candidate.trim().split(/\s+/)[0] ?? '')
  }
  const og = /<meta property="og:image" content="([^"]*)"/.exec(html)?.[1] ?? ''
  return { imgs, urls, og }
}

/** The file of dist/ a URL of the site points at. */
async function fileOf(url: string): Promise<string> {
  const parsed = new URL(url.replaceAll('&amp;', '&'), `${SITE}/`)
  expect(parsed.origin, url).toBe(SITE)
  const path = join(dist, decodeURIComponent(parsed.pathname))
  expect((await stat(path)).isFile(), url).toBe(true)
  return path
}

describe('an AstroPaper-shaped site with flux: images', () => {
  it('generates each distinct image once', () => {
    expect(gateway.requests).toBe(GENERATED)
  })

  it('every <img>, <source> and og:image of every page is a file of dist/, and no flux: is left', async () => {
    const html = [...pages].filter(([path]) => path.endsWith('.html'))
    expect(html.map(([path]) => path).sort()).toEqual([
      '/index.html',
      '/posts/birds/index.html',
      '/posts/forest-walk/index.html',
      '/posts/harbour-at-night/index.html',
      '/posts/lighthouse-notes/index.html',
    ])
    // Per page, its <img>s: the home page's two heroes; a post's hero and body image, or gallery.
    const counts: Record<string, number> = {}
    let urls = 0
    for (const [path, text] of html) {
      const found = pageImages(text)
      counts[path] = found.imgs.length
      for (const url of [...found.urls, found.og]) await fileOf(url)
      urls += found.urls.length
    }
    expect(counts).toEqual({
      '/index.html': 2,
      '/posts/birds/index.html': 2,
      '/posts/forest-walk/index.html': 0,
      '/posts/harbour-at-night/index.html': 2,
      '/posts/lighthouse-notes/index.html': 2,
    })
    // Each <img src> (8); each body <picture>'s two <source>s (AVIF, WebP) and its <img srcset>, of 2 widths each.
    expect(urls).toBe(8 + 2 * (2 * 2 + 2))
    for (const [path, text] of pages) {
      expect(text.includes('flux:'), path).toBe(false)
      expect(text.includes(KEY), path).toBe(false)
    }
  })

  it('encodes our variants only for the images its markup shows (the 2 body images), and writes exactly those', async () => {
    // The lighthouse, the kite and the heron only Astro's image() shows (heroes, gallery, ogImage):
    // no variant of ours. The harbour is a hero too, but its body image is our <picture>.
    const variants = (await readdir(join(root, '.flux-cache', 'variants', 'files'))).sort()
    const slugs = new Set(variants.map((name) => name.replace(/-[0-9a-f]{12}-\d+\.\w+$/, '')))
    expect([...slugs].sort()).toEqual(['a-lighthouse-beam-sweeping-over', 'a-neon-lit-harbour-at-night-rain'])
    expect(variants).toHaveLength(2 * VARIANTS_PER_IMAGE)
    expect((await readdir(join(dist, '_flux'))).sort()).toEqual(variants)
  })

  it("ogImage through image().or(z.string()): a flux: string or object is Astro's image of the original; a local one as before", async () => {
    const og = async (slug: string) =>
      sharp(await fileOf(pageImages(pages.get(`/posts/${slug}/index.html`) ?? '').og)).metadata()
    const lighthouse = await og('lighthouse-notes')
    expect([lighthouse.width, lighthouse.height]).toEqual([1536, 1024])
    const harbour = await og('harbour-at-night')
    expect([harbour.width, harbour.height]).toEqual([1344, 768])
    expect(pageImages(pages.get('/posts/forest-walk/index.html') ?? '').og).toMatch(
      /^https:\/\/paper\.example\/_astro\/forest\.[\w-]+\.jpg$/,
    )
    expect(pageImages(pages.get('/posts/birds/index.html') ?? '').og).toBe(`${SITE}/astropaper-og.jpg`)
  })
})

// Astro's blog starter's schema, not wrapped in fluxSchema(): Astro's bare zod error for the object
// form said nothing of it.
const UNWRAPPED = fileURLToPath(new URL('./fixtures/astro-unresolved', import.meta.url))
const KITE = "---\ntitle: 'A kite'\nheroImage:\n  flux: A red kite over a field\n  size: 1344x768\n---\n"

describe('the object form under a schema without fluxSchema()', () => {
  it('is warned about at its file:line with the field and what to write, before Astro refuses it', async () => {
    const root = join(temp, 'object-form')
    await cp(UNWRAPPED, root, { recursive: true })
    await writeFile(join(root, 'src/content/blog/kite.md'), KITE)
    // Astro's logger writes warnings to stdout.
    const written: string[] = []
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk))
      return true
    })
    try {
      const image = { widths: [160], maxWidth: 320 }
      const integrations = [flux({ apiKey: KEY, baseURL: gateway.url, image })]
      await expect(build({ root, logLevel: 'warn', integrations })).rejects.toThrow(/heroImage/)
    } finally {
      stdout.mockRestore()
    }
    const warnings = written
      .join('')
      .split('\n')
      .filter((l) => l.includes('object form'))
    expect(warnings).toEqual([
      expect.stringContaining(
        'src/content/blog/kite.md:4:3: frontmatter field "heroImage" holds a directive in the object form',
      ),
    ])
    expect(written.join('')).toContain("hint: wrap the collection's schema function in fluxSchema()")
  })
})
