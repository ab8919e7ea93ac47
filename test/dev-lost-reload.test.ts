import { cp, mkdtemp, rm } from 'node:fs/promises'
import { createServer as createHttpServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { flux } from '@flux-images/vite'
import type { Browser, Page } from 'playwright-core'
import { createServer, type ViteDevServer } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, shown } from './helpers/browser.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/vite-basic', import.meta.url))
const KEY = 'sk-flux-lost-reload-5e0c'

let gateway: MockGateway
let server: ViteDevServer | undefined
let browser: Browser | undefined
let temp: string | undefined
// Another server whose URL a page holds: the dev client must never ask it anything.
let elsewhere: Server | undefined
const askedElsewhere: string[] = []
beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(async () => {
  await browser?.close()
  await new Promise((done) => (elsewhere ? elsewhere.close(done) : done(undefined)))
  await server?.close()
  await gateway?.close()
  if (temp) await rm(temp, { recursive: true, force: true, maxRetries: 3 })
})

/** The hero image's pixels, hashed, once it has loaded ('' while it has not). */
async function heroPixels(page: Page): Promise<string> {
  const [hero = ''] = await shown(page, 'img.hero')
  return hero === 'broken' ? '' : (hero.split('#')[1] ?? '')
}

describe('a dev page that missed its reload', () => {
  it('shows the real image once its HMR client connects, without a reload', {
    timeout: 240_000,
  }, async () => {
    temp = await mkdtemp(join(tmpdir(), 'flux-lost-reload-'))
    const root = join(temp, 'site')
    await cp(FIXTURE, root, { recursive: true })
    gateway.hold()
    server = await createServer({
      root,
      configFile: false,
      logLevel: 'silent',
      server: { port: 0, host: '127.0.0.1' },
      plugins: [flux({ apiKey: KEY, baseURL: gateway.url, image: { widths: [160], maxWidth: 320 } })],
    })
    const reloads: unknown[] = []
    const send = server.ws.send.bind(server.ws) as (payload: unknown) => void
    server.ws.send = ((payload: { type?: string }) => {
      if (payload.type === 'full-reload') reloads.push(payload)
      send(payload)
    }) as typeof server.ws.send
    await server.listen()
    const origin = `http://127.0.0.1:${(server.httpServer?.address() as AddressInfo | null)?.port}`

    let connected = 0
    server.ws.on('connection', () => connected++)

    browser = await launchChromium()
    // Another page, connected: Vite keeps a reload for a later client only when none is connected.
    const other = await browser.newPage()
    await other.goto(`${origin}/src/main.ts`)
    await other.evaluate(`import('/@vite/client')`)
    await expect.poll(() => connected, { timeout: 60_000 }).toBe(1)

    const page = await browser.newPage()
    let loads = 0
    page.on('load', () => loads++)
    // The page's scripts, its HMR client among them, wait: what a page still loading is like
    // when a reload is broadcast (its socket is not connected, so the reload is lost).
    let openScripts = () => {}
    const scripts = new Promise<void>((resolve) => (openScripts = resolve))
    await page.route('**/@vite/client', async (route) => {
      await scripts
      await route.continue()
    })
    await page.goto(`${origin}/`, { waitUntil: 'commit' })
    // The hero shows its placeholder: no image exists, the gateway holds every request.
    await expect.poll(() => heroPixels(page), { timeout: 60_000 }).not.toBe('')
    const placeholder = await heroPixels(page)
    expect(gateway.generated).toBe(0)

    // The images arrive and the reload is broadcast, to no one: the page is not connected.
    gateway.release()
    await expect.poll(() => reloads.length, { timeout: 60_000 }).toBeGreaterThan(0)
    expect(gateway.generated).toBe(3)
    expect(await heroPixels(page)).toBe(placeholder)

    // The page also holds, first, a pending-looking URL of another server: the client takes where
    // to ask from its own origin, never from a URL in the page.
    elsewhere = createHttpServer((req, res) => {
      askedElsewhere.push(req.url ?? '')
      res.writeHead(404).end()
    })
    await new Promise<void>((done) => elsewhere?.listen(0, '127.0.0.1', done))
    const foreign = `http://localhost:${(elsewhere.address() as AddressInfo).port}/_flux/~${'a'.repeat(24)}/x-160.avif`
    await page.evaluate(
      `document.body.prepend(Object.assign(new Image(), { src: ${JSON.stringify(foreign)} }))`,
    )

    // The page's HMR client connects: it asks which of its pending images arrived, and loads them.
    openScripts()
    await expect.poll(() => heroPixels(page), { timeout: 60_000 }).not.toBe(placeholder)
    expect(loads).toBe(1)
    expect(gateway.requests).toBe(3)
    expect(askedElsewhere.filter((url) => url.includes('~arrived'))).toEqual([])
  })
})
