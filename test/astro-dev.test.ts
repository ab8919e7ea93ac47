import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanup, IMAGES, KEY, project } from './fixtures/astro-helpers/build-site.js'
import { launchChromium, shown, watchPage } from './helpers/browser.js'
import { type AstroDev, startAstroDev } from './helpers/dev-server.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

let gateway: MockGateway
let browser: Browser | undefined
let server: AstroDev | undefined

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(async () => {
  await browser?.close()
  // The server writes into the site until its process ends.
  await server?.close()
  await gateway?.close()
  await cleanup()
})

const pixels = (shown: string) => shown.split('#')[1]
const path = (shown: string) => shown.split('#')[0] ?? ''
/** An image decoded from one of our variants (not 'broken', not another URL). */
const VARIANT = /^\/_flux\/[\w.~/-]+\.(avif|webp)$/

describe('astro dev with flux()', () => {
  it('serves pages before the gateway answers, with placeholders, then reloads them with the real images', {
    // A hang guard for a dev server started in its own process on a busy machine, not a time limit.
    timeout: 240_000,
  }, async () => {
    const root = await project()
    const chromium = await launchChromium()
    browser = chromium
    // The gateway answers nothing until the test lets it: every page below is served before any
    // image exists, however slow the machine.
    gateway.hold()
    await writeFile(
      join(root, 'astro.config.mjs'),
      `import mdx from '@astrojs/mdx'
import { flux } from '@flux-images/astro'
export default {
  devToolbar: { enabled: false },
  // Its 11 images are made in the background, as a site with fewer missing than devThreshold would.
  integrations: [mdx(), flux({ baseURL: process.env.GATEWAY, concurrency: 8, devThreshold: 20, image: { widths: [160], maxWidth: 320 } })],
}
`,
    )
    // \`astro dev\` as a user runs it, in its own process.
    server = await startAstroDev(root, { FLUX_API_KEY: KEY, GATEWAY: gateway.url })
    const { origin, output } = server

    // A markdown post (body images from Sätteri, the cover from the schema), an MDX post, and a
    // page with a component's prompt and a `flux:` import.
    const paths = ['/posts/kites/', '/posts/gardens/', '/']
    const pages = await Promise.all(paths.map(() => chromium.newPage()))
    const problems = pages.map(watchPage)
    const loads = pages.map((page) => {
      const count = { n: 0 }
      page.on('load', () => count.n++)
      return count
    })
    await Promise.all(pages.map((page, i) => page.goto(origin + paths[i])))
    const first = await Promise.all(pages.map((page) => shown(page)))
    // A fact, not a race: the gateway has held every request so far.
    expect(gateway.generated, 'pages were served before any image was generated').toBe(0)
    expect(first.map((srcs) => srcs.length)).toEqual([4, 3, 2])
    for (const src of first.flat()) expect(path(src)).toMatch(VARIANT)

    // The images arrive; the pages reload by themselves and show them, none of the placeholders left:
    // every image decoded from a variant (an image read while a reload replaces the page is
    // 'broken' for that moment; Astro's own reload for the content store may follow flux's).
    const before = new Set(first.flat().map(pixels))
    gateway.release()
    for (const [i, page] of pages.entries()) {
      await expect
        // A hang guard, not a time limit: the reloads come when the machine gets to them.
        .poll(async () => shown(page), { timeout: 60_000, interval: 250 })
        .toSatisfy(
          (srcs: string[]) =>
            (loads[i]?.n ?? 0) > 1 &&
            srcs.length === first[i]?.length &&
            srcs.every((s) => VARIANT.test(path(s))) &&
            !srcs.some((s) => before.has(pixels(s))),
        )
        .catch((err: Error) => {
          throw new Error(`${paths[i]}: ${err.message}\n--- astro dev said ---\n${output()}`)
        })
    }
    // A reload may cut the one before it short (Astro reloads for the content store, flux for the
    // pages), with the page's images and scripts still loading: a request aborted by a navigation
    // is not a problem; a refused, reset or failed one is, and so is any HTTP error.
    const aborted = (problem: string) => /^request failed: \S+ net::ERR_ABORTED$/.test(problem)
    expect(problems.flat().filter((problem) => !aborted(problem))).toEqual([])
    expect(output()).not.toContain(KEY)

    // Each image generated once: the background pre-generation and the pages shared them.
    expect(gateway.requests).toBe(IMAGES)
    expect([...gateway.generatedByPrompt.values()].every((n) => n === 1)).toBe(true)
  })
})
