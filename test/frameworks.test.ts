import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser } from 'playwright-core'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, shown, watchPage } from './helpers/browser.js'
import { freePort } from './helpers/dev-server.js'
import { exec, packTarballs, pnpm } from './helpers/packed.js'
import { SVELTEKIT_PROMPTS } from './helpers/sveltekit-prompts.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

// SvelteKit and VitePress as their users install them: @flux-images/core and /vite packed with
// `pnpm pack`, installed into new sites outside the workspace, built against the mock gateway.
// A SvelteKit 3 site with mdsvex (a Svelte component importing `flux:`, a .svx and a .md page with
// body directives) and a VitePress 2 site (a Vue component importing `flux:`, markdown pages).

// A fake key with a distinctive shape; it lives only in the sites' .env files.
const KEY = 'sk-flux-frameworks-7e2a9c-DO-NOT-LEAK'
// A guard against a hung build, not a speed check: real builds on a machine busy with other test files.
const BUILD_TIMEOUT = 240_000

interface Site {
  fixture: string
  dependencies: Record<string, string>
  build: string[]
  /** Where the site is written. */
  output: string
  /** Each distinct prompt of the site, one request each. */
  prompts: string[]
  /** `<picture>` elements per page of the output. */
  pictures: Record<string, number>
  /** A page with an invalid size, and where its directive is. */
  bad: { file: string; text: string; at: string }
}

const SVELTEKIT: Site = {
  fixture: 'install-sveltekit',
  dependencies: {
    '@sveltejs/adapter-static': '^4.0.1',
    '@sveltejs/kit': '^3.4.1',
    '@sveltejs/vite-plugin-svelte': '^7.3.3',
    mdsvex: '^0.12.8',
    svelte: '^5.60.1',
    vite: '^8.4.1',
  },
  build: ['vite', 'build'],
  output: 'build',
  prompts: SVELTEKIT_PROMPTS,
  // The component's import; the .svx page's two images; the .md page's typed-anyway forms.
  pictures: { 'index.html': 1, 'blog/harbour.html': 2, 'story.html': 3 },
  bad: {
    file: 'src/routes/bad/+page.svx',
    text: '# Bad\n\n![A boat](<flux:A small boat?size=999x999>)\n',
    at: 'src/routes/bad/+page.svx:3:',
  },
}

const VITEPRESS: Site = {
  fixture: 'install-vitepress',
  dependencies: { vitepress: '2.0.0-alpha.21', vue: '^3.5.47' },
  build: ['vitepress', 'build'],
  output: '.vitepress/dist',
  prompts: [
    'A windmill on a green hill, gouache',
    'A sailing ship in a storm, ink drawing',
    'A heron by a pond',
    'A brass compass on a map',
  ],
  // The Vue component's import and two body images; a page with the ship again.
  pictures: { 'index.html': 3, 'guide/harbour.html': 2 },
  bad: {
    file: 'guide/bad.md',
    text: '# Bad\n\n![A boat](<flux:A small boat?size=999x999>)\n',
    at: 'guide/bad.md:3:',
  },
}

let work: string
let gateway: MockGateway
const roots = new Map<Site, string>()

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flux-frameworks-'))
  gateway = await createMockGateway({ apiKey: KEY })
  const packed = await packTarballs(join(work, 'packs'))
  const tarballs = { core: `file:${packed.core}`, vite: `file:${packed.vite}` }
  // Both installs at once: they share pnpm's store.
  await Promise.all(
    [SVELTEKIT, VITEPRESS].map(async (site) => {
      const root = join(work, site.fixture)
      await cp(fileURLToPath(new URL(`fixtures/${site.fixture}`, import.meta.url)), root, { recursive: true })
      const manifest = {
        name: `flux-${site.fixture}`,
        private: true,
        type: 'module',
        devDependencies: { ...site.dependencies, '@flux-images/vite': tarballs.vite },
        pnpm: { overrides: { '@flux-images/core': tarballs.core } },
      }
      await writeFile(join(root, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
      await writeFile(join(root, '.env'), `FLUX_API_KEY=${KEY}\nFLUX_BASE_URL=${gateway.url}\n`)
      await pnpm(['install', '--prefer-offline', '--reporter=append-only', '--no-frozen-lockfile'], root)
      roots.set(site, root)
    }),
  )
}, 600_000)

afterAll(async () => {
  await gateway?.close()
  if (work) await rm(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
})

// The two sites build at once (each its own prompts, counted apart): installs and framework
// builds are the cost of this file.
describe.concurrent('SvelteKit and VitePress sites', () => {
  it.for<[string, Site]>([
    ['a SvelteKit 3 site with mdsvex', SVELTEKIT],
    ['a VitePress 2 site', VITEPRESS],
  ])(
    '%s: every import and body directive a <picture> whose files are in the output, each image paid once; a warm rebuild pays nothing; a bad directive fails at its file:line',
    { timeout: BUILD_TIMEOUT * 3 },
    async ([, site], { expect }) => {
      const output = join(rootOf(site), site.output)
      const requests = () => site.prompts.map((p) => gateway.requestsByPrompt.get(p) ?? 0)

      const run = await build(site)
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(Object.fromEntries(site.prompts.map((p, k) => [p, requests()[k]]))).toEqual(
        Object.fromEntries(site.prompts.map((p) => [p, 1])),
      )
      expect(run.stdout + run.stderr).not.toContain(KEY)

      const pages = await htmlPages(output)
      const counts = Object.fromEntries(
        Object.entries(pages)
          .map(([page, html]) => [page, (html.match(/<picture[\s>]/g) ?? []).length] as const)
          .filter(([, n]) => n > 0),
      )
      expect(counts).toEqual(site.pictures)
      for (const [page, html] of Object.entries(pages)) expect(html, page).not.toContain('flux:')

      // Every URL of every <img>/<source>, resolved from its page, is a file of the output, decoded
      // as the format its name says.
      const referenced = new Set<string>()
      for (const [page, html] of Object.entries(pages)) {
        for (const url of imageUrls(html)) {
          const { pathname } = new URL(url, `http://site/${page}`)
          referenced.add(decodeURIComponent(pathname).slice(1))
        }
      }
      const built = await imagesOf(output)
      for (const file of referenced) expect(built, file).toHaveProperty([file])
      for (const file of referenced) {
        const { format } = await sharp(join(output, file)).metadata()
        // libvips names AVIF's container, HEIF.
        expect(format, file).toBe({ jpg: 'jpeg', avif: 'heif' }[extension(file)] ?? extension(file))
      }
      // Two widths (160, 320) in three formats per image, nothing else.
      expect(Object.keys(built).filter((f) => f.includes('_flux/'))).toHaveLength(site.prompts.length * 6)

      // Warm: no request, the same files.
      const warm = await build(site)
      expect(warm.code, warm.stdout + warm.stderr).toBe(0)
      expect(requests()).toEqual(site.prompts.map(() => 1))
      expect(await imagesOf(output)).toEqual(built)

      // A bad directive: the build fails where it is written, and pays for nothing.
      const file = join(rootOf(site), site.bad.file)
      await mkdir(dirname(file), { recursive: true })
      await writeFile(file, site.bad.text)
      const paid = gateway.requestsByPrompt.get('A small boat') ?? 0
      try {
        const bad = await build(site)
        expect(bad.code).not.toBe(0)
        expect(bad.stdout + bad.stderr).toContain(site.bad.at)
        expect(bad.stdout + bad.stderr).toContain('999x999')
      } finally {
        await rm(file)
      }
      expect(gateway.requestsByPrompt.get('A small boat') ?? 0).toBe(paid)
    },
  )
})

// Their dev servers, as users start them, on a page with an import and a body directive: a
// prompt no build made is generated once, and every image the page shows loads.
const DEV: Record<
  'sveltekit' | 'vitepress',
  { site: Site; command: string[]; page: string; file: string; text: string; prompt: string }
> = {
  sveltekit: {
    site: SVELTEKIT,
    command: ['vite', 'dev'],
    page: '/dev',
    file: 'src/routes/dev/+page.svx',
    prompt: 'A tugboat pushing a barge, pencil sketch',
    text: "<script>\nimport Hero from '../../lib/Hero.svelte'\n</script>\n\n# In dev\n\n<Hero />\n\n![A tugboat](flux:A tugboat pushing a barge, pencil sketch)\n",
  },
  vitepress: {
    site: VITEPRESS,
    command: ['vitepress', 'dev'],
    page: '/guide/dev.html',
    file: 'guide/dev.md',
    prompt: 'A tugboat drawn in chalk',
    text: "# In dev\n\n<script setup>\nimport Hero from '../components/Hero.vue'\n</script>\n\n<Hero />\n\n![A tugboat](flux:A tugboat drawn in chalk)\n",
  },
}
const DEV_PROMPTS = Object.values(DEV).map((dev) => dev.prompt)

describe('their dev servers', () => {
  let browser: Browser | undefined
  const servers: Array<() => Promise<void>> = []
  afterAll(async () => {
    await browser?.close()
    await Promise.all(servers.map((close) => close()))
  })

  it('`vite dev` (SvelteKit) and `vitepress dev`: a page with an import and a body directive shows images that load; only its new image is generated, once; a foreign page is refused', {
    timeout: BUILD_TIMEOUT,
  }, async () => {
    const before = gateway.requests
    const started = await Promise.all(
      Object.values(DEV).map(async (dev) => {
        const root = rootOf(dev.site)
        await mkdir(dirname(join(root, dev.file)), { recursive: true })
        await writeFile(join(root, dev.file), dev.text)
        const server = await startDev(root, dev.command)
        servers.push(server.close)
        return { ...dev, ...server }
      }),
    )
    browser = await launchChromium()
    // Both pages at once, each in its own tab.
    const open = browser
    await Promise.all(
      started.map(async (dev) => {
        // Generated in the background from the start: the page's own new image, once.
        await expect.poll(() => gateway.generatedByPrompt.get(dev.prompt) ?? 0, { timeout: 60_000 }).toBe(1)
        const page = await open.newPage()
        const problems = watchPage(page)
        await page.goto(`${dev.origin}${dev.page}`)
        // Both images shown, loaded, pending no longer (a page may reload once as images arrive).
        let last: string[] = []
        try {
          await expect
            .poll(async () => (last = await shown(page)), { timeout: 60_000 })
            .toSatisfy(
              (now: string[]) => now.length === 2 && !now.some((s) => s === 'broken' || s.includes('/~')),
            )
        } catch (err) {
          const html = await page.content().catch(() => '')
          throw new Error(
            `${dev.page} showed ${JSON.stringify(last)}; the page saw ${JSON.stringify(problems)}\n--- page ---\n${html}\n--- server ---\n${dev.output()}`,
            { cause: err },
          )
        }
        const urls: string[] =
          await page.evaluate(`[...document.querySelectorAll('img, source')].flatMap((el) =>
          [el.getAttribute('src'), ...(el.getAttribute('srcset') ?? '').split(',').map((c) => c.trim().split(/\\s+/)[0])]
            .filter(Boolean).map((u) => new URL(u, location.href).href))`)
        // The hero's <source>s (2 widths each of AVIF, WebP) and <img> src; the body picture's 2 × 3.
        expect(new Set(urls).size, dev.page).toBe(5 + 6)
        for (const url of urls) {
          const res = await fetch(url)
          expect(res.status, url).toBe(200)
          expect(res.headers.get('content-type'), url).toMatch(/^image\/(avif|webp|jpeg|png)$/)
          const { format } = await sharp(Buffer.from(await res.arrayBuffer())).metadata()
          const named = extension(new URL(url).pathname)
          expect(format, url).toBe({ avif: 'heif', jpg: 'jpeg' }[named] ?? named)
        }
        // Another site's page asking for the same image: refused before anything is made.
        const foreign = await fetch(urls[0] ?? '', { headers: { 'Sec-Fetch-Site': 'cross-site' } })
        expect(foreign.status).toBe(403)
        expect(
          // A reload cuts requests short; the browser's own /favicon.ico (no site here has one) is
          // reported only by its console line.
          problems.filter(
            (p) => !p.includes('net::ERR_ABORTED') && !p.startsWith('console: Failed to load resource'),
          ),
          dev.page,
        ).toEqual([])
        expect(dev.output()).not.toContain(KEY)
      }),
    )
    // Nothing but the two new images was paid for: the cached ones came from the builds' cache.
    expect(gateway.requests - before).toBe(DEV_PROMPTS.length)
  })
})

it('the gateway saw one request per image of the two sites and their dev pages, and no other', () => {
  expect(gateway.requests).toBe(SVELTEKIT.prompts.length + VITEPRESS.prompts.length + DEV_PROMPTS.length)
})

// --- helpers ---------------------------------------------------------------------------------

function rootOf(site: Site): string {
  const root = roots.get(site)
  if (!root) throw new Error(`${site.fixture} was not installed`)
  return root
}

/** The site's build through its installed bin, in a user's shell: no FLUX_* variable, this Node first. */
function build(site: Site) {
  const root = rootOf(site)
  const [bin, ...args] = site.build as [string, ...string[]]
  const env = {
    PATH: [dirname(process.execPath), process.env.PATH].join(delimiter),
    HOME: process.env.HOME,
    NO_COLOR: '1',
  }
  return exec(join(root, 'node_modules', '.bin', bin), args, { cwd: root, env })
}

/** A site's dev server through its installed bin, on a free loopback port, once it says where it listens. */
async function startDev(root: string, [bin, ...args]: string[]) {
  const port = await freePort()
  const env = {
    PATH: [dirname(process.execPath), process.env.PATH].join(delimiter),
    HOME: process.env.HOME,
    NO_COLOR: '1',
  }
  const child = spawn(
    join(root, 'node_modules', '.bin', bin ?? ''),
    [...args, '--host', '127.0.0.1', '--port', String(port), '--strictPort'],
    {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const exited = new Promise<void>((done) => child.once('exit', () => done()))
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill()
    await exited
  }
  const origin = `http://127.0.0.1:${port}`
  try {
    await expect.poll(() => output, { timeout: 60_000 }).toContain(origin)
  } catch (err) {
    await close()
    throw new Error(
      `${bin} ${args.join(' ')} did not start: ${(err as Error).message}\n--- it said ---\n${output}`,
    )
  }
  return { origin, output: () => output, close }
}

/** Every HTML page of the output, by its path there. */
async function htmlPages(output: string): Promise<Record<string, string>> {
  const files = (await readdir(output, { recursive: true })).filter((f) => f.endsWith('.html')).sort()
  const pages: Record<string, string> = {}
  for (const file of files) pages[file.split('\\').join('/')] = await readFile(join(output, file), 'utf8')
  return pages
}

/** The URLs of every `<img>` and `<source>` (`src`, each `srcset` candidate), as written. */
function imageUrls(html: string): string[] {
  const urls: string[] = []
  for (const [tag] of html.matchAll(/<(?:img|source)\b[^>]*>/g)) {
    for (const [, name, value = ''] of tag.matchAll(/\s(src|srcset)="([^"]*)"/g)) {
      const decoded = value.replace(/&amp;/g, '&')
      if (name === 'src') urls.push(decoded)
      else urls.push(...decoded.split(',').map((c) => c.trim().split(/\s+/)[0] as string))
    }
  }
  return urls.filter(Boolean)
}

/** Every image file of the output, by path, as its SHA-256. */
async function imagesOf(output: string): Promise<Record<string, string>> {
  const files = (await readdir(output, { recursive: true })).filter((f) => /\.(png|jpe?g|webp|avif)$/.test(f))
  const hashes: Record<string, string> = {}
  for (const file of files.sort()) {
    const path = relative(output, join(output, file)).split('\\').join('/')
    hashes[path] = createHash('sha256')
      .update(await readFile(join(output, file)))
      .digest('hex')
  }
  return hashes
}

function extension(file: string): string {
  return file.slice(file.lastIndexOf('.') + 1)
}
