import { existsSync } from 'node:fs'
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  exec,
  floorOf,
  type PackageName,
  packedManifest,
  packTarballs,
  pnpm,
  REPO,
  userEnv,
} from '../helpers/packed.js'
import { createMockGateway, type MockGateway } from '../mock-gateway/index.js'

// Every supported host major, built from the packed tarballs in a project outside the workspace
// against the mock gateway: Astro 5, 6 and 7 (a markdown page with a frontmatter hero and a body
// image, a `flux:` import), plain Vite 6, 7 and 8 (an import and an HTML image), each at the floor
// of its range in our peerDependencies (so the floors we declare are the ones we build) and at the
// newest release of the major. `pnpm matrix` runs it all; FLUX_MATRIX=newest keeps the newest of
// each major, FLUX_MATRIX_HOSTS=astro5,vite6 some majors (.ci/run builds those the rest of the
// suite does not).

const KEY = 'sk-flux-matrix-2b7e41-DO-NOT-LEAK'
// A guard against a hung install or build, not a speed check.
const TIMEOUT = 300_000

type Adapter = Extract<PackageName, 'astro' | 'vite'>
const MAJORS: Record<Adapter, number[]> = { astro: [5, 6, 7], vite: [6, 7, 8] }
// The major before each range (VitePress 1 is on Vite 5): refused at config time, naming the version.
const OUTSIDE: Record<Adapter, number> = { astro: 4, vite: 5 }
// The @astrojs/mdx major of each Astro major's floor and newest release (mdx 6 wants Astro 6.4).
const MDX: Record<number, { floor: number; newest: number }> = {
  4: { floor: 3, newest: 3 },
  5: { floor: 4, newest: 4 },
  6: { floor: 5, newest: 6 },
  7: { floor: 7, newest: 8 },
}
const ENDS = process.env.FLUX_MATRIX === 'newest' ? (['newest'] as const) : (['floor', 'newest'] as const)
const ONLY = process.env.FLUX_MATRIX_HOSTS?.split(',').map((h) => h.trim())

const FIXTURES = {
  astro: {
    build: 'astro build',
    // The fox is imported, the lighthouse a frontmatter hero, the harbour in a markdown body, the
    // lantern in an MDX body.
    prompts: [
      'A red fox standing in fresh snow',
      'A lighthouse at dawn, watercolor',
      'A neon-lit harbour at night, rain reflections',
      'A paper lantern glowing at dusk',
    ],
    // One <picture> each: the import and the hero through <FluxImage>, the body images by the markdown plugins.
    pictures: 4,
  },
  vite: {
    build: 'vite build',
    prompts: ['A paper boat on a rainy street puddle', 'A red kite over sand dunes, blue sky'],
    // index.html's image; the kite is rendered by the script, from its import's URLs.
    pictures: 1,
  },
}

interface Site {
  adapter: Adapter
  major: number
  end: 'floor' | 'newest' | 'outside'
  /** What the package.json asks for: the floor of our range, or the newest of the major. */
  range: string
  root: string
  gateway: MockGateway
  /** The version installed, and the figures for the closing table. */
  version?: string
  mdx?: string
  figures: { requests?: number; files?: number; coldMs?: number; warmMs?: number; installMs?: number }
}

const SITES = (Object.keys(MAJORS) as Adapter[])
  .flatMap((adapter) => MAJORS[adapter].map((major) => ({ adapter, major })))
  .filter(({ adapter, major }) => !ONLY || ONLY.includes(`${adapter}${major}`))
  .flatMap((host) => ENDS.map((end): Pick<Site, 'adapter' | 'major' | 'end'> => ({ ...host, end })))
const REFUSED = (Object.keys(OUTSIDE) as Adapter[])
  .map((adapter) => ({ adapter, major: OUTSIDE[adapter], end: 'outside' as const }))
  .filter(({ adapter, major }) => !ONLY || ONLY.includes(`${adapter}${major}`))
const sites: Site[] = []
let work: string

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flux-matrix-'))
  const tarballs = await packTarballs(join(work, 'packs'))
  for (const { adapter, major, end } of [...SITES, ...REFUSED]) {
    const range = end === 'floor' ? floorOf(adapter, adapter, major) : `^${major}.0.0`
    const dependencies = { [adapter]: range }
    if (adapter === 'astro') {
      const mdx = MDX[major]?.[end === 'floor' ? 'floor' : 'newest'] as number
      dependencies['@astrojs/mdx'] = end === 'floor' ? floorOf('astro', '@astrojs/mdx', mdx) : `^${mdx}.0.0`
    }
    const root = join(work, `${adapter}${major}-${end}`)
    const gateway = await createMockGateway({ apiKey: KEY })
    await cp(fileURLToPath(new URL(adapter, import.meta.url)), root, { recursive: true })
    const manifest = packedManifest(
      `flux-matrix-${adapter}`,
      tarballs,
      dependencies,
      [adapter],
      FIXTURES[adapter].build,
    )
    await writeFile(join(root, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
    await writeFile(join(root, '.env'), `FLUX_API_KEY=${KEY}\nFLUX_BASE_URL=${gateway.url}\n`)
    sites.push({ adapter, major, end, range, root, gateway, figures: {} })
  }
  // The installs at once: they share pnpm's store, and mostly wait on the registry.
  await Promise.all(
    sites.map(async (site) => {
      const start = performance.now()
      await pnpm(['install', '--prefer-offline', '--reporter=append-only', '--no-frozen-lockfile'], site.root)
      site.figures.installMs = performance.now() - start
      const installed = join(site.root, 'node_modules', site.adapter, 'package.json')
      site.version = JSON.parse(await readFile(installed, 'utf8')).version
      const mdx = join(site.root, 'node_modules', '@astrojs', 'mdx', 'package.json')
      if (existsSync(mdx)) site.mdx = JSON.parse(await readFile(mdx, 'utf8')).version
    }),
  )
}, 600_000)

afterAll(async () => {
  const rows = sites.map(
    ({ adapter, end, version, mdx, figures: f }) =>
      `${adapter} ${version}${mdx ? ` with @astrojs/mdx ${mdx}` : ''} (${end}): ` +
      (end === 'outside'
        ? `refused in ${seconds(f.coldMs)}`
        : `${f.requests} requests, ${f.files} image files, cold build ${seconds(f.coldMs)}, warm ${seconds(f.warmMs)}`) +
      ` (install ${seconds(f.installMs)})`,
  )
  console.log(`[matrix]\n${rows.join('\n')}`)
  await Promise.all(sites.map((site) => site.gateway.close()))
  if (work) await rm(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
}, 60_000)

describe.each(SITES)('$adapter $major ($end)', ({ adapter, major, end }) => {
  const site = () => {
    const found = sites.find((s) => s.adapter === adapter && s.major === major && s.end === end)
    if (!found) throw new Error(`${adapter} ${major} (${end}) was not installed`)
    return found
  }

  it(
    'builds from the tarballs: one request per prompt, every <img> and <source> a file of dist',
    async () => {
      const { root, gateway, figures } = site()
      const fixture = FIXTURES[adapter]
      const start = performance.now()
      const run = await build(root)
      figures.coldMs = performance.now() - start
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(gateway.requests).toBe(fixture.prompts.length)
      for (const prompt of fixture.prompts) expect(gateway.requestsByPrompt.get(prompt), prompt).toBe(1)
      figures.requests = gateway.requests

      const dist = join(root, 'dist')
      const { html, urls } = await outputOf(dist)
      expect(html).not.toContain('flux:')
      expect(html.match(/<picture/g)?.length ?? 0).toBe(fixture.pictures)
      const missing = urls.filter((url) => !existsSync(join(dist, decodeURIComponent(url))))
      expect(missing).toEqual([])
      // The Vite app's script renders the kite from its import: its URL is a file too.
      const images = urls.filter((url) => url.includes('/_flux/'))
      if (adapter === 'vite') expect(await bundleUrls(dist)).not.toEqual([])
      figures.files = new Set(images).size
    },
    TIMEOUT,
  )

  it(
    'a warm rebuild sends 0 requests and writes the same images',
    async () => {
      const { root, gateway, figures } = site()
      const dist = join(root, 'dist')
      const before = (await outputOf(dist)).urls
      const start = performance.now()
      const run = await build(root)
      figures.warmMs = performance.now() - start
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(gateway.requests).toBe(FIXTURES[adapter].prompts.length)
      expect((await outputOf(dist)).urls).toEqual(before)
    },
    TIMEOUT,
  )
})

describe.each(REFUSED)('$adapter $major, outside our range', ({ adapter, major }) => {
  it(
    'fails at config time with one error naming the version found and the range, and sends nothing',
    async () => {
      const site = sites.find((s) => s.adapter === adapter && s.major === major)
      if (!site) throw new Error(`${adapter} ${major} was not installed`)
      const { peerDependencies } = JSON.parse(
        await readFile(join(REPO, 'packages', adapter, 'package.json'), 'utf8'),
      )
      const start = performance.now()
      const run = await build(site.root)
      site.figures.coldMs = performance.now() - start
      const output = run.stdout + run.stderr
      expect(run.code).not.toBe(0)
      expect(output).toContain(
        `@flux-images/${adapter} supports ${adapter} ${peerDependencies[adapter]}; this project runs ${adapter} ${site.version}.`,
      )
      expect(output).toContain(`npm install ${adapter}@^${Math.max(...MAJORS[adapter])}`)
      // Nothing later: no scan, no markdown warning, no request, no cache.
      expect(output.match(/\[flux\]/g)?.length ?? 0, output).toBe(1)
      expect(output).not.toContain('Markdown processor')
      expect(site.gateway.requests).toBe(0)
      expect(existsSync(join(site.root, '.flux-cache'))).toBe(false)
    },
    TIMEOUT,
  )
})

// --- helpers ---------------------------------------------------------------------------------

function build(root: string) {
  return exec('pnpm', ['run', '--silent', 'build'], { cwd: root, env: userEnv() })
}

/** Every page of the output, and every URL its `<img>` and `<source>` elements name (src, srcset). */
async function outputOf(dist: string): Promise<{ html: string; urls: string[] }> {
  const pages = (await readdir(dist, { recursive: true })).filter((f) => f.endsWith('.html')).sort()
  expect(pages.length).toBeGreaterThan(0)
  const html = (await Promise.all(pages.map((p) => readFile(join(dist, p), 'utf8')))).join('\n')
  const urls: string[] = []
  for (const [tag] of html.matchAll(/<(?:img|source)\b[^>]*>/g)) {
    for (const [, name, value] of tag.matchAll(/\s(src|srcset)="([^"]*)"/g)) {
      const candidates = name === 'srcset' ? (value ?? '').split(',') : [value ?? '']
      for (const candidate of candidates) {
        const url = candidate.trim().split(/\s+/)[0] ?? ''
        if (!url.startsWith('data:')) urls.push(new URL(url, 'https://example.com/').pathname)
      }
    }
  }
  expect(urls.length).toBeGreaterThan(0)
  return { html, urls: urls.sort() }
}

/** The `_flux/` URLs the scripts of the output name, each checked to be a file of dist. */
async function bundleUrls(dist: string): Promise<string[]> {
  const scripts = (await readdir(dist, { recursive: true })).filter((f) => f.endsWith('.js'))
  const urls: string[] = []
  for (const script of scripts) {
    for (const [url] of (await readFile(join(dist, script), 'utf8')).matchAll(/\/[\w/]*_flux\/[\w.-]+/g)) {
      expect(existsSync(join(dist, url)), `${script} names ${url}`).toBe(true)
      urls.push(url)
    }
  }
  return urls
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`
}
