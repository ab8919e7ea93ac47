import fs from 'node:fs'
import { cp, mkdir, mkdtemp, readdir } from 'node:fs/promises'
import { syncBuiltinESMExports } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { unified } from '@astrojs/markdown-remark'
import mdx from '@astrojs/mdx'
import { flux } from '@flux-images/astro'
import { build } from 'astro'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { removeSites } from './helpers/astro-content-store.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

/**
 * How often one image is worked out in a real `astro build`: scans of its file, parses of its
 * directive (and of the frontmatter holding it), reads of its file by our code, and verifications
 * of its cache entry. Counted by wrapping core's scanner, grammar and YAML parser as the
 * integration loads them, the grammar again in every copy Astro's Vite loads (the content
 * config's schema runs in Astro's module runner, with a core of its own), and Node's file reads
 * (ours told from Astro's by the caller's path).
 */

const counts = vi.hoisted(() => ({
  scans: new Map<string, number>(),
  parses: [] as string[],
  yaml: [] as string[],
}))
const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1)

// Astro's Vite loads core's grammar again (the content config's module runner, the pages' bundle):
// each copy it transforms counts its parses into the same list.
const PARSES = Symbol.for('flux-walks.parses')
;(globalThis as { [PARSES]?: string[] })[PARSES] = counts.parses
const countParses = {
  name: 'flux-walks-count-parses',
  transform(code: string, id: string) {
    if (!/[/\\]core[/\\]dist[/\\]directives[/\\]grammar[/\\]parse-directive\.js$/.test(id)) return undefined
    const uncounted = code.replace('export function parseDirective(', 'function uncountedParseDirective(')
    return `${uncounted}\nexport function parseDirective(text, ...rest) {\n  globalThis[Symbol.for('flux-walks.parses')].push(text)\n  return uncountedParseDirective(text, ...rest)\n}\n`
  },
}

vi.mock('../packages/core/dist/directives/scan-source.js', async (load) => {
  const real = await load<typeof import('../packages/core/dist/directives/scan-source.js')>()
  return {
    ...real,
    scanSource: (file: string, text: string, ...rest: []) => {
      bump(counts.scans, file)
      return real.scanSource(file, text, ...rest)
    },
  }
})
vi.mock('../packages/core/dist/directives/grammar/parse-directive.js', async (load) => {
  const real = await load<typeof import('../packages/core/dist/directives/grammar/parse-directive.js')>()
  return {
    ...real,
    parseDirective: (text: string, ...rest: []) => {
      counts.parses.push(text)
      return real.parseDirective(text, ...rest)
    },
  }
})
vi.mock('../packages/core/dist/directives/frontmatter/scan-frontmatter.js', async (load) => {
  const real = await load<typeof import('../packages/core/dist/directives/frontmatter/scan-frontmatter.js')>()
  type Range = Parameters<typeof real.scanFrontmatterRange>
  return {
    ...real,
    scanFrontmatter: (text: string, file: string) => {
      counts.yaml.push(text)
      return real.scanFrontmatter(text, file)
    },
    scanFrontmatterRange: (ctx: Range[0], range: Range[1]) => {
      counts.yaml.push(ctx.text.slice(range.contentStart, range.contentEnd))
      return real.scanFrontmatterRange(ctx, range)
    },
  }
})

const FIXTURE = fileURLToPath(new URL('./fixtures/astro-walks', import.meta.url))
// Inside the repository, so that the copy resolves astro and the integration from test/node_modules.
const TMP = fileURLToPath(new URL('./.tmp', import.meta.url))
const KEY = 'sk-flux-astro-walks-5e21'
const IMAGE = { widths: [160], maxWidth: 320 }
// Our packages, as a caller's frame names them (built or source).
const OURS = /[/\\]packages[/\\](core|astro|vite)[/\\]/

/** Every read of a file, by path: all of them, and ours. */
const reads = { all: new Map<string, number>(), ours: new Map<string, number>() }
const recordRead = (path: unknown) => {
  const name = path instanceof URL ? fileURLToPath(path) : String(path)
  bump(reads.all, name)
  if (OURS.test(new Error().stack?.split('\n').slice(2).join('\n') ?? '')) bump(reads.ours, name)
}
const realReadFile = fs.promises.readFile
const realReadFileSync = fs.readFileSync

let gateway: MockGateway
let temp = ''

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
  await mkdir(TMP, { recursive: true })
  temp = await mkdtemp(join(TMP, 'astro-walks-'))
  fs.promises.readFile = ((path: fs.PathLike, ...rest: []) => {
    recordRead(path)
    return realReadFile(path, ...rest)
  }) as typeof fs.promises.readFile
  fs.readFileSync = ((path: fs.PathLike, ...rest: []) => {
    recordRead(path)
    return realReadFileSync(path, ...rest)
  }) as typeof fs.readFileSync
  syncBuiltinESMExports()
})
afterAll(async () => {
  fs.promises.readFile = realReadFile
  fs.readFileSync = realReadFileSync
  syncBuiltinESMExports()
  await gateway?.close()
  if (temp) await removeSites([temp])
})

/** A cold build of a fresh copy of the fixture (warm: again, of the last copy); its counts per image. */
async function walks(name: string, processor?: 'unified', warm = false) {
  const root = join(temp, name)
  if (!warm) await cp(FIXTURE, root, { recursive: true })
  counts.scans.clear()
  counts.parses.length = 0
  counts.yaml.length = 0
  reads.all.clear()
  reads.ours.clear()
  gateway.reset()
  await build({
    root,
    logLevel: 'error',
    ...(processor && { markdown: { processor: unified() } }),
    vite: { plugins: [countParses] },
    integrations: [mdx(), flux({ apiKey: KEY, baseURL: gateway.url, image: IMAGE })],
  })
  expect(gateway.requests).toBe(warm ? 0 : 3)
  const originals = join(root, '.flux-cache', 'originals')
  const keys = new Map<string, string>()
  for (const name of await readdir(originals)) {
    if (!name.endsWith('.json')) continue
    const meta = JSON.parse(await realReadFile(join(originals, name), 'utf8')) as {
      request: { prompt: string }
    }
    keys.set(meta.request.prompt, name)
  }
  const posts = join(root, 'src', 'content', 'posts')
  return (file: string, prompt: string) => {
    const meta = join(originals, keys.get(prompt) ?? 'none')
    return {
      scans: counts.scans.get(`src/content/posts/${file}`) ?? 0,
      parses: counts.parses.filter((text) => text.includes(prompt) || text.includes(encodeURI(prompt)))
        .length,
      yamlParses: counts.yaml.filter((text) => text.includes(prompt)).length,
      readsByUs: reads.ours.get(join(posts, file)) ?? 0,
      verifications: reads.all.get(meta) ?? 0,
    }
  }
}

// Per image, in one cold build: the session's one scan reads its file once and parses its
// directive once; the markdown plugins (core's markdownImages) find the image by its offsets among
// the directives the index holds for the file, the typed-anyway form `![alt](flux:a prompt)`
// included (no paragraph rewritten and parsed again, no URL parsed, nothing keyed or verified by
// the plugins). Verifications are reads of the entry's metadata: the disk cache remembers what it
// verified or wrote while both files keep their identity (stats, no read), so a cold build, which
// writes each entry, reads none, and a warm build reads each once.
// Before the index: .md under Sätteri 2 scans, 6 parses, 2 reads, 7 verifications; MDX 3, 7, 2,
// 7; the hero 2, 2 (+ 2 YAML parses), 2, 8; .md under unified 2, 5, 2, 7. With the index, before
// markdown moved to core: parses 3 for .md under Sätteri, MDX and unified. Before the disk cache
// remembered entries: verifications 4 per markdown image and 6 for the hero cold, 2 each warm.
// Before the schema looked its fields up in the index: the hero 3 parses (the schema's 2, in
// Astro's module runner, uncounted then).
describe('the walks of one image through an astro build', () => {
  it('Sätteri (.md and MDX) and an image() hero: one scan, one read and one parse of each', async () => {
    const count = await walks('satteri')
    const once = { scans: 1, readsByUs: 1, yamlParses: 0 }
    expect(count('kite.md', 'A red kite over green hills')).toEqual({ ...once, parses: 1, verifications: 0 })
    expect(count('lake.mdx', 'A quiet lake at dawn')).toEqual({ ...once, parses: 1, verifications: 0 })
    expect(count('hero.md', 'A lighthouse on a cliff')).toEqual({
      ...once,
      parses: 1,
      yamlParses: 1,
      verifications: 0,
    })
  })

  it('unified (.md): one scan, one read and one parse', async () => {
    const count = await walks('unified', 'unified')
    expect(count('kite.md', 'A red kite over green hills')).toEqual({
      scans: 1,
      readsByUs: 1,
      yamlParses: 0,
      parses: 1,
      verifications: 0,
    })
  })

  it('a warm build of the same copy: each entry verified once, nothing requested', async () => {
    const count = await walks('satteri', undefined, true)
    expect(count('kite.md', 'A red kite over green hills').verifications).toBe(1)
    expect(count('lake.mdx', 'A quiet lake at dawn').verifications).toBe(1)
    expect(count('hero.md', 'A lighthouse on a cliff').verifications).toBe(1)
  })
})
