import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer as createHttpServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { flux } from '@flux-images/vite'
import type { Browser } from 'playwright-core'
import { createLogger, createServer, type ViteDevServer } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, watchPage } from './helpers/browser.js'
import { acted, corners, distance, loads } from './helpers/studio.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

/**
 * The author's studio in `vite dev`, driven in Chromium as an author does: a site with 12 missing
 * images waits for the studio's go; the studio lists exactly the page's images; re-roll 3, pick 2,
 * and the page shows candidate 2 without a restart; a prompt edited in the studio rewrites only its
 * span; a page of another origin cannot spend.
 */

const KEY = 'sk-flux-studio-vite-51c3'
const TMP = fileURLToPath(new URL('./.tmp', import.meta.url))
const SCREENSHOT = fileURLToPath(new URL('../docs/studio.png', import.meta.url))
// Hang guards only, generous for a busy 2-core machine: nothing here measures time.
const GUARD_MS = 60_000
const HTML_PROMPTS = Array.from(
  { length: 10 },
  (_, i) => `A quiet harbour study number ${i + 1}, watercolour`,
)
const HERO = 'A red fox in fresh snow, morning light'
const SIDE = 'A paper boat on a puddle, macro photograph'
const EDITED = 'A blue heron at dawn, watercolour'

let gateway: MockGateway
let browser: Browser
let server: ViteDevServer
let origin: string
let root: string
let output = ''
let evil: Server | undefined

const indexHtml = () =>
  [
    '<!doctype html>',
    '<html>',
    '<body>',
    ...HTML_PROMPTS.map((prompt, i) => `<img src="flux:${prompt}" alt="Study ${i + 1}" width="160">`),
    '<div id="app"></div>',
    '<script type="module" src="/src/main.ts"></script>',
    '</body>',
    '</html>',
    '',
  ].join('\n')

const mainTs = [
  '// The hero and a side picture, imported.',
  `import hero from 'flux:${HERO}'`,
  `import side from 'flux:${SIDE}'`,
  '',
  'for (const [id, image] of [["hero", hero], ["side", side]] as const) {',
  "  const img = document.createElement('img')",
  '  img.id = id',
  '  img.src = image.src',
  '  img.width = 200',
  "  document.getElementById('app')?.append(img)",
  '}',
  '',
].join('\n')

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
  await mkdir(TMP, { recursive: true })
  root = await mkdtemp(join(TMP, 'studio-vite-'))
  await mkdir(join(root, 'src'), { recursive: true })
  await writeFile(join(root, 'index.html'), indexHtml())
  await writeFile(join(root, 'src/main.ts'), mainTs)
  const logger = createLogger('info')
  for (const level of ['info', 'warn', 'error'] as const)
    logger[level] = (msg) => {
      output += `${msg}\n`
    }
  server = await createServer({
    root,
    configFile: false,
    customLogger: logger,
    server: { port: 0, host: '127.0.0.1' },
    plugins: [
      flux({ apiKey: KEY, baseURL: gateway.url, image: { widths: [200], maxWidth: 200, formats: ['webp'] } }),
    ],
  })
  await server.listen()
  origin = `http://127.0.0.1:${(server.httpServer?.address() as AddressInfo | null)?.port}`
  browser = await launchChromium()
}, GUARD_MS)

afterAll(async () => {
  if (process.env.STUDIO_DEBUG) console.log(output)
  await browser?.close()
  await server?.close()
  await new Promise((done) => (evil ? evil.close(done) : done(undefined)))
  await gateway?.close()
  if (root) await rm(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
})

async function bytesOf(url: string): Promise<Buffer> {
  return Buffer.from(await (await fetch(new URL(url, origin))).arrayBuffer())
}

describe('the studio in vite dev', () => {
  it('waits for its go past the threshold, then re-rolls, picks, edits a prompt in place, and refuses another origin', {
    timeout: 6 * GUARD_MS,
  }, async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } })
    const page = await context.newPage()
    const say = () => `--- vite said ---\n${output}`

    // 12 images are missing, more than the default threshold (10): the dev server waits.
    await expect.poll(() => output, { timeout: GUARD_MS }).toContain('12 images are missing')
    await page.goto(`${origin}/`)
    await expect.poll(() => page.locator('#app img').count(), { timeout: GUARD_MS }).toBe(2)
    expect(await page.locator('img').count()).toBe(12)
    expect(gateway.generated, say()).toBe(0)

    // The page's button opens the studio for this page: exactly its 12 images, where each is written.
    const [studio] = await Promise.all([context.waitForEvent('page'), page.click('[data-flux-studio]')])
    if (!studio) throw new Error('no studio window')
    const problems = watchPage(studio)
    await studio
      .waitForSelector('body[data-loaded]', { timeout: GUARD_MS })
      .catch((err) => Promise.reject(new Error(`${err}\n${problems.join('\n')}`)))
    const places = await studio.locator('article header a').allInnerTexts()
    expect(places.sort()).toEqual(
      [...HTML_PROMPTS.map((_, i) => `index.html:${4 + i}`), 'src/main.ts:2', 'src/main.ts:3'].sort(),
    )
    expect(await studio.locator('#generate').textContent()).toBe('Generate 12 images (est. $0.480)')
    expect(gateway.generated, say()).toBe(0)

    // One action generates them: exactly 12 requests.
    let loaded = await loads(studio)
    await studio.click('#generate')
    expect(await acted(studio, loaded)).toBe('12 image(s) generated.')
    expect(gateway.generated, say()).toBe(12)
    expect(await studio.locator('#held').isHidden()).toBe(true)

    // Re-roll 3 for the hero: 3 requests, the cost said first; 4 images side by side.
    const hero = studio.locator('article', { has: studio.locator('a', { hasText: 'src/main.ts:2' }) })
    expect(await hero.locator('button[name=reroll]').textContent()).toBe('Re-roll 3 (est. $0.120)')
    loaded = await loads(studio)
    await hero.locator('button[name=reroll]').click()
    expect(await acted(studio, loaded)).toBe('src/main.ts:2:19: 3 candidate(s) made (1, 2, 3).')
    expect(gateway.generated, say()).toBe(15)
    expect(await hero.locator('figure').count()).toBe(4)
    const originals = await Promise.all(
      [0, 1, 2, 3].map(async (n) =>
        corners(
          await bytesOf((await hero.locator(`figure[data-candidate="${n}"] img`).getAttribute('src')) ?? ''),
        ),
      ),
    )

    // Pick 2: the page reloads and shows candidate 2's pixels, no restart.
    loaded = await loads(studio)
    await hero.locator('figure[data-candidate="2"] button[name=pick]').click()
    expect(await acted(studio, loaded)).toBe(
      'src/main.ts:2:19: candidate 2 picked (the pick record is committed with the cache).',
    )
    const heroShows = async () => {
      const src = await page
        .evaluate<string>(`document.getElementById('hero')?.currentSrc ?? ''`)
        .catch(() => '')
      return src ? corners(await bytesOf(src)) : []
    }
    const nearest = async () => {
      const shown = await heroShows()
      if (shown.length === 0) return -1
      const gaps = originals.map((o) => distance(o, shown))
      return gaps.indexOf(Math.min(...gaps))
    }
    await expect.poll(nearest, { timeout: GUARD_MS }).toBe(2)
    const shown = await heroShows()
    expect(distance(shown, originals[2] ?? [])).toBeLessThanOrEqual(12)
    for (const other of [0, 1, 3]) expect(distance(shown, originals[other] ?? [])).toBeGreaterThan(24)
    expect(gateway.generated, say()).toBe(15)
    await hero.scrollIntoViewIfNeeded()
    await studio.screenshot({ path: SCREENSHOT })

    // A prompt edited in the studio: only its span changes, every other byte of the file stays.
    const before = await readFile(join(root, 'index.html'), 'utf8')
    const third = studio.locator('article', { has: studio.locator('a', { hasText: 'index.html:6' }) })
    await third.locator('textarea').fill(EDITED)
    loaded = await loads(studio)
    await third.locator('button[name=save]').click()
    expect(await acted(studio, loaded)).toBe(
      'index.html:6:11: prompt rewritten; the page follows like any edit.',
    )
    const at = before.indexOf(HTML_PROMPTS[2] ?? '')
    const expected = before.slice(0, at) + EDITED + before.slice(at + (HTML_PROMPTS[2] ?? '').length)
    expect(await readFile(join(root, 'index.html'), 'utf8')).toBe(expected)
    // ...and flows like any edit: the page reloads and its new image is generated, once.
    await expect.poll(() => gateway.generatedByPrompt.get(EDITED) ?? 0, { timeout: GUARD_MS }).toBe(1)
    expect(gateway.generated).toBe(16)

    // A page of another origin (a localhost port Vite's CORS trusts) tries to re-roll: nothing spends.
    const heroKey = await hero.getAttribute('data-key')
    evil = createHttpServer((_req, res) => {
      res.setHeader('Content-Type', 'text/html')
      res.end(`<!doctype html><script type="module">${foreignScript(origin, heroKey ?? '')}</script>`)
    })
    await new Promise<void>((done) => evil?.listen(0, '127.0.0.1', done))
    const foreign = await context.newPage()
    await foreign.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`)
    const found = await foreign.waitForFunction('window.results', undefined, { timeout: GUARD_MS })
    const results = (await found.jsonValue()) as Record<string, unknown>
    // Vite's CORS lets a localhost page read its HMR token, so the socket opens: the studio's own
    // secret, which that page cannot read, is what refuses the action.
    expect(results).toEqual({
      studio: 'refused',
      images: 'refused',
      token: true,
      socket: 'open',
      reply:
        "Refused: this action did not come from this dev server's studio page. Open the studio from the page (its button) and act there.",
    })
    expect(gateway.generated, JSON.stringify(results)).toBe(16)
    expect(output).toContain('[flux] Refused GET "/__flux/"')
    await context.close()
  })
})

/** What another site's page tries: read the studio (its secret), read its images, re-roll over HMR. */
function foreignScript(target: string, key: string): string {
  return `
const results = {}
const read = async (url) => {
  try { const r = await fetch(url); return r.ok ? await r.text() : 'refused' } catch { return 'refused' }
}
const studio = await read(${JSON.stringify(`${target}/__flux/`)})
results.studio = studio === 'refused' ? 'refused' : 'read'
const secret = /name="flux-studio" content="([^"]*)"/.exec(studio)?.[1] ?? '0'.repeat(48)
results.images = await read(${JSON.stringify(`${target}/__flux/images`)}) === 'refused' ? 'refused' : 'read'
const client = await read(${JSON.stringify(`${target}/@vite/client`)})
const token = /const wsToken = "([^"]*)"/.exec(client)?.[1] ?? ''
results.token = token !== ''
await new Promise((done) => {
  const ws = new WebSocket(${JSON.stringify(target.replace(/^http/, 'ws'))} + '/?token=' + token, 'vite-hmr')
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data)
    if (message.type === 'connected') {
      results.socket = 'open'
      ws.send(JSON.stringify({ type: 'custom', event: 'flux:studio', data: { id: 1, token: secret,
        action: { type: 'reroll', key: ${JSON.stringify(key)}, count: 3, confirm: true } } }))
    }
    if (message.type === 'custom' && message.event === 'flux:studio') {
      results.reply = message.data.error
      done()
    }
  }
  ws.onerror = () => { results.socket = 'refused'; done() }
  ws.onclose = () => { results.socket ??= 'closed'; done() }
})
window.results = results
`
}
