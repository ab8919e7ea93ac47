// SIGKILL of `flux-images generate` at exact points: while an image is being downloaded, and in
// the middle of a cache write (after the image is in place but before its metadata, and before
// the image itself). Then a rerun: zero corrupt entries, nothing finished lost, only the missing
// generated. (A kill while requests are in flight is in generate-cli.test.ts; a kill at any moment
// of a rewrite, at the cache level, in cache-processes.test.ts.)
import { existsSync, readdirSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type CliRun, cliEnv, makeProject, runCli, startCli } from './helpers/cli.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

const KEY = 'sk-flux-kill-points-91c2'
const FS_FAULTS = fileURLToPath(new URL('./fixtures/fs-faults.mjs', import.meta.url))
const PROMPTS = Array.from({ length: 6 }, (_, i) => `killed at a point, image ${i}`)

let gateway: MockGateway
let cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(() => gateway.close())
afterEach(async () => {
  gateway.reset()
  for (const cleanup of cleanups) await cleanup()
  cleanups = []
})

async function project(config: Record<string, unknown> = {}): Promise<string> {
  const files: Record<string, string> = {
    'flux.config.mjs': `export default ${JSON.stringify({ model: 'flux-schnell', ...config })}\n`,
  }
  PROMPTS.forEach((prompt, i) => {
    files[`p${i}.md`] = `# Page ${i}\n\n![x](flux:${prompt})\n`
  })
  const p = await makeProject(files)
  cleanups.push(p.cleanup)
  return p.root
}

const env = (extra: Record<string, string | undefined> = {}) =>
  cliEnv({ FLUX_API_KEY: KEY, FLUX_BASE_URL: gateway.url, ...extra })

/** Waits for `done()`, failing early if the process ends first. */
async function until(done: () => boolean, run: Promise<CliRun>): Promise<void> {
  let ended: CliRun | undefined
  void run.then((r) => {
    ended = r
  })
  while (!done()) {
    if (ended) throw new Error(`the CLI ended before the kill point: ${ended.stderr}`)
    await sleep(5)
  }
}

/** How many entries have their metadata written (the last step of a cache write). */
function metadataFiles(root: string): number {
  const originals = join(root, '.flux-cache', 'originals')
  return existsSync(originals) ? readdirSync(originals).filter((n) => n.endsWith('.json')).length : 0
}

/** The lock files in the cache's locks/ folder. */
function lockFiles(root: string): string[] {
  const locks = join(root, '.flux-cache', 'locks')
  return existsSync(locks) ? readdirSync(locks).filter((n) => n.endsWith('.lock')) : []
}

/** The state after the kill, then the rerun: nothing corrupt, only the missing paid, all cached after. */
async function rerun(root: string): Promise<{ cached: number; stderr: string }> {
  const scan = await runCli(['scan', '--json'], { cwd: root, env: env() })
  const statuses = (JSON.parse(scan.stdout) as { directives: { status: string }[] }).directives.map(
    (d) => d.status,
  )
  expect(statuses).toHaveLength(PROMPTS.length)
  expect(statuses.filter((s) => s !== 'cached' && s !== 'missing')).toEqual([])
  const cached = statuses.filter((s) => s === 'cached').length

  gateway.reset()
  const again = await runCli(['generate'], { cwd: root, env: env() })
  expect(again.code, again.stderr).toBe(0)
  expect(gateway.requests).toBe(PROMPTS.length - cached)
  expect(again.stderr).toContain(`${PROMPTS.length - cached} generated, ${cached} cached`)
  // Every entry complete: one image and one metadata file per key, each metadata naming its image.
  const originals = join(root, '.flux-cache', 'originals')
  const names = await readdir(originals)
  const metas = names.filter((n) => n.endsWith('.json'))
  expect(metas).toHaveLength(PROMPTS.length)
  expect(names).toHaveLength(2 * PROMPTS.length)
  for (const meta of metas) {
    const { file } = JSON.parse(await readFile(join(originals, meta), 'utf8')) as { file: string }
    expect(names).toContain(file)
  }
  return { cached, stderr: again.stderr }
}

describe('SIGKILL of flux-images generate, then a rerun', () => {
  it('during a download: the image being fetched is missing, the finished ones stay', async () => {
    const root = await project({ responseFormat: 'url', allowPrivateDownloads: true, concurrency: 1 })
    // The fourth image's file arrives half, then not in time; the first three arrive whole.
    gateway.fault = ({ requestNumber }) =>
      requestNumber === 4 ? { type: 'slow-url', stallMs: 30_000 } : undefined
    const { child, done } = startCli(['generate'], { cwd: root, env: env() })
    await until(() => gateway.stalledDownloads > 0, done)
    // One request at a time, and the stalled one holds the slot: the images asked before it are
    // all the run will finish. Kill once they are stored, while the stalled download goes on.
    expect(gateway.requests).toBe(4)
    const finished = 3
    await until(() => metadataFiles(root) === finished, done)
    expect(gateway.stalledDownloads).toBe(1)
    child.kill('SIGKILL')
    expect((await done).signal).toBe('SIGKILL')
    const { cached } = await rerun(root)
    expect(cached).toBe(finished)
  })

  it.each([
    ['after the image, before its metadata', 'originals/[0-9a-f]{24}\\.json$', 3],
    ['before the image', 'originals/[0-9a-f]{24}\\.png$', 2],
  ])(
    'during a cache write, %s: that entry reads as missing, never corrupt; its lock is taken over',
    async (_point, match, images) => {
      const root = await project({ concurrency: 1 })
      // The third write stalls at that rename; the gateway answers three requests and holds the
      // fourth, so nothing else is written beside the stalled one.
      const fault = { stallRename: { match, ms: 30_000, after: 2 } }
      gateway.hold()
      const { child, done } = startCli(['generate'], {
        cwd: root,
        env: env({ NODE_OPTIONS: `--import=${FS_FAULTS}`, FLUX_TEST_FS_FAULT: JSON.stringify(fault) }),
      })
      let stderr = ''
      child.stderr?.on('data', (c: Buffer) => {
        stderr += c.toString()
      })
      for (let answered = 0; answered < 3; answered++) {
        await gateway.whenHeld(1)
        gateway.release(1)
      }
      await gateway.whenHeld(1)
      await until(() => stderr.includes('fs-faults: stalled rename to'), done)
      // Two entries stored (their locks released); the stalled write and the held request each
      // hold their entry's lock.
      await until(() => metadataFiles(root) === 2 && lockFiles(root).length === 2, done)
      child.kill('SIGKILL')
      expect((await done).signal).toBe('SIGKILL')
      expect([gateway.requests, gateway.generated, gateway.held]).toEqual([4, 3, 1])
      // What the kill left: a complete image without metadata, or only temp files (git-ignored,
      // swept later), and the dead process's lock on that entry.
      const originals = await readdir(join(root, '.flux-cache', 'originals'))
      expect(originals.filter((n) => n.endsWith('.json'))).toHaveLength(2)
      expect(originals.filter((n) => n.endsWith('.png'))).toHaveLength(images)
      expect((await readdir(join(root, '.flux-cache', 'tmp'))).length).toBeGreaterThan(0)
      const locks = lockFiles(root)
      expect(locks).toHaveLength(2)
      const { cached, stderr: rerunErr } = await rerun(root)
      expect(cached).toBe(2)
      // The rerun takes over both locks of the dead process, and leaves none.
      for (const lock of locks) {
        const key = lock.replace(/\.lock$/, '')
        expect(rerunErr).toMatch(
          new RegExp(`Took over the stale lock of cache entry ${key}: its process \\d+ is gone`),
        )
      }
      expect(lockFiles(root)).toEqual([])
    },
  )
})
