import { rm } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildSite, checkSite, cleanup, IMAGES, KEY, project } from './fixtures/astro-helpers/build-site.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

let gateway: MockGateway

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(async () => {
  await gateway?.close()
  await cleanup()
})

describe("astro build: content restored from Astro's content store", () => {
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
