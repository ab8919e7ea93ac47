import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'

// Debian's `chromium` package; `./run test` installs it. Missing, a browser test fails rather
// than skips: a skipped browser test would let a broken page pass unnoticed.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Headless Chromium, or a failure saying how to install it (call it inside the test). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: install Debian's "chromium" package (apt-get install chromium) or set CHROMIUM_PATH.`,
    )
  }
  // No background networking: this machine has no network, and Chromium would retry forever.
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-gpu',
      '--no-first-run',
    ],
  })
}

/**
 * Collects console errors, page errors, failed requests and HTTP errors of a page. A failed request
 * reads `request failed: <url> <Chromium's reason>`: `net::ERR_ABORTED` for one that a navigation
 * (a reload) cut short.
 */
export function watchPage(page: Page): string[] {
  const problems: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`)
  })
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`))
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`)
  })
  return problems
}

/**
 * Opens `url` in `page` where a page may reload itself meanwhile (Vite's first-visit dependency
 * optimization, a pending image's arrival): a navigation cut short by such a reload
 * (`net::ERR_ABORTED`) is waited out, and made again if the reload left the page elsewhere. Any
 * other failure is thrown, and so is a third abort.
 */
export async function visit(page: Page, url: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await page.goto(url)
      return
    } catch (err) {
      if (attempt === 3 || !String(err).includes('net::ERR_ABORTED')) throw err
      await page.waitForLoadState('load')
      if (page.url() === url) return
    }
  }
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.avif': 'image/avif',
  '.webp': 'image/webp',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
}

/** A static server for a built site on a free loopback port; resolves to its URL and a closer. */
export async function serveStatic(dir: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const file = join(dir, normalize(path.endsWith('/') ? `${path}index.html` : path))
    try {
      const body = await readFile(file)
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body)
    } catch {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise((done) => server.close(() => done())),
  }
}

/**
 * What each image of the page (matching `selector`) shows, once all have loaded: `<currentSrc path>#<hash of its pixels>`
 * (a pending image keeps its URL when the real one arrives: the pixels tell them apart); [] while
 * the page reloads.
 */
export async function shown(page: Page, selector = 'img'): Promise<string[]> {
  try {
    // A string: the test's TypeScript knows no DOM.
    return await page.evaluate<
      string[]
    >(`Promise.all([...document.querySelectorAll(${JSON.stringify(selector)})].map(async (img) => {
      await img.decode().catch(() => {})
      if (img.naturalWidth === 0) return 'broken'
      const canvas = document.createElement('canvas')
      canvas.width = img.naturalWidth
      canvas.height = img.naturalHeight
      const context = canvas.getContext('2d')
      context.drawImage(img, 0, 0)
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', pixels))
      const hex = [...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('')
      return new URL(img.currentSrc).pathname + '#' + hex
    }))`)
  } catch {
    return [] // The page is reloading.
  }
}
