import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createPlaceholderProvider } from '../../src/providers/placeholder.js'
import { createSession } from '../../src/session/index.js'
import type { Provider } from '../../src/types.js'

let root: string
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-index-'))
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
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
      const summary = await session.build()
      expect(summary.total).toBe(2)
      expect(provider.calls).toBe(2)
      const file = join(root, 'page.md')
      const found = await session.imageAt(file, {
        source: '![A harbour](flux:A harbour at dusk)',
        alt: 'A harbour',
      })
      expect(found).toMatchObject({ prompt: 'A harbour at dusk', alt: 'A harbour' })
      // The same image as asked the long way, made once.
      expect(found).toEqual(
        await session.image({ prompt: 'A harbour at dusk', params: { alt: 'A harbour' } }),
      )
      expect(provider.calls).toBe(2)
      // What no scan found, and an alt the parser reads otherwise than the scanner: the host works it out.
      expect(await session.imageAt(file, { source: '![A harbour](flux:A harbour at noon)', alt: '' })).toBe(
        undefined,
      )
      expect(
        await session.imageAt(file, { source: '![A harbour](flux:A harbour at dusk)', alt: 'Other' }),
      ).toBe(undefined)
      // The build's scan, with each image's status as the build left it.
      const scan = await session.scan()
      expect(scan.items.map((item) => item.status)).toEqual(['placeholder', 'placeholder'])
    } finally {
      await session.close()
    }
  })

  it('in dev: imageAt leaves it to image(), since files change under it', async () => {
    await writeFile(join(root, 'page.md'), PAGE)
    await writeFile(join(root, 'other.md'), '![Other](flux:Another prompt)\n')
    const session = await createSession(
      { mode: 'placeholder', logger: quiet },
      { root, env: {}, command: 'dev', provider: counted() },
    )
    try {
      const file = join(root, 'page.md')
      expect(
        await session.imageAt(file, { source: '![A harbour](flux:A harbour at dusk)', alt: 'A harbour' }),
      ).toBe(undefined)
      expect((await session.scan()).directives).toHaveLength(3)
    } finally {
      await session.close()
    }
  })
})
