import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliEnv, makeProject, startNode } from './helpers/cli.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

const KEY = 'sk-flux-test-modules-not-a-key'
const SCRIPT = fileURLToPath(new URL('./helpers/loaded-packages.mjs', import.meta.url))

interface Loaded {
  packages: string[]
  generated?: number
  cached?: number
  failed?: number
  files?: number
}

async function loaded(args: string[], env: NodeJS.ProcessEnv): Promise<Loaded> {
  const run = await startNode(SCRIPT, args, { env }).done
  if (run.code !== 0) throw new Error(`exit ${run.code}: ${run.stderr}`)
  return JSON.parse(run.stdout)
}

let gateway: MockGateway
beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(async () => {
  await gateway.close()
})

// Loading sharp (libvips) and undici costs 70-200 ms each: a build with every image cached must
// not pay for them (BENCHMARKS.md, section 4), and page code must not take in the engine.
describe('what a process loads', () => {
  it('a warm build (every original and variant cached) loads neither sharp nor undici; the cold one loads both', async () => {
    const project = await makeProject({
      'src/posts/a.md': '---\ncover: "flux: a lighthouse at dawn"\n---\n\n![x](flux:a harbour at night)\n',
    })
    try {
      const env = cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url })
      const cold = await loaded(['build', project.root], env)
      expect(cold).toMatchObject({ generated: 2, failed: 0 })
      expect(cold.packages).toEqual(expect.arrayContaining(['sharp', 'undici']))
      expect(gateway.requests).toBe(2)

      const warm = await loaded(['build', project.root], env)
      expect(warm).toMatchObject({ generated: 0, cached: 2, failed: 0, files: cold.files })
      expect(warm.files).toBeGreaterThan(0)
      expect(warm.packages).not.toContain('sharp')
      expect(warm.packages).not.toContain('undici')
      // Flat frontmatter is read without the YAML library.
      expect(cold.packages).not.toContain('yaml')
      expect(warm.packages).not.toContain('yaml')
      expect(gateway.requests).toBe(2)
    } finally {
      await project.cleanup()
    }
  })

  it('@flux-images/core/runtime (what pages import) loads no package at all', async () => {
    expect(await loaded(['runtime'], cliEnv())).toEqual({ packages: [] })
  })
})
