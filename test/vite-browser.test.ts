import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { flux } from '@flux-images/vite'
import type { Browser } from 'playwright-core'
import { build } from 'vite'
import { afterAll, describe, expect, it } from 'vitest'
import { launchChromium, serveStatic, watchPage } from './helpers/browser.js'

const EXAMPLE = fileURLToPath(new URL('../examples/vite-app', import.meta.url))
let browser: Browser | undefined
let server: Awaited<ReturnType<typeof serveStatic>> | undefined
let temp: string | undefined
afterAll(async () => {
  await browser?.close()
  await server?.close()
  if (temp) await rm(temp, { recursive: true, force: true })
})

describe('examples/vite-app in Chromium', () => {
  it('loads every image as AVIF or WebP, with no console error', async () => {
    temp = await mkdtemp(join(tmpdir(), 'flux-vite-browser-'))
    const outDir = join(temp, 'dist')
    // The example as its config builds it without a key (placeholders), with a cache of its own.
    await build({
      root: EXAMPLE,
      configFile: false,
      logLevel: 'silent',
      build: { outDir, emptyOutDir: true },
      plugins: [flux({ mode: 'placeholder', cacheDir: join(temp, 'cache'), image: { widths: [480] } })],
    })
    server = await serveStatic(outDir)
    const { url } = server
    browser = await launchChromium()
    const page = await browser.newPage({ viewport: { width: 1280, height: 3000 } })
    const problems = watchPage(page)
    await page.goto(url, { waitUntil: 'load' })
    // A string: the test package's types have no DOM.
    await page.waitForFunction(
      'document.images.length === 3 && [...document.images].every((img) => img.complete)',
    )
    const images = await page.$$eval('img', (imgs) =>
      imgs.map((img) => ({ natural: img.naturalWidth, current: img.currentSrc, alt: img.alt })),
    )
    expect(problems).toEqual([])
    expect(images.map((i) => i.alt)).toEqual([
      'A harbour town at dawn, in watercolor',
      'The lighthouse in a storm',
      'A fish market at noon, crowded, bright awnings',
    ])
    for (const image of images) {
      expect(image.natural).toBeGreaterThan(0)
      expect(image.current).toMatch(/\/assets\/_flux\/[\w-]+\.(avif|webp)$/)
    }
  })
})
