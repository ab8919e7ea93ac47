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

describe('astro build with flux() (unified, MDX)', () => {
  it('renders every directive as <picture> under the unified processor', async () => {
    const root = await project()
    gateway.reset()
    const site = await buildSite(root, gateway, { processor: 'unified' })
    expect(gateway.requests).toBe(IMAGES)
    await checkSite(site)
  })
})
