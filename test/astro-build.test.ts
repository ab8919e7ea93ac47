import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  buildSite,
  checkSite,
  cleanup,
  KEY,
  project,
  variantUrls,
} from './fixtures/astro-helpers/build-site.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

let gateway: MockGateway

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(async () => {
  await gateway?.close()
  await cleanup()
})

describe('astro build with flux() (Sätteri, MDX)', () => {
  it('renders every directive as <picture>, writes every referenced file, and a warm build calls nothing', async () => {
    const root = await project()
    gateway.reset()
    const first = await buildSite(root, gateway)
    // Two covers, the component, three .md body images, one MDX body image, the about page.
    expect(gateway.requests).toBe(8)

    const referenced = await checkSite(first)

    // Warm build under a base (without its trailing slash): no request, the same files, base-joined URLs.
    const variants = join(root, '.flux-cache', 'variants')
    const before = await snapshot(variants)
    // 8 images x 2 widths x 3 formats, and one manifest per image.
    expect(Object.keys(before).filter((f) => f.startsWith('files/'))).toHaveLength(48)
    expect(Object.keys(before).filter((f) => f.startsWith('manifests/'))).toHaveLength(8)
    gateway.reset()
    await rm(first.dist, { recursive: true })
    const second = await buildSite(root, gateway, { base: '/docs' })
    expect(gateway.requests).toBe(0)
    // Nothing encoded: no variant or manifest written again, none added.
    expect(await snapshot(variants)).toEqual(before)
    expect(second.fluxFiles).toEqual(first.fluxFiles)
    expect(variantUrls(second.index + second.kites + second.gardens + second.about).sort()).toEqual(
      referenced.map((url) => `/docs${url}`).sort(),
    )
  })

  it('fails a frozen build on a missing image, naming the post and line', async () => {
    const root = await project()
    const post = join(root, 'src', 'content', 'posts', 'kites.md')
    await writeFile(post, `${await readFile(post, 'utf8')}\n![New](flux:A brand new prompt)\n`)
    gateway.reset()
    const failure = buildSite(root, gateway, { options: { mode: 'frozen' } })
    await expect(failure).rejects.toThrow(/src\/content\/posts\/kites\.md:13:\d+\s+A brand new prompt/)
    await expect(failure).rejects.toThrow(
      /src\/content\/posts\/gardens\.mdx:4:\d+\s+A walled garden in spring/,
    )
    expect(gateway.requests).toBe(0)
  })
})

/** Every file under `dir` (relative path) with what a rewrite would change: inode, mtime, size. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {}
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    const { ino, mtimeMs, size } = await stat(path)
    files[path.slice(dir.length + 1)] = `${ino} ${mtimeMs} ${size}`
  }
  return files
}

describe('fluxImage() in a content collection schema', () => {
  it('rejects a value that is not a directive, naming the entry and the field', async () => {
    const root = await project()
    const post = join(root, 'src', 'content', 'posts', 'gardens.mdx')
    const text = await readFile(post, 'utf8')
    await writeFile(post, text.replace(/cover:\n( {2}.*\n)+/, 'cover: "a walled garden"\n'))
    gateway.reset()
    // Only this post is scanned first: the failure comes before the rest of the site is made.
    const failure = buildSite(root, gateway, {
      options: { mode: 'placeholder', include: ['src/content/posts/gardens.mdx'] },
    })
    await expect(failure).rejects.toThrow(/posts → gardens.*\n(.*\n)*.*cover.*expected an image directive/)
    expect(gateway.requests).toBe(0)
  })
})
