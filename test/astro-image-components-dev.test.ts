import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSession } from '@flux-images/core'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeSites } from './helpers/astro-content-store.js'
import { launchChromium, shown, visit, watchPage } from './helpers/browser.js'
import { type AstroDev, startAstroDev } from './helpers/dev-server.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url))
const TMP = fileURLToPath(new URL('./.tmp', import.meta.url))
const KEY = 'sk-flux-astro-images-dev-5e02'
const IMAGE = { widths: [160], maxWidth: 320 }
const CONFIG = `import { flux } from '@flux-images/astro'
export default {
  site: 'https://blog.example',
  devToolbar: { enabled: false },
  integrations: [flux({ baseURL: process.env.GATEWAY, image: ${JSON.stringify(IMAGE)} })],
}
`

let gateway: MockGateway
let browser: Browser | undefined
let temp = ''
const servers: AstroDev[] = []

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
  await mkdir(TMP, { recursive: true })
  temp = await mkdtemp(join(TMP, 'astro-images-dev-'))
})
afterAll(async () => {
  await browser?.close()
  await Promise.all(servers.map((s) => s.close()))
  await gateway?.close()
  if (temp) await removeSites([temp])
})

async function dev(name: string, { generated = false } = {}): Promise<AstroDev> {
  const root = join(temp, name)
  await cp(join(FIXTURES, name.replace(/-pending$/, '')), root, { recursive: true })
  await writeFile(join(root, 'astro.config.mjs'), CONFIG)
  if (generated) {
    // As after `flux-images generate` (or a build): nothing pending, so no page reloads under the test.
    const session = await createSession({ root, apiKey: KEY, baseURL: gateway.url, image: IMAGE })
    await session.build()
    await session.close()
  }
  const server = await startAstroDev(root, { FLUX_API_KEY: KEY, GATEWAY: gateway.url })
  servers.push(server)
  return server
}

describe("astro dev: Astro's blog starter with flux: heroes", () => {
  it('every image of every page loads in Chromium, with no console error and no flux: in the page', async () => {
    const server = await dev('astro-blog-starter', { generated: true })
    browser ??= await launchChromium()
    const paths = ['/', '/blog/mountain-lake/', '/blog/red-kite/', '/blog/first-post/']
    // Vite optimizes the client's dependencies on the first visit and reloads that page once: a
    // visit before the checks, so that a reload under them would be ours.
    // Tall enough that no lazy image waits outside the viewport.
    const first = await browser.newPage({ viewport: { width: 1200, height: 6000 } })
    await visit(first, server.origin + paths[0])
    await expect.poll(async () => (await shown(first)).length, { timeout: 60_000 }).toBeGreaterThan(0)
    await first.close()
    for (const path of paths) {
      const page = await browser.newPage({ viewport: { width: 1200, height: 6000 } })
      const problems = watchPage(page)
      let loads = 0
      page.on('load', () => loads++)
      await page.goto(server.origin + path)
      // The page reloads when pending images arrive: its HTML is read apart.
      const html = await (await fetch(server.origin + path)).text()
      expect(html.includes('flux:'), path).toBe(false)
      // Every <img>, from <Image>, <Picture> and <FluxImage>: decoded, none broken.
      await expect.poll(async () => (await shown(page)).length, { timeout: 60_000 }).toBeGreaterThan(0)
      const images = await shown(page)
      expect(
        images.filter((s) => s === 'broken'),
        `${path}: ${images.join(', ')}`,
      ).toEqual([])
      // The social card and og:image the page hands to crawlers are served too.
      for (const name of ['og:image', 'twitter:image']) {
        const url = new RegExp(`(?:property|name)="${name}" content="([^"]+)"`).exec(html)?.[1] ?? ''
        const served = await fetch(
          server.origin +
            new URL(url.replaceAll('&amp;', '&')).pathname +
            new URL(url.replaceAll('&amp;', '&')).search,
        )
        expect(served.status, `${path} ${name} ${url}`).toBe(200)
        expect(served.headers.get('content-type'), url).toMatch(/^image\//)
      }
      expect(problems, path).toEqual([])
      expect(loads, path).toBe(1)
      await page.close()
    }
  })
})

describe('astro dev: flux: images not generated yet', () => {
  it('show at once as flat pictures of their size; a flux: import then shows the real image without a restart', {
    // A hang guard for a dev server in its own process on a busy machine, not a time limit.
    timeout: 240_000,
  }, async () => {
    gateway.reset()
    gateway.hold()
    const server = await dev('astro-blog-starter-pending')
    browser ??= await launchChromium()
    const page = await browser.newPage({ viewport: { width: 1200, height: 6000 } })
    const problems = watchPage(page)
    const src = (selector: string) => () =>
      page.evaluate<string>(`document.querySelector(${JSON.stringify(selector)})?.getAttribute('src') ?? ''`)
    const hero = src('.hero-image img')
    await visit(page, `${server.origin}/blog/mountain-lake/`)
    // Served before any image exists: the hero (an image() field) is the pending picture, and it loads.
    expect(gateway.generated).toBe(0)
    await expect.poll(hero, { timeout: 60_000 }).toMatch(/pending%2F[0-9a-f]+-1536x1024\.png/)
    await expect
      .poll(async () => (await shown(page)).filter((s) => s === 'broken'), { timeout: 60_000 })
      .toEqual([])
    await visit(page, `${server.origin}/`)
    const imported = src('img[alt="A harbour at dusk, by Astro"]')
    await expect.poll(imported, { timeout: 60_000 }).toMatch(/pending%2F[0-9a-f]+-1536x1024\.png/)
    expect(gateway.generated).toBe(0)
    gateway.release()
    // Generated: the page reloads by itself, and the import is Astro's transform of the original.
    await expect.poll(imported, { timeout: 120_000 }).toMatch(/originals%2F[0-9a-f]+\.png/)
    await expect
      .poll(async () => (await shown(page)).filter((s) => s === 'broken'), { timeout: 60_000 })
      .toEqual([])
    // A reload cuts short the requests of the page it replaces; nothing else may fail.
    expect(problems.filter((p) => !p.endsWith('net::ERR_ABORTED'))).toEqual([])
    await page.close()
  })
})

describe('astro dev: a flux: value nothing resolves', () => {
  it("shows in Vite's error overlay on the page, naming the source file and the field, and in the terminal", async () => {
    const server = await dev('astro-unresolved')
    browser ??= await launchChromium()
    const page = await browser.newPage()
    await page.goto(`${server.origin}/image/`)
    const overlay = page.locator('vite-error-overlay')
    await expect.poll(() => overlay.count(), { timeout: 30_000 }).toBe(1)
    const text = await overlay.evaluate((el) => el.shadowRoot?.textContent ?? '')
    expect(text).toContain('/image/: <img src> holds "flux: A quiet mountain lake at dawn?size=1536x1024"')
    expect(text).toContain('frontmatter field "heroImage"')
    expect(text).toMatch(/src\/content\/blog\/lake\.md:3:\d+/)
    expect(text).toContain('fluxSchema(')
    expect(server.output()).toContain('/image/: <img src> holds')
    // Prose about flux: opens no overlay.
    await page.goto(`${server.origin}/prose/`)
    await page.waitForLoadState('load')
    expect(await page.locator('vite-error-overlay').count()).toBe(0)
    await page.close()
  })
})
