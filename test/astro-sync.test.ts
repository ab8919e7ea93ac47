// Regression: `astro sync` and `astro check` (which syncs first) generated paid images with no
// `[flux]` line: Astro runs its dev hooks on the temporary server of a content sync, and the
// markdown of content collections is rendered there.
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import mdx from '@astrojs/mdx'
import { flux } from '@flux-images/astro'
import type { Logger } from '@flux-images/core'
import { sync } from 'astro'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanup, IMAGES, KEY, project } from './fixtures/astro-helpers/build-site.js'
import { cliEnv, runCli } from './helpers/cli.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

let gateway: MockGateway

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(async () => {
  await gateway?.close()
  await cleanup()
})

/** A logger that keeps every line. */
function recorder(): Logger & { lines: string[] } {
  const lines: string[] = []
  return { lines, info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) }
}

/** Files in one folder of the cache. */
const cached = async (root: string, folder: 'originals' | 'placeholders') =>
  (await readdir(join(root, '.flux-cache', folder)).catch(() => [])).filter((f) => f.endsWith('.png')).length

describe('astro sync', () => {
  it('never spends: a site with missing images makes 0 requests, uses what is cached, and says so in one line', async () => {
    const root = await project()
    const logger = recorder()
    gateway.reset()
    await sync({
      root,
      logLevel: 'error',
      integrations: [mdx(), flux({ apiKey: KEY, baseURL: gateway.url, logger })],
    })
    expect(gateway.requests).toBe(0)
    expect(await cached(root, 'originals')).toBe(0)
    // What the sync renders: the posts' two covers and kites.md's three body images (MDX bodies
    // are compiled by the build).
    expect(await cached(root, 'placeholders')).toBe(5)
    expect(logger.lines.filter((l) => l.includes('generates nothing'))).toEqual([
      '[flux] sync: generates nothing and pays for nothing; cached images are used, placeholders stand in for the rest (a build generates them).',
    ])

    // Once generated, a sync reads the real images: still 0 requests, no placeholder made.
    const generated = await runCli(['generate'], {
      cwd: root,
      env: cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url }),
    })
    expect(generated.code, generated.stderr).toBe(0)
    expect(gateway.requests).toBe(IMAGES)
    gateway.reset()
    await sync({
      root,
      logLevel: 'error',
      integrations: [mdx(), flux({ apiKey: KEY, baseURL: gateway.url })],
    })
    expect(gateway.requests).toBe(0)
    expect(await cached(root, 'originals')).toBe(IMAGES)
    // The real images replaced the first sync's placeholders, and this sync made none.
    expect(await cached(root, 'placeholders')).toBe(0)
  })
})
