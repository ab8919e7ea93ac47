import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stripVTControlCharacters } from 'node:util'
import { flux } from '@flux-images/astro'
import { build } from 'astro'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeSites } from './helpers/astro-content-store.js'
import { snapshot } from './helpers/snapshot.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

const STARTER = fileURLToPath(new URL('./fixtures/astro-blog-starter', import.meta.url))
// Inside the repository, so that the copy resolves astro and the integration from test/node_modules.
const TMP = fileURLToPath(new URL('./.tmp', import.meta.url))
const KEY = 'sk-flux-astro-images-71c4'
const SITE = 'https://blog.example'
// Small variants keep our encodes short; Astro's own pipeline makes the sizes the pages ask for.
const IMAGE = { widths: [160], maxWidth: 320 }
/**
 * The starter's generated images: two flux: heroes (string and object forms), the list page's
 * <FluxImage prompt> and its flux: import.
 */
const GENERATED = 4

let gateway: MockGateway
let temp = ''

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
  await mkdir(TMP, { recursive: true })
  temp = await mkdtemp(join(TMP, 'astro-images-'))
})
afterAll(async () => {
  await gateway?.close()
  if (temp) await removeSites([temp])
})

async function copy(fixture: string, name: string): Promise<string> {
  const root = join(temp, name)
  await cp(fixture, root, { recursive: true })
  return root
}

async function buildStarter(root: string) {
  await build({
    root,
    site: SITE,
    logLevel: 'error',
    integrations: [flux({ apiKey: KEY, baseURL: gateway.url, image: IMAGE })],
  })
  return join(root, 'dist')
}

/** Every text file of the output: its relative path and content. */
async function textFiles(dist: string): Promise<Map<string, string>> {
  const texts = new Map<string, string>()
  for (const entry of await readdir(dist, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && /\.(html|xml|css|js|json|txt)$/.test(entry.name)) {
      const path = join(entry.parentPath, entry.name)
      texts.set(path.slice(dist.length), await readFile(path, 'utf8'))
    }
  }
  return texts
}

/** The URLs a page loads or hands to crawlers: <img src/srcset>, <source srcset>, og:image, twitter:image. */
function pageUrls(html: string): { tag: string; url: string }[] {
  const found: { tag: string; url: string }[] = []
  for (const [tag] of html.matchAll(/<(img|source|meta)\s[^>]*>/g)) {
    const attr = (name: string) => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1]
    const src = attr('src')
    if (src) found.push({ tag, url: src })
    for (const candidate of (attr('srcset') ?? '').split(',').filter((c) => c.trim())) {
      found.push({ tag, url: candidate.trim().split(/\s+/)[0] ?? '' })
    }
    if (/property="og:image"|name="twitter:image"/.test(tag)) found.push({ tag, url: attr('content') ?? '' })
  }
  return found
}

/** The path in `dist` a URL of the site points at (an absolute URL must be on the site). */
function inDist(url: string): string {
  const parsed = new URL(url.replaceAll('&amp;', '&'), `${SITE}/`)
  expect(parsed.origin, url).toBe(SITE)
  return decodeURIComponent(parsed.pathname)
}

describe("Astro's blog starter with flux: heroes (image(), <Image>, <Picture>, getImage())", () => {
  let root = ''
  let dist = ''
  let pages: Map<string, string>

  beforeAll(async () => {
    root = await copy(STARTER, 'starter')
    gateway.reset()
    dist = await buildStarter(root)
    pages = await textFiles(dist)
  }, 120_000)

  it('generates each flux: image once, and every image URL of every page and feed is a file of dist/', async () => {
    expect(gateway.requests).toBe(GENERATED)
    const html = [...pages].filter(([path]) => path.endsWith('.html'))
    // The list page, four posts.
    expect(html.map(([path]) => path).sort()).toEqual([
      '/blog/first-post/index.html',
      '/blog/mountain-lake/index.html',
      '/blog/red-kite/index.html',
      '/blog/second-post/index.html',
      '/index.html',
    ])
    let checked = 0
    for (const [path, text] of html) {
      for (const { tag, url } of pageUrls(text)) {
        expect((await stat(join(dist, inDist(url)))).isFile(), `${path}: ${tag}`).toBe(true)
        checked++
      }
    }
    // Feeds: one image per post (all four have a hero).
    const feedUrls = [
      ...(pages.get('/rss.xml') ?? '').matchAll(/<enclosure url="([^"]+)"/g),
      ...(pages.get('/sitemap.xml') ?? '').matchAll(/<image:loc>([^<]+)</g),
    ].map((m) => m[1] ?? '')
    expect(feedUrls).toHaveLength(8)
    for (const url of feedUrls) expect((await stat(join(dist, inDist(url)))).isFile(), url).toBe(true)
    expect(checked).toBeGreaterThan(0)
  })

  it('leaves no flux: anywhere in dist/, and sends flux: heroes through Astro’s own pipeline and options', () => {
    for (const [path, text] of pages) expect(text.includes('flux:'), path).toBe(false)
    for (const [, text] of pages) expect(text).not.toContain(KEY)
    for (const slug of ['mountain-lake', 'red-kite']) {
      const post = pages.get(`/blog/${slug}/index.html`) ?? ''
      // <Image width={1020} height={510} priority>: Astro's service made it, with priority's attributes.
      const hero = /<img src="(\/_astro\/[^"]+\.webp)"[^>]*>/.exec(post)
      expect(hero?.[0]).toMatch(/width="1020" height="510"/)
      expect(hero?.[0]).toMatch(/loading="eager"/)
      expect(hero?.[0]).toMatch(/fetchpriority="high"/)
      // <Picture formats={['avif', 'webp']} widths={[240, 540]}>.
      expect(post).toMatch(/<source srcset="\/_astro\/[^" ]+\.avif 240w, \/_astro\/[^" ]+\.avif 540w"/)
      expect(post).toMatch(/<source srcset="\/_astro\/[^" ]+\.webp 240w, \/_astro\/[^" ]+\.webp 540w"/)
    }
    // layout="constrained" on the list page: Astro's srcset of several widths, for each of the four heroes.
    const listed = [
      ...(pages.get('/index.html') ?? '').matchAll(
        /<img src="\/_astro[^>]*data-astro-image="constrained"[^>]*>/g,
      ),
    ]
    expect(listed).toHaveLength(4)
    for (const [img] of listed) expect(img).toMatch(/srcset="[^"]+ 640w, [^"]+ 720w/)
    // <FluxImage> on the same site: our <picture>, for a prompt and for the flux: import.
    const index = pages.get('/index.html') ?? ''
    expect(index.match(/<picture><source type="image\/avif" srcset="\/_flux\//g)).toHaveLength(2)
    expect(index).toMatch(/<img src="\/_flux\/[^"]+\.(jpg|png)"[^>]*alt="A harbour at dusk"/)
    // The same import through Astro's <Image> and <Picture>: Astro's transforms of the original.
    expect(index).toMatch(
      /<img src="\/_astro\/[^"]+\.webp"[^>]* alt="A harbour at dusk, by Astro"[^>]*width="600" height="400"/,
    )
    expect(index).toMatch(/<source srcset="\/_astro\/[^" ]+\.avif 300w, \/_astro\/[^" ]+\.avif 600w"/)
  })

  it('writes to dist/_flux/ exactly the files the output references: none for the heroes Astro shows', async () => {
    // Every /_flux/ URL of every text file (pages, feeds, scripts, styles), with or without the site.
    const referenced = new Set<string>()
    for (const [, text] of pages) {
      for (const m of text.matchAll(/\/_flux\/([^"'\s)<>,?#&\\]+)/g)) referenced.add(m[1] ?? '')
    }
    const written = new Set(await readdir(join(dist, '_flux')))
    expect([...written].sort()).toEqual([...referenced].sort())
    // <FluxImage prompt> and <FluxImage image={harbour}>: each 2 widths x 3 formats; one social card
    // per distinct hero (4). The two flux: heroes' own variants (2 x 6) are shown by Astro's files.
    expect(written.size).toBe(WRITTEN)
  })

  it('makes the social card a 1200x630 JPEG of the hero, in twitter:image', async () => {
    for (const slug of ['mountain-lake', 'red-kite', 'first-post']) {
      const post = pages.get(`/blog/${slug}/index.html`) ?? ''
      const url = /name="twitter:image" content="([^"]+)"/.exec(post)?.[1] ?? ''
      expect(url).toMatch(/^https:\/\/blog\.example\/_flux\/[\w-]+-card-[0-9a-f]{16}\.jpg$/)
      const card = await sharp(join(dist, inDist(url))).metadata()
      expect([card.format, card.width, card.height]).toEqual(['jpeg', 1200, 630])
    }
  })

  it('a warm rebuild sends 0 requests and encodes nothing, in Astro’s pipeline or ours', async () => {
    const ours = join(root, '.flux-cache', 'variants')
    const astros = join(root, 'node_modules', '.astro', 'assets')
    const [oursBefore, astrosBefore] = [await snapshot(ours), await snapshot(astros)]
    // Ours: only for what our markup shows, <FluxImage prompt> and <FluxImage image={harbour}> (the
    // flux: import): 2 widths x 3 formats each; none for the two flux: heroes only Astro's <Image>
    // shows. One social card per distinct hero (the list page's fallback is the first post's hero:
    // one card for both).
    expect(Object.keys(oursBefore).filter((f) => f.startsWith('files/'))).toHaveLength((GENERATED - 2) * 6)
    expect(Object.keys(oursBefore).filter((f) => f.startsWith('cards/'))).toHaveLength(4)
    // Astro's: one file of its cache per transform (<Image>, og 1200 jpg, the feeds' 600 jpg, the
    // list's constrained widths, <Picture>'s formats x widths and fallback): 16 for the 1536-wide
    // lake, 17 for the 1344-wide kite, 14 for each 960-wide .jpg hero (the list page's og:image is
    // the first post's); 6 for the flux: import (<Image> 600 webp; <Picture>: 2 AVIF, 2 PNG and its 1536 PNG src).
    const astroEncodes = Object.keys(astrosBefore).filter((f) => !f.endsWith('.json')).length
    expect(astroEncodes).toBe(ASTRO_COLD_ENCODES)
    gateway.reset()
    await rm(dist, { recursive: true })
    await buildStarter(root)
    expect(gateway.requests).toBe(0)
    expect(await snapshot(ours)).toEqual(oursBefore)
    expect(await snapshot(astros)).toEqual(astrosBefore)
    const again = await textFiles(dist)
    expect([...again.keys()].sort()).toEqual([...pages.keys()].sort())
  }, 120_000)
})

/** The files of dist/_flux/: our two <FluxImage>s' variants and the four social cards. */
const WRITTEN = 16

/** Astro's transforms of the starter's images in a cold build (see the warm-build test). */
const ASTRO_COLD_ENCODES = 67

const UNRESOLVED = fileURLToPath(new URL('./fixtures/astro-unresolved', import.meta.url))
const LAKE = 'flux: A quiet mountain lake at dawn?size=1536x1024'

describe('a flux: value nothing resolves fails the build, naming the page, the source file and the field', () => {
  let message = ''
  let error = new Error()

  beforeAll(async () => {
    const root = await copy(UNRESOLVED, 'unresolved')
    gateway.reset()
    const built = build({
      root,
      logLevel: 'silent',
      integrations: [flux({ apiKey: KEY, baseURL: gateway.url, image: IMAGE })],
    })
    await expect(built).rejects.toThrow(/unresolved image/)
    error = await built.then(
      () => new Error('built'),
      (err: Error) => err,
    )
    message = error.message
  }, 120_000)

  it.each([
    ['<img src> (Astro’s <Image> given the string)', '/image/index.html: <img src>'],
    ['<img srcset>', '/srcset/index.html: <img srcset>'],
    ['<a href>', '/href/index.html: <a href>'],
    ['<meta content> (og:image)', '/content/index.html: <meta content>'],
    ['CSS url() in a style attribute', '/css/index.html: <div style> CSS url()'],
    ['an RSS <enclosure url>', '/rss.xml: <enclosure url>'],
    ['a sitemap <image:loc>', '/sitemap.xml: <image:loc>'],
  ])('%s', (_kind, where) => {
    const line = message.split('\n').find((l) => l.includes(where))
    expect(line, message).toBeDefined()
    expect(line).toContain(`src/content/blog/lake.md:3:`)
    expect(line).toContain(`holds ${JSON.stringify(LAKE)}`)
    expect(line).toContain('frontmatter field "heroImage"')
  })

  // public/theme.css, copied into the output as it is: a stylesheet is checked as pages are.
  it('CSS url() in a .css file of the output, written in no scanned file', () => {
    const lines = message.split('\n').filter((l) => l.includes('/theme.css'))
    expect(lines).toEqual([
      expect.stringContaining(
        '/theme.css: CSS url() holds "flux: A paper texture no page writes", which no browser can load: nothing resolved it (no scanned source file holds it: it came from code).',
      ),
    ])
  })

  it('lists each once, says what to change, and leaves prose that mentions flux: alone', () => {
    expect(message).toMatch(/^\[flux\] 8 unresolved image\(s\) in the build output:\n/)
    expect(message.match(/holds "/g)).toHaveLength(8)
    expect(message).not.toContain('/prose/')
    expect(message.match(/hint: /g)).toHaveLength(1)
    expect(message).toContain('fluxSchema(({ image }) => z.object({ ... }))')
    expect(message).not.toContain(KEY)
  })

  // Regression (issue 28): Astro's CLI prints only the first of an error's `errors`, so the count
  // line and every leftover but the first were lost.
  it("prints whole through Astro's CLI formatter: the count line and all 8 leftovers", async () => {
    const dist = dirname(createRequire(import.meta.url).resolve('astro'))
    const { collectErrorMetadata } = await import(join(dist, 'core/errors/dev/utils.js'))
    const { formatErrorMessage } = await import(join(dist, 'core/messages/runtime.js'))
    const printed = stripVTControlCharacters(formatErrorMessage(collectErrorMetadata(error), false))
    expect(printed).toContain('[flux] 8 unresolved image(s) in the build output:\n')
    expect(printed.match(/ holds "/g)).toHaveLength(8)
    expect(printed.match(/hint: /g)).toHaveLength(1)
  })
})
