import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createFlux } from '../../src/create-flux.js'
import type { Provider } from '../../src/types.js'
import { phasedProvider } from '../fakes/providers.js'

const env = { FLUX_API_KEY: 'sk-test-slot', FLUX_BASE_URL: 'http://127.0.0.1:9' }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

let root: string
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-slot-'))
  await mkdir(join(root, 'posts'))
  await writeFile(join(root, 'posts', 'a.md'), '![a](flux:first prompt)\n\n![b](flux:second prompt)\n')
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('the request slot', () => {
  it('is freed when the answer is received: the next request starts during the local check', async () => {
    const fake = phasedProvider()
    const flux = createFlux({ root, concurrency: 1, progress: 'off' }, { env, provider: fake.provider })
    const summary = await flux.generate()
    expect(summary).toMatchObject({ generated: 2, failed: [] })
    const starts = fake.events.filter((e) => e.what === 'start')
    const dones = fake.events.filter((e) => e.what === 'done')
    // The second request started before the first image's local phase ended...
    expect(starts[1]?.at ?? Number.POSITIVE_INFINITY).toBeLessThan(dones[0]?.at ?? 0)
    // ...yet never two network phases at once: the bound is still 1.
    expect(fake.maxNetwork).toBe(1)
  })

  it('is held until generate() settles by a provider that never calls onReceived', async () => {
    const fake = phasedProvider({ signals: false })
    const flux = createFlux({ root, concurrency: 1, progress: 'off' }, { env, provider: fake.provider })
    await flux.generate()
    const starts = fake.events.filter((e) => e.what === 'start')
    const dones = fake.events.filter((e) => e.what === 'done')
    expect(starts[1]?.at).toBeGreaterThanOrEqual(dones[0]?.at ?? Number.POSITIVE_INFINITY)
  })

  it('still fails the image when the local check fails after the slot was freed', async () => {
    const provider: Provider = {
      name: 'bad-after-receipt',
      placeholder: false,
      async generate(_request, ctx = {}) {
        await sleep(5)
        ctx.onReceived?.()
        throw new Error('undecodable image')
      },
    }
    const flux = createFlux({ root, concurrency: 1, progress: 'off' }, { env, provider })
    const summary = await flux.generate()
    expect(summary.generated).toBe(0)
    expect(summary.failed.map((e) => e.detail)).toEqual([
      expect.stringContaining('undecodable image'),
      expect.stringContaining('undecodable image'),
    ])
  })
})
