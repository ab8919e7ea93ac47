// A read-only and a full cache directory, through `flux-images generate`: a clear error (code,
// path, what it means, what to do), no partial file, nothing paid that could not be stored beyond
// what was in flight, and a rerun on a healthy disk that generates only what is missing.
//
// The disks are real: a read-only tmpfs, and a 640 KiB tmpfs that fills up (as root in a
// container, `mount` works). Where mounting is refused (not root, no CAP_SYS_ADMIN), the same
// errors are injected into the CLI's file system calls (fixtures/fs-faults.mjs) and the test says
// so in its name.
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cliEnv, makeProject, readTree, runCli } from './helpers/cli.js'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

const KEY = 'sk-flux-disk-faults-62aa'
const FS_FAULTS = fileURLToPath(new URL('./fixtures/fs-faults.mjs', import.meta.url))
const PROMPTS = Array.from({ length: 6 }, (_, i) => `a picture for a full disk, number ${i}`)

/** Whether this machine lets the test mount a tmpfs (root with CAP_SYS_ADMIN). */
async function canMount(): Promise<boolean> {
  const probe = await mkdtemp(join(tmpdir(), 'flux-mount-probe-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' })
    execFileSync('umount', [probe], { stdio: 'ignore' })
    return true
  } catch {
    return false
  } finally {
    await rm(probe, { recursive: true, force: true })
  }
}
// FLUX_TEST_NO_MOUNT=1 runs the injected variant where mounting works too.
const MOUNTS = !process.env.FLUX_TEST_NO_MOUNT && (await canMount())
const how = MOUNTS ? 'a real tmpfs' : 'injected errors: no tmpfs mount'

let gateway: MockGateway
let cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  gateway = await createMockGateway({ apiKey: KEY })
})
afterAll(() => gateway.close())
afterEach(async () => {
  gateway.reset()
  for (const cleanup of cleanups.reverse()) await cleanup()
  cleanups = []
})

/** A project with one page per prompt, and its (empty) cache directory. */
async function project(): Promise<{ root: string; cache: string }> {
  const files: Record<string, string> = {}
  PROMPTS.forEach((prompt, i) => {
    files[`p${i}.md`] = `# Page ${i}\n\n![x](flux:${prompt})\n`
  })
  const p = await makeProject(files)
  cleanups.push(p.cleanup)
  const cache = join(p.root, '.flux-cache')
  await mkdir(cache)
  return { root: p.root, cache }
}

function mount(dir: string, options: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir])
  cleanups.push(async () => {
    execFileSync('umount', [dir])
  })
}

/** The environment of a CLI run; with `fault`, the run's writes under `cache` fail with that code. */
function env(fault?: { cache: string; code: 'EROFS' | 'ENOSPC' }) {
  return cliEnv({
    FLUX_API_KEY: KEY,
    FLUX_BASE_URL: gateway.url,
    FLUX_CONCURRENCY: '1',
    ...(fault && {
      NODE_OPTIONS: `--import=${FS_FAULTS}`,
      FLUX_TEST_FS_FAULT: JSON.stringify({ failWrites: { under: fault.cache, code: fault.code } }),
    }),
  })
}

/** Each failure line of the run, one per directive, located. */
const failures = (stderr: string) => stderr.match(/^\[flux\] p\d\.md:3:\d+: .*$/gm) ?? []

describe(`a cache directory the CLI cannot write to (${how})`, () => {
  it('read-only: every directive fails with FLUX_CACHE_WRITE naming the folder, nothing is requested or written; once filled, a read-only cache serves them all', async () => {
    const { root, cache } = await project()
    const readOnly = (on: boolean) => {
      if (MOUNTS) execFileSync('mount', ['-o', `remount,${on ? 'ro' : 'rw'}`, cache])
      return MOUNTS || !on ? env() : env({ cache, code: 'EROFS' })
    }
    if (MOUNTS) mount(cache, 'size=16m')
    const run = await runCli(['generate'], { cwd: root, env: readOnly(true) })
    expect(run.code).toBe(1)
    // The lock comes before the request: not one image is paid for.
    expect(gateway.requests).toBe(0)
    const lines = failures(run.stderr)
    expect(lines).toHaveLength(PROMPTS.length)
    for (const line of lines)
      expect(line).toContain(
        `Could not write to the cache directory ${cache}: the file system is read-only (EROFS`,
      )
    expect(run.stderr).toContain(
      'hint: Mount it read-write, or point the `cacheDir` option at a writable folder',
    )
    expect(run.stderr).toContain(`${PROMPTS.length} failed (FLUX_CACHE_WRITE ${PROMPTS.length})`)
    expect(await readdir(cache)).toEqual([])

    // Filled while writable, then read-only again (a committed cache on a read-only CI volume): it
    // is read without a write, and nothing is requested.
    expect((await runCli(['generate'], { cwd: root, env: readOnly(false) })).code).toBe(0)
    expect(gateway.requests).toBe(PROMPTS.length)
    const served = await runCli(['generate'], { cwd: root, env: readOnly(true) })
    expect(served.code, served.stderr).toBe(0)
    expect(served.stderr).toContain(`0 generated, ${PROMPTS.length} cached`)
    expect(gateway.requests).toBe(PROMPTS.length)
  })

  it('full: the images that fit are kept whole, the rest fail with "the disk is full", no temp file is left, and the rerun pays only for the missing', async () => {
    const { root, cache } = await project()
    // Room for two or three 1024x1024 originals (170 to 250 KB each here), not six.
    if (MOUNTS) mount(cache, 'size=640k')
    const run = await runCli(['generate'], {
      cwd: root,
      env: MOUNTS ? env() : env({ cache, code: 'ENOSPC' }),
    })
    expect(run.code).toBe(1)
    const lines = failures(run.stderr)
    const stored = PROMPTS.length - lines.length
    if (MOUNTS) expect(stored).toBeGreaterThanOrEqual(1)
    else expect(stored).toBe(0)
    expect(stored).toBeLessThan(PROMPTS.length)
    for (const line of lines)
      expect(line).toContain(`Could not write to the cache directory ${cache}: the disk is full (ENOSPC`)
    expect(run.stderr).toContain('hint: Free space on the disk that holds the cache directory')
    expect(run.stderr).toContain(`${stored} generated`)
    // Once the disk is full no new request starts: only what was already under way is lost (with
    // one request at a time, the image being stored and at most the one whose answer came meanwhile).
    const lost = gateway.generated - stored
    if (MOUNTS) {
      expect(lost).toBeGreaterThanOrEqual(1)
      expect(lost).toBeLessThanOrEqual(2)
    } else expect(lost).toBe(0)
    expect(gateway.requests).toBe(gateway.generated)

    // No partial file: no temp file, no lock, and every entry on the disk complete and verified.
    expect(await readdir(join(cache, 'tmp')).catch(() => [])).toEqual([])
    expect(await readdir(join(cache, 'locks')).catch(() => [])).toEqual([])
    const originals = (await readTree(cache)).filter((f) => f.path.includes('/originals/'))
    expect(originals.filter((f) => f.path.endsWith('.json'))).toHaveLength(stored)
    expect(originals).toHaveLength(2 * stored)
    const scan = await runCli(['scan'], { cwd: root, env: env() })
    expect(scan.stdout).toContain(`${PROMPTS.length - stored} missing`)
    if (stored > 0) expect(scan.stdout).toContain(`${stored} cached`)
    expect(scan.stdout).not.toContain('corrupt')

    // Room again: only the missing images are requested.
    if (MOUNTS) execFileSync('mount', ['-o', 'remount,size=16m', cache])
    gateway.reset()
    const again = await runCli(['generate'], { cwd: root, env: env() })
    expect(again.code, again.stderr).toBe(0)
    expect(gateway.requests).toBe(PROMPTS.length - stored)
    expect(again.stderr).toContain(`${PROMPTS.length - stored} generated, ${stored} cached`)
  })
})
