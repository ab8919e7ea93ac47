import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import node from '@astrojs/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  buildSite,
  checkSite,
  cleanup,
  IMAGES,
  KEY,
  project,
  variantUrls,
} from './fixtures/astro-helpers/build-site.js'
import { snapshot } from './helpers/snapshot.js'
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
    expect(gateway.requests).toBe(IMAGES)

    const referenced = await checkSite(first)

    // Warm build under a base (without its trailing slash): no request, the same files, base-joined URLs.
    const variants = join(root, '.flux-cache', 'variants')
    const before = await snapshot(variants)
    // Every image x 2 widths x 3 formats, and one manifest per image.
    expect(Object.keys(before).filter((f) => f.startsWith('files/'))).toHaveLength(IMAGES * 6)
    expect(Object.keys(before).filter((f) => f.startsWith('manifests/'))).toHaveLength(IMAGES)
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

  it('re-renders cached content when its images change: a build after an offline build shows the real images', async () => {
    const root = await project()
    gateway.reset()
    const offline = await buildSite(root, gateway, { options: { mode: 'placeholder' } })
    expect(gateway.requests).toBe(0)
    const placeholderDigest = await storedDigest(root)
    await rm(offline.dist, { recursive: true })
    const online = await buildSite(root, gateway)
    expect(gateway.requests).toBe(IMAGES)
    // Every URL in the pages is a file of the real images (Astro's content store kept none of the placeholders').
    const referenced = await checkSite(online)
    expect(referenced.filter((url) => variantUrls(offline.kites + offline.about).includes(url))).toEqual([])
    // The digest Astro's store is keyed on changed with the images, and stays put while they do.
    const changed = await storedDigest(root)
    expect(changed).not.toBe(placeholderDigest)
    gateway.reset()
    await rm(online.dist, { recursive: true })
    await buildSite(root, gateway)
    expect(gateway.requests).toBe(0)
    expect(await storedDigest(root)).toBe(changed)
  })

  it("writes the variants of prerendered pages into a server build's client output", async () => {
    const root = await project()
    gateway.reset()
    const site = await buildSite(root, gateway, { adapter: node({ mode: 'standalone' }) })
    expect(gateway.requests).toBe(IMAGES)
    expect(site.dist).toMatch(/dist\/client$/)
    await checkSite(site)
    // The server bundle carries no image and no key.
    const server = await readdir(join(root, 'dist', 'server'), { recursive: true })
    expect(server.filter((file) => /_flux|\.(avif|webp)$/.test(file))).toEqual([])
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
    // Where Astro points (terminal and overlay): the first missing directive, not a guess from the message.
    const err = (await failure.then(
      () => undefined,
      (e: unknown) => e,
    )) as { errors?: unknown[] }
    expect((err.errors ?? [err]).map((e) => (e as { loc?: unknown }).loc)).toEqual([
      { file: join(root, 'src', 'content', 'posts', 'gardens.mdx'), line: 4, column: 3 },
    ])
    expect(gateway.requests).toBe(0)
  })

  // Regression: the build's end lists the files of every image the session resolved, the build's
  // own generation included, rather than asking for every scanned image again. A second build with
  // the same configuration renders its collection entries from the store (the markdown plugins do
  // not run for them): their images' files must be in the output all the same.
  it('writes the files of images whose pages did not run the markdown plugins', async () => {
    const root = await project()
    gateway.reset()
    const first = await buildSite(root, gateway)
    expect(gateway.requests).toBe(IMAGES)
    await rm(first.dist, { recursive: true })
    gateway.reset()
    const second = await buildSite(root, gateway)
    expect(gateway.requests).toBe(0)
    expect(second.fluxFiles).toEqual(first.fluxFiles)
    await checkSite(second)
  })
})

/** The flux digest in the config Astro's content store last synced with. */
async function storedDigest(root: string): Promise<string> {
  const store = await readFile(join(root, 'node_modules', '.astro', 'data-store.json'), 'utf8')
  const found = store.match(/fluxImages\\?":\\?"([0-9a-f]{16})/)
  expect(found, 'a flux digest in the content store').not.toBeNull()
  return found?.[1] ?? ''
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
