import { existsSync } from 'node:fs'
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
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
import { SVELTEKIT_PROMPTS } from '../helpers/sveltekit-prompts.js'
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

/** What a site is built from and what its output must hold. */
interface Fixture {
  /** Its files: a folder of test/ (copied, then `overlay` over it). */
  dir: string
  overlay?: string
  build: string
  /** Where the build writes the site. */
  output: string
  /** Each distinct prompt: one request each. */
  prompts: string[]
  /** `<picture>` elements over all pages. */
  pictures: number
  /** The distinct files the pages' `<img>`, `<source>` and og:image name. */
  files: number
  /** `<img>` elements per page, when the fixture says. */
  imgs?: Record<string, number>
  /** Text some pages must hold (markup the site's own plugins make). */
  text?: Record<string, string>
  /** The size of the og:image of some pages (every page's og:image is checked to be a file). */
  og?: Record<string, [number, number]>
}

const FIXTURES: Record<Adapter, Fixture> = {
  astro: {
    dir: 'matrix/astro',
    build: 'astro build',
    output: 'dist',
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
    // Two widths in three formats each.
    files: 24,
  },
  vite: {
    dir: 'matrix/vite',
    build: 'vite build',
    output: 'dist',
    prompts: ['A paper boat on a rainy street puddle', 'A red kite over sand dunes, blue sky'],
    // index.html's image; the kite is rendered by the script, from its import's URLs.
    pictures: 1,
    files: 6,
  },
}

// AstroPaper, the most used Astro blog theme, as its users have it (test/fixtures/astro-paper:
// its content config under fluxSchema(), `ogImage: image().or(z.string())` holding a directive in
// both forms, heroes and a gallery through <Image>, body images), at its Astro 5 release (its
// dependency range `astro ^5.9.0`, its markdown set-up: remark-toc, remark-collapse, Shiki themes,
// the sitemap) and on Astro 7.
const PAPER: Fixture = {
  dir: 'fixtures/astro-paper',
  build: 'astro build',
  output: 'dist',
  // The lighthouse (ogImage and hero), the beam (body), the harbour (ogImage's object form, hero
  // and body), the kite and the heron (gallery).
  prompts: [
    'A lighthouse on a cliff at dawn, watercolor',
    'A lighthouse beam sweeping over a dark sea',
    'A neon-lit harbour at night, rain reflections',
    'A red kite over a field',
    'A grey heron in a reed bed',
  ],
  // The body images; heroes and the gallery are Astro's <Image>.
  pictures: 2,
  // Astro's <Image>s (2 heroes on the home page, 2 on their posts, 2 gallery images), the 2 body
  // images' 6 each, the 2 generated og images (originals), the site's og image and forest.jpg.
  files: 22,
  imgs: {
    'index.html': 2,
    'posts/birds/index.html': 2,
    'posts/forest-walk/index.html': 0,
    'posts/harbour-at-night/index.html': 2,
    'posts/lighthouse-notes/index.html': 2,
  },
  // ogImage's two forms: Astro's image of the original.
  og: { 'posts/lighthouse-notes/index.html': [1536, 1024], 'posts/harbour-at-night/index.html': [1344, 768] },
}

// The SvelteKit site of test/frameworks.test.ts (built there on SvelteKit 3 and Vite 8) on
// SvelteKit 2 and Vite 7: a Svelte component importing `flux:`, mdsvex pages (.svx, .md) with body
// directives.
const SVELTEKIT: Fixture = {
  dir: 'fixtures/install-sveltekit',
  build: 'vite build',
  output: 'build',
  prompts: SVELTEKIT_PROMPTS,
  // The component's import; the .svx page's two images; the .md page's three.
  pictures: 6,
  // Six per body image; the component's <img> has no srcset, so its 160w JPEG is not named.
  files: 29,
}

/** A site the matrix builds: a host major at an end of its range, or an app at its own versions. */
interface Host {
  /** What FLUX_MATRIX_HOSTS selects it by: `astro5`, `vite7`, `astro-paper5`. */
  name: string
  adapter: Adapter
  major: number
  end: 'floor' | 'newest' | 'outside'
  fixture: Fixture
  /** The dependencies besides ours; a host's are worked out from its major and end. */
  dependencies?: Record<string, string>
}

const APPS: Host[] = [
  {
    name: 'sveltekit2',
    adapter: 'vite',
    major: 7,
    end: 'newest',
    fixture: SVELTEKIT,
    dependencies: {
      '@sveltejs/adapter-static': '^3.0.11',
      '@sveltejs/kit': '^2.70.4',
      '@sveltejs/vite-plugin-svelte': '^6.2.3',
      mdsvex: '^0.12.8',
      svelte: '^5.60.1',
      vite: '^7.0.0',
    },
  },
  {
    name: 'astro-paper5',
    adapter: 'astro',
    major: 5,
    end: 'newest',
    // remark-toc ran with our remark plugin: the table of contents links the post's heading.
    fixture: {
      ...PAPER,
      overlay: 'matrix/astro-paper5',
      text: { 'posts/lighthouse-notes/index.html': 'href="#the-beam"' },
    },
    dependencies: {
      astro: '^5.9.0',
      '@astrojs/sitemap': '^3.4.1',
      'remark-collapse': '^0.1.2',
      'remark-toc': '^9.0.0',
      sharp: '^0.33.5',
    },
  },
  {
    name: 'astro-paper7',
    adapter: 'astro',
    major: 7,
    end: 'newest',
    fixture: PAPER,
    dependencies: { astro: '^7.0.0' },
  },
]

interface Site extends Host {
  /** What the package.json asks for: the floor of our range, or the newest of the major. */
  range: string
  root: string
  gateway: MockGateway
  /** The version installed, and the figures for the closing table. */
  version?: string
  /** The framework or integration it runs with, and its version: `@astrojs/mdx 4.3.14`. */
  with?: string
  figures: { requests?: number; files?: number; coldMs?: number; warmMs?: number; installMs?: number }
}

const selected = ({ name }: Host) => !ONLY || ONLY.includes(name)
const SITES = [
  ...(Object.keys(MAJORS) as Adapter[])
    .flatMap((adapter) => MAJORS[adapter].map((major) => ({ adapter, major })))
    .flatMap(({ adapter, major }) =>
      ENDS.map(
        (end): Host => ({ name: `${adapter}${major}`, adapter, major, end, fixture: FIXTURES[adapter] }),
      ),
    ),
  ...APPS,
].filter(selected)
const REFUSED = (Object.keys(OUTSIDE) as Adapter[])
  .map((adapter): Host => {
    const major = OUTSIDE[adapter]
    return { name: `${adapter}${major}`, adapter, major, end: 'outside', fixture: FIXTURES[adapter] }
  })
  .filter(selected)
const sites: Site[] = []
let work: string

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flux-matrix-'))
  const tarballs = await packTarballs(join(work, 'packs'))
  for (const host of [...SITES, ...REFUSED]) {
    const { name, adapter, major, end, fixture } = host
    const range = end === 'floor' ? floorOf(adapter, adapter, major) : `^${major}.0.0`
    let dependencies = host.dependencies ?? { [adapter]: range }
    if (adapter === 'astro' && !host.dependencies) {
      const mdx = MDX[major]?.[end === 'floor' ? 'floor' : 'newest'] as number
      dependencies = {
        ...dependencies,
        '@astrojs/mdx': end === 'floor' ? floorOf('astro', '@astrojs/mdx', mdx) : `^${mdx}.0.0`,
      }
    }
    const root = join(work, `${name}-${end}`)
    const gateway = await createMockGateway({ apiKey: KEY })
    for (const dir of [fixture.dir, fixture.overlay ?? []].flat())
      await cp(fileURLToPath(new URL(`../${dir}`, import.meta.url)), root, { recursive: true })
    const manifest = packedManifest(`flux-matrix-${name}`, tarballs, dependencies, [adapter], fixture.build)
    await writeFile(join(root, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
    await writeFile(join(root, '.env'), `FLUX_API_KEY=${KEY}\nFLUX_BASE_URL=${gateway.url}\n`)
    sites.push({ ...host, range: dependencies[adapter] ?? range, root, gateway, figures: {} })
  }
  // The installs at once: they share pnpm's store, and mostly wait on the registry.
  await Promise.all(
    sites.map(async (site) => {
      const start = performance.now()
      await pnpm(['install', '--prefer-offline', '--reporter=append-only', '--no-frozen-lockfile'], site.root)
      site.figures.installMs = performance.now() - start
      const installed = join(site.root, 'node_modules', site.adapter, 'package.json')
      site.version = JSON.parse(await readFile(installed, 'utf8')).version
      for (const name of ['@astrojs/mdx', '@sveltejs/kit']) {
        const manifest = join(site.root, 'node_modules', name, 'package.json')
        if (existsSync(manifest))
          site.with = `${name} ${JSON.parse(await readFile(manifest, 'utf8')).version}`
      }
    }),
  )
}, 600_000)

afterAll(async () => {
  const rows = sites.map(
    ({ name, adapter, end, version, with: other, figures: f }) =>
      `${name}: ${adapter} ${version}${other ? ` with ${other}` : ''} (${end}): ` +
      (end === 'outside'
        ? `refused in ${seconds(f.coldMs)}`
        : `${f.requests} requests, ${f.files} image files, cold build ${seconds(f.coldMs)}, warm ${seconds(f.warmMs)}`) +
      ` (install ${seconds(f.installMs)})`,
  )
  console.log(`[matrix]\n${rows.join('\n')}`)
  await Promise.all(sites.map((site) => site.gateway.close()))
  if (work) await rm(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
}, 60_000)

function siteOf({ name, end }: Host): Site {
  const found = sites.find((s) => s.name === name && s.end === end)
  if (!found) throw new Error(`${name} (${end}) was not installed`)
  return found
}

describe.each(SITES)('$name ($end)', (host) => {
  it(
    'builds from the tarballs: one request per prompt, every <img> and <source> a file of the output',
    async () => {
      const { root, gateway, figures, fixture, adapter } = siteOf(host)
      const start = performance.now()
      const run = await build(root)
      figures.coldMs = performance.now() - start
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(run.stdout + run.stderr).not.toContain(KEY)
      // Astro 5's markdown goes through markdown.remarkPlugins, without a warning about the processor.
      expect(run.stdout + run.stderr).not.toContain('Markdown processor')
      expect(gateway.requests).toBe(fixture.prompts.length)
      for (const prompt of fixture.prompts) expect(gateway.requestsByPrompt.get(prompt), prompt).toBe(1)
      figures.requests = gateway.requests

      const output = join(root, fixture.output)
      const { pages, urls } = await outputOf(output)
      const html = Object.values(pages).join('\n')
      expect(html).not.toContain('flux:')
      expect(html.match(/<picture[\s>]/g)?.length ?? 0).toBe(fixture.pictures)
      if (fixture.imgs) {
        const imgs = Object.entries(pages).map(([page, text]) => [page, text.match(/<img\s/g)?.length ?? 0])
        expect(Object.fromEntries(imgs)).toEqual(fixture.imgs)
      }
      const missing = urls.filter((url) => !existsSync(join(output, url)))
      expect(missing).toEqual([])
      for (const [page, text] of Object.entries(fixture.text ?? {})) expect(pages[page], page).toContain(text)
      for (const [page, size] of Object.entries(fixture.og ?? {})) {
        const og = /<meta property="og:image" content="([^"]*)"/.exec(pages[page] ?? '')?.[1] ?? ''
        const { width, height } = await sharp(join(output, new URL(og).pathname)).metadata()
        expect([width, height], page).toEqual(size)
      }
      // The Vite app's script renders the kite from its import: its URL is a file too.
      if (adapter === 'vite' && fixture === FIXTURES.vite) expect(await bundleUrls(output)).not.toEqual([])
      figures.files = new Set(urls).size
      expect(figures.files).toBe(fixture.files)
    },
    TIMEOUT,
  )

  it(
    'a warm rebuild sends 0 requests and writes the same images',
    async () => {
      const { root, gateway, figures, fixture } = siteOf(host)
      const output = join(root, fixture.output)
      const before = (await outputOf(output)).urls
      const start = performance.now()
      const run = await build(root)
      figures.warmMs = performance.now() - start
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(gateway.requests).toBe(fixture.prompts.length)
      expect((await outputOf(output)).urls).toEqual(before)
    },
    TIMEOUT,
  )
})

describe.each(REFUSED)('$name, outside our range', (host) => {
  it(
    'fails at config time with one error naming the version found and the range, and sends nothing',
    async () => {
      const site = siteOf(host)
      const { adapter } = site
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

/**
 * Every page of the output by its path, and every file its `<img>` and `<source>` elements (src,
 * srcset) and og:image name, resolved from the page: paths in the output, sorted.
 */
async function outputOf(output: string): Promise<{ pages: Record<string, string>; urls: string[] }> {
  const files = (await readdir(output, { recursive: true })).filter((f) => f.endsWith('.html')).sort()
  expect(files.length).toBeGreaterThan(0)
  const pages: Record<string, string> = {}
  const urls: string[] = []
  for (const file of files) {
    const page = file.split('\\').join('/')
    const html = await readFile(join(output, file), 'utf8')
    pages[page] = html
    const named: string[] = []
    for (const [tag] of html.matchAll(/<(?:img|source)\b[^>]*>/g)) {
      for (const [, name, value = ''] of tag.matchAll(/\s(src|srcset)="([^"]*)"/g)) {
        const candidates = name === 'srcset' ? value.split(',') : [value]
        named.push(...candidates.map((candidate) => candidate.trim().split(/\s+/)[0] ?? ''))
      }
    }
    for (const [, og = ''] of html.matchAll(/<meta property="og:image" content="([^"]*)"/g)) named.push(og)
    for (const url of named.filter((u) => u && !u.startsWith('data:'))) {
      // Absolute URLs name the site's own origin (AstroPaper's og:image): their path is the file.
      const { pathname } = new URL(url.replaceAll('&amp;', '&'), `https://example.com/${page}`)
      urls.push(decodeURIComponent(pathname))
    }
  }
  expect(urls.length).toBeGreaterThan(0)
  return { pages, urls: urls.sort() }
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
