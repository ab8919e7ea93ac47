import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { flux } from '@flux-images/vite'
import { type Browser, chromium } from 'playwright-core'
import { build } from 'vite'
import { afterAll, describe, expect, it } from 'vitest'

const EXAMPLE = fileURLToPath(new URL('../examples/vite-app', import.meta.url))
// Debian's `chromium` package; missing, the test fails rather than skips.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.avif': 'image/avif',
  '.webp': 'image/webp',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
}

let browser: Browser | undefined
let server: Server | undefined
let temp: string | undefined
afterAll(async () => {
  await browser?.close()
  await new Promise((done) => (server ? server.close(done) : done(undefined)))
  if (temp) await rm(temp, { recursive: true, force: true })
})

/** A static server for a built site, on a free loopback port. */
async function serve(dir: string): Promise<string> {
  server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const file = join(dir, normalize(path.endsWith('/') ? `${path}index.html` : path))
    try {
      const body = await readFile(file)
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body)
    } catch {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((done) => server?.listen(0, '127.0.0.1', done))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
}

describe('examples/vite-app in Chromium', () => {
  it('loads every image as AVIF or WebP, with no console error', async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`Chromium is not installed at ${CHROMIUM}: install it or set CHROMIUM_PATH.`)
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
    const url = await serve(outDir)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-gpu',
        '--no-first-run',
      ],
    })
    const page = await browser.newPage({ viewport: { width: 1280, height: 3000 } })
    const problems: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`)
    })
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`))
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`)
    })
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
