import { cp, mkdir, mkdtemp, readdir } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import mdx from '@astrojs/mdx'
import { flux } from '@flux-images/astro'
import { build } from 'astro'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeSites } from './helpers/astro-content-store.js'
import { launchChromium, serveStatic, watchPage } from './helpers/browser.js'

const EXAMPLE = fileURLToPath(new URL('../examples/astro-blog', import.meta.url))
// Inside the repository, so that the copy resolves astro and the integration from test/node_modules.
const TMP = fileURLToPath(new URL('./.tmp', import.meta.url))
// Left behind by a local `pnpm example`: the copy must build from sources only.
const BUILT = new Set(['dist', '.astro', '.flux-cache', 'node_modules'])
// Every image response waits this long, so that images arrive after the first paint: an image
// without reserved space would then visibly push the text below it.
const IMAGE_DELAY_MS = 150

let temp: string | undefined
let dist = ''
let browser: Browser | undefined
let server: Awaited<ReturnType<typeof serveStatic>> | undefined

beforeAll(async () => {
  await mkdir(TMP, { recursive: true })
  temp = await mkdtemp(join(TMP, 'astro-browser-'))
  const root = join(temp, 'site')
  await cp(EXAMPLE, root, { recursive: true, filter: (src) => !BUILT.has(basename(src)) })
  // The example's own config (MDX + flux()), built offline with placeholders and a cache of its
  // own; one small width keeps the encodes short.
  await build({
    root,
    configFile: false,
    logLevel: 'error',
    integrations: [
      mdx(),
      flux({
        mode: 'placeholder',
        cacheDir: join(root, '.flux-cache'),
        image: { widths: [480], maxWidth: 480 },
      }),
    ],
  })
  dist = join(root, 'dist')
  server = await serveStatic(dist)
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
  if (temp) await removeSites([temp])
})

interface Shown {
  src: string
  alt: string
  natural: number
  current: string
  width: string | null
  height: string | null
}

/** Opens `path`, brings every (lazy) image into view, waits until all are loaded; what it saw. */
async function open(path: string, { stripSizes = false } = {}) {
  if (!browser || !server) throw new Error('the site was not built')
  // Tall enough for the longest page: every lazy image is in the viewport from the start.
  const page: Page = await browser.newPage({ viewport: { width: 1000, height: 5000 } })
  const problems = watchPage(page)
  await page.route('**/_flux/**', async (route) => {
    await new Promise((done) => setTimeout(done, IMAGE_DELAY_MS))
    await route.continue()
  })
  if (stripSizes) {
    // The control: the same page without the reserved space must shift.
    await page.route(
      (url) => url.pathname.endsWith('/'),
      async (route) => {
        const response = await route.fetch()
        const body = (await response.text()).replace(/(<img [^>]*?) width="\d+" height="\d+"/g, '$1')
        await route.fulfill({ response, body })
      },
    )
  }
  await page.goto(new URL(path, server.url).href, { waitUntil: 'load' })
  await page.evaluate('window.scrollTo(0, document.body.scrollHeight)')
  // Strings: the test package's types have no DOM.
  await page.waitForFunction(
    'document.images.length > 0 && [...document.images].every((img) => img.complete && img.naturalWidth > 0)',
  )
  const images: Shown[] = await page.$$eval('img', (imgs) =>
    imgs.map((img) => ({
      src: img.getAttribute('src') ?? '',
      alt: img.alt,
      natural: img.naturalWidth,
      current: img.currentSrc,
      width: img.getAttribute('width'),
      height: img.getAttribute('height'),
    })),
  )
  // The Layout Instability API: every shift since navigation (buffered), after two more frames.
  const shift = (await page.evaluate(`new Promise((resolve) => {
    let total = 0
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) if (!entry.hadRecentInput) total += entry.value
    }).observe({ type: 'layout-shift', buffered: true })
    requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => resolve(total), 50)))
  })`)) as number
  await page.close()
  return { problems, images, shift }
}

describe('examples/astro-blog in Chromium', () => {
  it('builds the index, each post and the about page', async () => {
    expect(await readdir(join(dist, 'posts'))).toEqual(['harbour-town', 'lighthouses', 'tide-pools'])
    // 12 images (the banner, 3 heroes, 6 markdown images, 1 component in MDX, the about page's
    // frontmatter cover) x (AVIF, WebP, fallback).
    expect(await readdir(join(dist, '_flux'))).toHaveLength(36)
  })

  const pages: [string, number][] = [
    ['/', 4],
    ['/posts/harbour-town/', 3],
    ['/posts/lighthouses/', 4],
    ['/posts/tide-pools/', 2],
    ['/about/', 2],
  ]
  it.each(pages)(
    '%s: every image loads as AVIF or WebP, with reserved space and no problem',
    async (path, count) => {
      const { problems, images, shift } = await open(path)
      expect(problems).toEqual([])
      expect(images).toHaveLength(count)
      for (const image of images) {
        expect(image.natural, image.src).toBeGreaterThan(0)
        expect(image.current, image.src).toMatch(/\/_flux\/[\w-]+\.(avif|webp)$/)
        expect(image.width, image.src).toMatch(/^\d+$/)
        expect(image.height, image.src).toMatch(/^\d+$/)
      }
      expect(shift).toBeLessThan(0.001)
    },
  )

  it('measures a shift when the same images have no width and height (the control)', async () => {
    const { problems, images, shift } = await open('/posts/lighthouses/', { stripSizes: true })
    expect(problems).toEqual([])
    expect(images.every((image) => image.width === null && image.height === null)).toBe(true)
    expect(shift).toBeGreaterThan(0.01)
  })
})
