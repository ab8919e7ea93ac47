import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPlaceholderProvider } from '../../src/providers/placeholder.js'
import { createSession } from '../../src/session/index.js'
import type { Directive, Provider } from '../../src/types.js'

// Scans of the whole project and parses of a directive's text, counted.
const scans = vi.hoisted(() => ({ count: 0, parses: [] as string[] }))
vi.mock('../../src/directives/grammar/parse-directive.js', async (load) => {
  const real = await load<typeof import('../../src/directives/grammar/parse-directive.js')>()
  return {
    ...real,
    parseDirective: (text: string) => {
      scans.parses.push(text)
      return real.parseDirective(text)
    },
  }
})
vi.mock('../../src/engine/scan-project.js', async (load) => {
  const real = await load<typeof import('../../src/engine/scan-project.js')>()
  return {
    ...real,
    scanProject: (...args: Parameters<typeof real.scanProject>) => {
      scans.count++
      return real.scanProject(...args)
    },
  }
})

let root: string
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-index-'))
})
afterEach(async () => {
  // A dev session's background run may still be writing its last variants: retried until done.
  await rm(root, { recursive: true, force: true, maxRetries: 10 })
})

const quiet = { info() {}, warn() {}, error() {} }
const PAGE =
  '# Page\n\n![A harbour](flux:A harbour at dusk)\n\n![Same](<flux:A harbour at dusk?size=1536x1024>)\n'

/** The placeholder provider, counting what it is asked for. */
function counted(): Provider & { calls: number } {
  const inner = createPlaceholderProvider()
  const provider = {
    ...inner,
    calls: 0,
    generate: (...args: Parameters<Provider['generate']>) => {
      provider.calls++
      return inner.generate(...args)
    },
  }
  return provider
}

describe("the session's image index", () => {
  it('after build(): a markdown image is looked up where it is written, with its own alt: the image image() gives', async () => {
    await writeFile(join(root, 'page.md'), PAGE)
    const provider = counted()
    const session = await createSession(
      { mode: 'placeholder', logger: quiet, image: { widths: [64], maxWidth: 64 } },
      { root, env: {}, provider },
    )
    try {
      scans.count = 0
      const summary = await session.build()
      expect(summary.total).toBe(2)
      expect(provider.calls).toBe(2)
      const file = join(root, 'page.md')
      const written = (await session.directivesIn(file)) ?? []
      // Where each image is written, by offsets into the file, for a markdown host to look it up.
      expect(
        written.map((d) => [d.element && PAGE.slice(d.element.start, d.element.end), d.params.alt]),
      ).toEqual([
        ['![A harbour](flux:A harbour at dusk)', 'A harbour'],
        ['![Same](<flux:A harbour at dusk?size=1536x1024>)', 'Same'],
      ])
      const found = await session.image(written[0] as Directive, file)
      expect(found).toMatchObject({ prompt: 'A harbour at dusk', alt: 'A harbour' })
      // The same image as asked the long way, made once.
      expect(found).toEqual(
        await session.image({ prompt: 'A harbour at dusk', params: { alt: 'A harbour' } }),
      )
      expect(provider.calls).toBe(2)
      // A file no scan read: the host scans what it has.
      expect(await session.directivesIn(join(root, 'none.md'))).toBe(undefined)
      // The build's scan, with each image's status as the build left it.
      const scan = await session.scan()
      expect(scan.items.map((item) => item.status)).toEqual(['placeholder', 'placeholder'])
      expect(scans.count).toBe(1)
    } finally {
      await session.close()
    }
  })

  it('in dev: one scan at start, and directivesIn leaves it to the host, since files change under it', async () => {
    await writeFile(join(root, 'page.md'), PAGE)
    await writeFile(join(root, 'other.md'), '![Other](flux:Another prompt)\n')
    const provider = counted()
    const session = await createSession(
      { mode: 'placeholder', logger: quiet },
      { root, env: {}, command: 'dev', provider },
    )
    try {
      const file = join(root, 'page.md')
      expect(await session.directivesIn(file)).toBe(undefined)
      scans.count = 0
      expect((await session.scan()).directives).toHaveLength(3)
      // The dev server's background run starts from the session's scan.
      session.prepare()
      await expect.poll(() => provider.calls, { timeout: 60_000 }).toBe(3)
      expect(scans.count).toBe(1)
    } finally {
      await session.close()
    }
  })

  it('a frontmatter field: found in the scan by its value and path, located, nothing parsed; read from the value only where no scan saw it', async () => {
    const post = (hero: string, size: string) =>
      `---\ntitle: A post\nheroImage: "${hero}"\ncover:\n  flux: A heron\n  size: ${size}\n  ref: ./sketch.png\nshared: { flux: A fox, ref: ./sketch.png }\n---\n`
    await mkdir(join(root, 'blog'))
    await mkdir(join(root, 'notes'))
    await writeFile(join(root, 'blog/a.md'), post('flux: A kite?size=1344x768', '1536x1024'))
    await writeFile(join(root, 'notes/b.md'), post('flux: A gull', '1024x1024'))
    // Each post's own reference image: the same `ref` text, two different files.
    await writeFile(join(root, 'blog/sketch.png'), 'blog')
    await writeFile(join(root, 'notes/sketch.png'), 'notes')
    const session = await createSession({ mode: 'placeholder', logger: quiet }, { root, env: {} })
    try {
      scans.count = 0
      expect((await session.scan()).errors).toEqual([])
      scans.parses.length = 0
      // As Astro's YAML parse gives the values: a string, an object.
      const hero = await session.fieldDirective('flux: A kite?size=1344x768', ['heroImage'])
      expect(hero).toMatchObject({ prompt: 'A kite', location: { file: 'blog/a.md', line: 3, column: 12 } })
      const cover = await session.fieldDirective(
        { flux: 'A heron', size: '1536x1024', ref: './sketch.png' },
        ['cover'],
      )
      expect(cover).toMatchObject({ params: { size: '1536x1024' }, location: { file: 'blog/a.md', line: 5 } })
      // Located: its `ref` is read beside its own post, as the build read it.
      expect(await session.flux.status(cover as Directive)).toBe('missing')
      // By value alone (a field typed fluxImage() knows no path): the same directive.
      expect(await session.fieldDirective('flux: A gull')).toMatchObject({ location: { file: 'notes/b.md' } })
      expect(scans.parses).toEqual([])
      // No scanned field holds it (another path, a schema's default): read from the value.
      expect(await session.fieldDirective('flux: A kite?size=1344x768', ['og'])).toEqual({
        prompt: 'A kite',
        params: { size: '1344x768' },
      })
      expect(await session.fieldDirective({ flux: 'A default' }, ['og'])).toEqual({
        prompt: 'A default',
        params: {},
      })
      // Two posts' fields written alike whose references differ: no one of them is the answer.
      expect(await session.fieldDirective({ flux: 'A fox', ref: './sketch.png' }, ['shared'])).toEqual({
        prompt: 'A fox',
        params: { ref: './sketch.png' },
      })
      expect(scans.parses).toEqual(['flux: A kite?size=1344x768', 'flux:A default', 'flux:A fox'])
      expect(await session.fieldDirective('./local.png', ['heroImage'])).toBeUndefined()
      expect(scans.count).toBe(1)
    } finally {
      await session.close()
    }
  })
})
