import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FluxOptions } from '@flux-images/core'
import { flux } from '@flux-images/vite'
import type { Browser } from 'playwright-core'
import { createLogger, createServer } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, serveStatic } from './helpers/browser.js'
import { startAstroDev, writeUntil } from './helpers/dev-server.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

/**
 * A dev server with a key pays only for what the project's files write. Another site's page can
 * make the browser request any URL of it (an <img>, a <script>, a no-cors fetch), and CORS only
 * keeps the page from reading the answer: each such request is refused before Vite transforms
 * it, and an id no project file wrote is never paid for, whoever asks.
 */

const KEY = 'sk-flux-dev-strangers-7d20'
const TMP = fileURLToPath(new URL('./.tmp', import.meta.url))
// Hang guards only, generous for a busy 2-core machine: nothing here measures time.
const GUARD_MS = 60_000
const OWN_PROMPT = 'A lighthouse on a cliff, the project own image'
const NEW_PROMPT = 'A harbour at dusk, added while the server runs'
const STRANGE = Array.from({ length: 24 }, (_, i) => `An attacker's prompt number ${i}, oil painting`)
const EVIL = 'http://evil.test'

let gateway: MockGateway
let browser: Browser | undefined
const temps: string[] = []
beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(async () => {
  await browser?.close()
  await gateway?.close()
  await Promise.all(
    temps.map((dir) => rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })),
  )
})

async function write(root: string, file: string, text: string): Promise<void> {
  await mkdir(dirname(join(root, file)), { recursive: true })
  await writeFile(join(root, file), text)
}

interface Running {
  origin: string
  /** Where flux serves its files. */
  publicPath: string
  /** Every line the server logged so far. */
  output(): string
  /** The project's file that shows images, and the text that adds `prompt` to it (line 3). */
  source: { file: string; adding(prompt: string): string }
  /** Requests the project's page, so that the server renders what it shows. */
  visit(): Promise<string>
  close(): Promise<void>
}

interface Host {
  name: string
  start(options: FluxOptions): Promise<Running>
}

async function tempProject(prefix: string): Promise<string> {
  await mkdir(TMP, { recursive: true })
  const dir = await mkdtemp(join(TMP, prefix))
  temps.push(dir)
  return dir
}

const vite: Host = {
  name: 'vite dev',
  async start(options) {
    const root = await tempProject('strangers-vite-')
    await write(root, 'index.html', '<!doctype html>\n<script type="module" src="/src/show.ts"></script>\n')
    const adding = (prompt: string) =>
      `// The images of this project.\nimport own from 'flux:${OWN_PROMPT}'\n${prompt ? `import added from 'flux:${prompt}'\n` : ''}export default [own${prompt ? ', added' : ''}]\n`
    await write(root, 'src/show.ts', adding(''))
    let output = ''
    const logger = createLogger('info')
    for (const level of ['info', 'warn', 'error'] as const)
      logger[level] = (msg) => {
        output += `${msg}\n`
      }
    const server = await createServer({
      root,
      configFile: false,
      customLogger: logger,
      server: { port: 0, host: '127.0.0.1' },
      plugins: [flux(options)],
    })
    await server.listen()
    const origin = `http://127.0.0.1:${(server.httpServer?.address() as AddressInfo | null)?.port}`
    return {
      origin,
      publicPath: '/assets/_flux/',
      output: () => output,
      source: { file: join(root, 'src/show.ts'), adding },
      async visit() {
        // What the page loads: its module, then each flux module it imports.
        const code = await (await fetch(`${origin}/src/show.ts`)).text()
        const ids = [...code.matchAll(/"(\/@id\/__x00__flux:[0-9a-f]+)"/g)].map((m) => m[1] ?? '')
        const modules = await Promise.all(ids.map(async (id) => (await fetch(origin + id)).text()))
        return modules.join('\n')
      },
      close: () => server.close(),
    }
  },
}

const astro: Host = {
  name: 'astro dev',
  async start(options) {
    const root = await tempProject('strangers-astro-')
    await write(root, 'package.json', '{ "name": "strangers-fixture", "private": true, "type": "module" }\n')
    const adding = (prompt: string) =>
      `# The images of this project\n\n${prompt ? `![Added](flux:${prompt})\n\n` : ''}![Own](flux:${OWN_PROMPT})\n`
    await write(root, 'src/pages/index.md', adding(''))
    await write(
      root,
      'astro.config.mjs',
      `import { flux } from '@flux-images/astro'\nexport default { devToolbar: { enabled: false }, integrations: [flux(${JSON.stringify(options)})] }\n`,
    )
    const server = await startAstroDev(root)
    return {
      origin: server.origin,
      publicPath: '/_flux/',
      output: server.output,
      source: { file: join(root, 'src/pages/index.md'), adding },
      visit: async () => (await fetch(`${server.origin}/`)).text(),
      close: server.close,
    }
  },
}

/** The forms in which a browser sends another site's requests (fetch sets none of these itself). */
const FOREIGN: Array<{ name: string; headers: Record<string, string> }> = [
  {
    name: 'a cross-site script',
    headers: {
      'sec-fetch-site': 'cross-site',
      'sec-fetch-dest': 'script',
      origin: EVIL,
      referer: `${EVIL}/`,
    },
  },
  {
    name: 'a cross-site image',
    headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-dest': 'image', referer: `${EVIL}/page` },
  },
  {
    name: 'a same-site fetch',
    headers: { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors', origin: 'http://localhost:3000' },
  },
  { name: 'an Origin alone (no Fetch Metadata)', headers: { origin: EVIL } },
  { name: 'a Referer alone', headers: { referer: `${EVIL}/a/page.html` } },
  { name: 'an opaque Origin', headers: { origin: 'null' } },
]

/** The URL forms that Vite resolves to a `flux:` id. */
const FORMS = [
  (prompt: string) => `/@id/flux:${encodeURI(prompt)}?model=flux-pro&quality=hd`,
  (prompt: string) => `/@id/flux${encodeURIComponent(`:${prompt}`)}`,
  (prompt: string) => `/@id/flux:${encodeURIComponent(prompt)}?import`,
]

// One line per refused request: ours, or Astro's own (from Astro 7 on, it refuses cross-site
// subresource requests before any plugin's middleware).
const refusals = (output: string) => output.match(/Refused GET|Blocked cross-origin request to/g)?.length ?? 0
const generating = (output: string) => output.match(/Generating "/g)?.length ?? 0

describe.for([vite, astro])('$name with a key', (host) => {
  it('pays for the project own directives only, and refuses every request another site sends', {
    timeout: 6 * GUARD_MS,
  }, async () => {
    gateway.reset()
    const server = await host.start({
      apiKey: KEY,
      baseURL: gateway.url,
      image: { widths: [160], maxWidth: 320 },
    })
    const context = () => `--- ${host.name} said ---\n${server.output()}`
    try {
      // The server makes what the project misses, at start: one image, said as it starts.
      await expect.poll(() => gateway.generated, { timeout: GUARD_MS, message: context() }).toBe(1)
      await expect.poll(() => generating(server.output()), { timeout: GUARD_MS }).toBe(1)
      expect(server.output()).toContain(`Generating "${OWN_PROMPT}" (flux-1.1-pro, 1024x1024, standard) for `)

      // 24 prompts no file wrote, each in every foreign form and URL form: 403 before Vite.
      let sent = 0
      for (const [i, prompt] of STRANGE.entries()) {
        const { name, headers } = FOREIGN[i % FOREIGN.length] ?? { name: '', headers: {} }
        for (const form of FORMS) {
          const res = await fetch(server.origin + form(prompt), { headers })
          expect(res.status, `${name}: ${form(prompt)}`).toBe(403)
          sent++
        }
      }
      // A flux file and the pending-image endpoint, from another site: refused too.
      for (const path of ['~arrived?keys=0', 'anything.avif']) {
        const res = await fetch(server.origin + server.publicPath + path, { headers: FOREIGN[0]?.headers })
        expect(res.status, path).toBe(403)
        sent++
      }
      await expect.poll(() => refusals(server.output()), { timeout: GUARD_MS, message: context() }).toBe(sent)

      // This machine's own clients, with no such headers, pass the guard; still, an id no file
      // wrote costs nothing: it gets its placeholder, said once.
      for (const prompt of STRANGE.slice(0, 3)) {
        const res = await fetch(`${server.origin}/@id/flux:${encodeURI(prompt)}`)
        expect(res.status, context()).toBe(200)
        expect(await res.text()).toContain('export default')
      }
      await expect.poll(() => server.output().match(/is written in no file of the project/g)?.length).toBe(3)
      // Which pending images arrived is answered where they are served, nowhere else.
      const arrived = await fetch(`${server.origin}${server.publicPath}~arrived?keys=${'a'.repeat(24)}`)
      expect(arrived.headers.get('content-type')).toBe('application/json')
      expect(await arrived.json()).toEqual([])
      const elsewhere = await fetch(`${server.origin}/some/page/~arrived?keys=${'a'.repeat(24)}`)
      expect(elsewhere.headers.get('content-type')).not.toBe('application/json')
      // Same-origin pages work as before: the project's page and its images.
      const page = await server.visit()
      expect(page).toMatch(/_flux\/[\w-]+\.(avif|webp|jpg)/)
      expect(gateway.requests, context()).toBe(1)
      expect(refusals(server.output())).toBe(sent)

      // A directive the author adds while the server runs is the project's: it is paid for, once,
      // and the line names where it is written.
      await writeUntil(server.source.file, server.source.adding(NEW_PROMPT), async () => {
        await server.visit()
        return gateway.generatedByPrompt.get(NEW_PROMPT) === 1
      })
      await expect.poll(() => gateway.generated, { timeout: GUARD_MS }).toBe(2)
      expect(gateway.requests, context()).toBe(2)
      expect(generating(server.output())).toBe(2)
      expect(server.output()).toMatch(
        new RegExp(`Generating "${NEW_PROMPT}" .* for \\S*(show\\.ts|index\\.md):3`),
      )
      for (const prompt of STRANGE) expect(gateway.generatedByPrompt.get(prompt) ?? 0).toBe(0)
    } finally {
      await server.close()
    }
  })

  it('in Chromium: pages of another site that embed flux URLs make the server pay nothing', {
    timeout: 4 * GUARD_MS,
  }, async () => {
    gateway.reset()
    const server = await host.start({
      apiKey: KEY,
      baseURL: gateway.url,
      image: { widths: [160], maxWidth: 320 },
    })
    const dir = await tempProject('strangers-page-')
    const prompts = STRANGE.slice(0, 4)
    const urls = prompts.map((p) => `${server.origin}/@id/flux:${encodeURI(p)}?model=flux-pro&quality=hd`)
    await writeFile(
      join(dir, 'index.html'),
      `<!doctype html><body>
<img src="${urls[0]}"><script type="module" src="${urls[1]}"></script><script src="${urls[2]}"></script>
<script>fetch(${JSON.stringify(urls[3])}, { mode: 'no-cors' }).catch(() => {}).finally(() => { document.title = 'done' })</script>
</body>`,
    )
    const other = await serveStatic(dir)
    try {
      await expect.poll(() => gateway.generated, { timeout: GUARD_MS }).toBe(1)
      browser ??= await launchChromium()
      // Same-site (another port of 127.0.0.1), then cross-site (localhost is another site).
      const pages = [other.url, other.url.replace('127.0.0.1', 'localhost')]
      for (const url of pages) {
        const page = await browser.newPage()
        // What the browser saw of each request to the dev server: its status, or that it failed
        // (Chromium may block an opaque answer before the page, and report that instead).
        const answers = new Map<object, string>()
        page.on('request', (r) => {
          if (r.url().startsWith(server.origin)) answers.set(r, 'sent')
        })
        page.on('response', (r) => {
          if (answers.has(r.request())) answers.set(r.request(), String(r.status()))
        })
        page.on('requestfailed', (r) => {
          if (answers.get(r) === 'sent') answers.set(r, 'failed')
        })
        await page.goto(url, { waitUntil: 'load' })
        await page.waitForFunction(`document.title === 'done'`)
        // An image, two scripts and a no-cors fetch, each reported on the browser's own time.
        const settled = () => [...answers.values()].filter((a) => a !== 'sent').length
        await expect.poll(settled, { timeout: GUARD_MS }).toBe(4)
        await page.close()
        expect(
          [...answers.values()].filter((a) => a !== '403' && a !== 'failed'),
          url,
        ).toEqual([])
      }
      await expect.poll(() => refusals(server.output()), { timeout: GUARD_MS }).toBe(8)
      expect(gateway.requests, server.output()).toBe(1)
    } finally {
      await other.close()
      await server.close()
    }
  })
})
