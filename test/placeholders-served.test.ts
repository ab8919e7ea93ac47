// Regression: a warm build without a key once reported its placeholders as cached
// (`0 generated, 2 cached, 0 placeholder(s)`, no warning), so a CI build without its secrets
// shipped placeholder art that looked like a clean build.
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Logger } from '@flux-images/core'
import { flux as viteFlux } from '@flux-images/vite'
import { createLogger, build as viteBuild } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { project as astroProject, buildSite, cleanup } from './fixtures/astro-helpers/build-site.js'
import { cliEnv, makeProject, runCli } from './helpers/cli.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

const KEY = 'sk-flux-placeholders-served-5e2b'
const VITE_FIXTURE = fileURLToPath(new URL('./fixtures/vite-basic', import.meta.url))
const IMAGE = { widths: [160], maxWidth: 320 }

let gateway: MockGateway
const temps: string[] = []

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(async () => {
  await gateway?.close()
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })))
  await cleanup()
})

/** The `  - file:line:column  "prompt"` lines of a message. */
const listed = (text: string) => text.match(/^ {2}- \S+:\d+:\d+ {2}".*"$/gm) ?? []

/** Files under the cache's placeholder folder. */
async function placeholderFiles(root: string): Promise<number> {
  const dir = join(root, '.flux-cache', 'placeholders')
  return (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.png')).length
}

describe('flux-images generate without a key', () => {
  it('counts and names the placeholders it serves on every run, warm too; FLUX_REQUIRE_REAL=1 fails listing each', async () => {
    const p = await makeProject({ 'a.md': '![x](flux:offline image?size=1344x768)\n![y](flux:second one)\n' })
    temps.push(p.root)
    const cwd = p.root
    const summary = '0 generated, 0 cached, 2 placeholder(s) (no FLUX_API_KEY set), 0 failed'
    const warning = '[flux] 2 image(s) served as local placeholders, not real images (no FLUX_API_KEY set):'
    for (const run of ['cold', 'warm']) {
      const out = await runCli(['generate'], { cwd, env: cliEnv() })
      expect(out.code, run).toBe(0)
      expect(out.stderr, run).toContain(summary)
      expect(out.stderr, run).toContain(warning)
      expect(listed(out.stderr), run).toEqual(['  - a.md:1:6  "offline image"', '  - a.md:2:6  "second one"'])
    }
    expect(await placeholderFiles(cwd)).toBe(2)

    const refused = await runCli(['generate'], { cwd, env: cliEnv({ FLUX_REQUIRE_REAL: '1' }) })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(
      '[flux] a.md:1:6: 2 image(s) would be served as local placeholders (no FLUX_API_KEY set), and requireReal forbids any:',
    )
    expect(listed(refused.stderr)).toEqual(['  - a.md:1:6  "offline image"', '  - a.md:2:6  "second one"'])
    expect(refused.stderr).toContain('0 placeholder(s), 1 failed (FLUX_REQUIRE_REAL 1), 2 skipped')

    // A new directive under the option from flux.config.mjs: refused before any placeholder is made.
    await writeFile(join(cwd, 'b.md'), '![z](flux:third one)\n')
    await writeFile(join(cwd, 'flux.config.mjs'), 'export default { requireReal: true }\n')
    const fromFile = await runCli(['generate'], { cwd, env: cliEnv() })
    expect(fromFile.code).toBe(1)
    expect(listed(fromFile.stderr)).toEqual([
      '  - a.md:1:6  "offline image"',
      '  - a.md:2:6  "second one"',
      '  - b.md:1:6  "third one"',
    ])
    expect(await placeholderFiles(cwd)).toBe(2)

    // With a key, the same option passes: every image is real.
    gateway.reset()
    const real = await runCli(['generate'], {
      cwd,
      env: cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url }),
    })
    expect(real.code, real.stderr).toBe(0)
    expect(real.stderr).toContain('3 generated, 0 cached, 0 placeholder(s), 0 failed')
    expect(real.stderr).not.toContain('served as local placeholders')
    expect(gateway.requests).toBe(3)
  })
})

/** A logger that keeps every line. */
function recorder(): Logger & { lines: string[] } {
  const lines: string[] = []
  return { lines, info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) }
}

describe('vite build without a key', () => {
  async function viteSite(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'flux-placeholders-vite-'))
    temps.push(dir)
    await cp(VITE_FIXTURE, join(dir, 'site'), { recursive: true })
    return join(dir, 'site')
  }

  /** A real `vite build`, its logger's warnings and infos recorded. */
  async function build(root: string, options: Parameters<typeof viteFlux>[0] = {}) {
    const lines: string[] = []
    const customLogger = createLogger('info')
    customLogger.info = (m) => void lines.push(m)
    customLogger.warn = (m) => void lines.push(m)
    await viteBuild({
      root,
      logLevel: 'info',
      customLogger,
      configFile: false,
      build: { outDir: join(root, '..', 'dist'), emptyOutDir: true },
      plugins: [viteFlux({ apiKey: '', image: IMAGE, ...options })],
    })
    return lines.join('\n')
  }

  it('says on the warm build too that its 3 images are placeholders; requireReal fails it listing each', async () => {
    const root = await viteSite()
    gateway.reset()
    for (const run of ['cold', 'warm']) {
      const log = await build(root)
      expect(log, run).toContain(
        '3 image(s) from 4 directive(s): 0 generated, 0 cached, 3 placeholder(s) (no FLUX_API_KEY set), 0 failed',
      )
      expect(log, run).toContain(
        '[flux] 3 image(s) served as local placeholders, not real images (no FLUX_API_KEY set):',
      )
      expect(listed(log), run).toHaveLength(4)
    }
    const failure = build(root, { requireReal: true })
    await expect(failure).rejects.toThrow(
      /index\.html:9:\d+: 3 image\(s\) would be served as local placeholders \(no FLUX_API_KEY set\), and requireReal forbids any/,
    )
    const message = await failure.then(
      () => '',
      (e: unknown) => String((e as Error).message),
    )
    expect(listed(message)).toHaveLength(4)
    expect(gateway.requests).toBe(0)
  })
})

describe('astro build without a key', () => {
  it('says on the warm build too that its 11 images are placeholders; requireReal fails it listing each', async () => {
    const root = await astroProject()
    gateway.reset()
    for (const run of ['cold', 'warm']) {
      const logger = recorder()
      await buildSite(root, gateway, { options: { apiKey: '', logger } })
      const log = logger.lines.join('\n')
      expect(log, run).toContain('0 generated, 0 cached, 11 placeholder(s) (no FLUX_API_KEY set), 0 failed')
      expect(log, run).toContain(
        '[flux] 11 image(s) served as local placeholders, not real images (no FLUX_API_KEY set):',
      )
      expect(listed(log), run).toHaveLength(11)
      await rm(join(root, 'dist'), { recursive: true })
    }
    const failure = buildSite(root, gateway, { options: { apiKey: '', requireReal: true } })
    await expect(failure).rejects.toThrow(
      /11 image\(s\) would be served as local placeholders \(no FLUX_API_KEY set\), and requireReal forbids any/,
    )
    const message = await failure.then(
      () => '',
      (e: unknown) => String((e as Error).message),
    )
    expect(listed(message)).toHaveLength(11)
    expect(gateway.requests).toBe(0)
  })
})
