import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPlaceholderProvider } from '../../src/providers/placeholder.js'
import { createSession } from '../../src/session/index.js'
import type { Directive, Provider } from '../../src/types.js'

// Scans of the whole project, counted.
const scans = vi.hoisted(() => ({ count: 0 }))
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
})
