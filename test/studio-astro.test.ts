import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, Frame } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from './helpers/browser.js'
import { type AstroDev, startAstroDev } from './helpers/dev-server.js'
import { acted, corners, distance, loads } from './helpers/studio.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

/**
 * The author's studio in `astro dev`, opened from Astro's dev toolbar over a markdown page whose
 * frontmatter names a cover: it lists exactly the page's images, re-rolls 3, picks 2 (the page
 * shows candidate 2 without a restart), and rewrites only an edited prompt's span.
 */

const KEY = 'sk-flux-studio-astro-0b9e'
const TMP = fileURLToPath(new URL('./.tmp', import.meta.url))
// Hang guards only, generous for a busy 2-core machine: nothing here measures time.
const GUARD_MS = 60_000
const COVER = 'A lighthouse on a cliff at dusk'
const KITE = 'A red kite over green hills'
const BOAT = 'A paper boat on a puddle'
const EDITED = 'A green kite over a grey sea'

const PAGE = [
  '---',
  'layout: ../layouts/Page.astro',
  `cover: "flux:${COVER}"`,
  '---',
  '',
  '# The studio',
  '',
  `![A kite](flux:${KITE})`,
  '',
  `![A boat](flux:${BOAT})`,
  '',
].join('\n')

const LAYOUT = [
  '---',
  "import FluxImage from '@flux-images/astro/FluxImage.astro'",
  'const { frontmatter } = Astro.props',
  '---',
  '<html lang="en">',
  '  <head><link rel="icon" href="data:," /></head>',
  '  <body>',
  '    <FluxImage image={frontmatter.cover} alt="The cover" />',
  '    <slot />',
  '  </body>',
  '</html>',
  '',
].join('\n')

let gateway: MockGateway
let browser: Browser
let server: AstroDev
let root: string

async function write(file: string, text: string): Promise<void> {
  await mkdir(dirname(join(root, file)), { recursive: true })
  await writeFile(join(root, file), text)
}

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
  await mkdir(TMP, { recursive: true })
  root = await mkdtemp(join(TMP, 'studio-astro-'))
  await write('package.json', '{ "name": "studio-fixture", "private": true, "type": "module" }\n')
  const options = {
    apiKey: KEY,
    baseURL: gateway.url,
    image: { widths: [200], maxWidth: 200, formats: ['webp'] },
  }
  await write(
    'astro.config.mjs',
    `import { flux } from '@flux-images/astro'\nexport default { integrations: [flux(${JSON.stringify(options)})] }\n`,
  )
  await write('src/layouts/Page.astro', LAYOUT)
  await write('src/pages/index.md', PAGE)
  browser = await launchChromium()
}, GUARD_MS)

afterAll(async () => {
  await browser?.close()
  await server?.close()
  await gateway?.close()
  if (root) await rm(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
})

describe('the studio in astro dev', () => {
  it('opens from the dev toolbar, lists the page images, re-rolls, picks, and edits a prompt in place', {
    timeout: 6 * GUARD_MS,
  }, async () => {
    server = await startAstroDev(root)
    const say = () => `--- astro said ---\n${server.output()}`
    // 3 images missing, within the threshold: the dev server makes them at start.
    await expect.poll(() => gateway.generated, { timeout: GUARD_MS, message: say() }).toBe(3)
    const page = await browser.newPage({ viewport: { width: 1300, height: 950 } })
    await page.goto(`${server.origin}/`)
    const kiteShows = async () => {
      const src = await page.evaluate<string>(`document.querySelector('img[alt="A kite"]')?.currentSrc ?? ''`)
      return src ? corners(Buffer.from(await (await fetch(new URL(src, server.origin))).arrayBuffer())) : []
    }
    // Real images, not placeholders, before the studio opens.
    await expect.poll(() => page.locator('img').count(), { timeout: GUARD_MS }).toBe(3)

    // The toolbar's app opens the studio for this page, in a window.
    await page.locator('button[data-app-id="flux-images-studio"]').click()
    await expect
      .poll(() => page.frames().some((f) => f.url().includes('/__flux/')), { timeout: GUARD_MS })
      .toBe(true)
    const studio = page.frames().find((f) => f.url().includes('/__flux/')) as Frame
    await studio.waitForSelector('body[data-loaded]', { timeout: GUARD_MS })
    const places = await studio.locator('article header a').allTextContents()
    expect(places.sort(), say()).toEqual([
      'src/pages/index.md:10',
      'src/pages/index.md:3',
      'src/pages/index.md:8',
    ])

    // Re-roll 3 for the kite: exactly 3 requests.
    const kite = studio.locator('article', { has: studio.locator('a', { hasText: 'src/pages/index.md:8' }) })
    const loaded = await loads(studio)
    await kite.locator('button[name=reroll]').click()
    expect(await acted(studio, loaded)).toMatch(
      /^src\/pages\/index\.md:8:\d+: 3 candidate\(s\) made \(1, 2, 3\)\.$/,
    )
    expect(gateway.generated, say()).toBe(6)
    const originals = await Promise.all(
      [0, 1, 2, 3].map(async (n) => {
        const src = (await kite.locator(`figure[data-candidate="${n}"] img`).getAttribute('src')) ?? ''
        return corners(Buffer.from(await (await fetch(new URL(src, server.origin))).arrayBuffer()))
      }),
    )

    // Pick 2: the page reloads (its toolbar window with it) and shows candidate 2's pixels.
    await kite.locator('figure[data-candidate="2"] button[name=pick]').click()
    const nearest = async () => {
      const shown = await kiteShows().catch(() => [])
      if (shown.length === 0) return -1
      const gaps = originals.map((o) => distance(o, shown))
      return gaps.indexOf(Math.min(...gaps))
    }
    await expect.poll(nearest, { timeout: GUARD_MS }).toBe(2)
    const shown = await kiteShows()
    expect(distance(shown, originals[2] ?? [])).toBeLessThanOrEqual(12)
    for (const other of [0, 1, 3]) expect(distance(shown, originals[other] ?? [])).toBeGreaterThan(24)
    expect(gateway.generated, say()).toBe(6)

    // A prompt edited in the studio: only its span changes in the markdown file.
    await page.locator('button[data-app-id="flux-images-studio"]').click()
    await expect
      .poll(() => page.frames().some((f) => f.url().includes('/__flux/')), { timeout: GUARD_MS })
      .toBe(true)
    const again = page.frames().find((f) => f.url().includes('/__flux/')) as Frame
    await again.waitForSelector('body[data-loaded]', { timeout: GUARD_MS })
    const edited = again.locator('article', { has: again.locator('a', { hasText: 'src/pages/index.md:8' }) })
    await edited.locator('textarea').fill(EDITED)
    // The page reloads for the edit, its toolbar window with it: the file tells what happened.
    await edited.locator('button[name=save]').click()
    const text = () => readFile(join(root, 'src/pages/index.md'), 'utf8')
    await expect.poll(text, { timeout: GUARD_MS }).not.toBe(PAGE)
    expect(await text()).toBe(PAGE.replace(KITE, EDITED))
    await expect.poll(() => gateway.generatedByPrompt.get(EDITED) ?? 0, { timeout: GUARD_MS }).toBe(1)
    expect(gateway.generated, say()).toBe(7)
  })
})
