// A real `astro build` of the fixture blog with provider bfl against the mock BFL API: each
// distinct image submitted once, polled Pending then Ready; a warm build submits nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildSite, checkSite, cleanup, IMAGES, KEY, project } from './fixtures/astro-helpers/build-site.js'
import { createMockBfl, type MockBfl } from './mock-bfl/index.js'
import type { MockGateway } from './mock-gateway/index.js'

let mock: MockBfl

beforeAll(async () => {
  mock = await createMockBfl({ apiKey: KEY })
})
afterAll(async () => {
  await mock?.close()
  await cleanup()
})

describe('astro build with provider bfl', () => {
  it('submits each distinct image once, renders them all, and a warm build submits nothing', {
    timeout: 300_000,
  }, async () => {
    const root = await project()
    // The helper reads only the API's URL from its server.
    const api = { url: mock.url } as MockGateway
    const options = { provider: 'bfl', allowPrivateDownloads: true } as const
    const first = await buildSite(root, api, { options })
    expect([mock.submits, mock.polls, mock.downloads, mock.downloadsWithKey]).toEqual([
      IMAGES,
      IMAGES * 2,
      IMAGES,
      0,
    ])
    expect(mock.submitRecords.every((r) => r.model === 'flux-2-pro' && r.fields.disable_pup === true)).toBe(
      true,
    )
    await checkSite(first)

    await buildSite(root, api, { options })
    expect([mock.submits, mock.polls]).toEqual([IMAGES, IMAGES * 2])
  })
})
