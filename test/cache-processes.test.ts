// Several real Node processes over one cache directory: each key is generated once, a worker
// killed while holding a lock or in the middle of a write is recovered from, nothing is corrupt.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createDiskCache } from '../packages/core/src/cache/disk-cache.js'
import type { Logger } from '../packages/core/src/types.js'

const repo = fileURLToPath(new URL('..', import.meta.url))
const worker = join(repo, 'test/fixtures/cache-worker.mjs')
const keys = Array.from({ length: 10 }, (_, i) => `${'0123456789abcdef'[i]}${'c'.repeat(23)}`)

const builtCache = join(repo, 'packages/core/dist/cache/disk-cache.js')

/** True when users other than the owner can reach and read `path`. */
function othersCanRead(path: string): boolean {
  if ((statSync(path).mode & 0o004) === 0) return false
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false
    if (dirname(dir) === dir) return true
  }
}

/** The worker imports the built core: rebuild it when a source file is newer than its output. */
function ensureBuilt(): void {
  const src = join(repo, 'packages/core/src')
  const sources = [
    ...readdirSync(join(src, 'cache')).map((f) => `cache/${f}`),
    'errors.ts',
    'types.ts',
  ].filter((f) => f.endsWith('.ts'))
  const outdated = sources.filter((f) => {
    const out = join(repo, 'packages/core/dist', f.replace(/\.ts$/, '.js'))
    return !existsSync(out) || statSync(out).mtimeMs < statSync(join(src, f)).mtimeMs
  })
  if (outdated.length === 0) return
  try {
    execFileSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-b', 'packages/core'], {
      cwd: repo,
      stdio: 'pipe',
    })
  } catch {
    // Type errors elsewhere in core do not stop tsc from emitting the files this test needs.
  }
  if (!existsSync(builtCache)) {
    throw new Error('packages/core/dist/cache/disk-cache.js is missing: run `pnpm build` first.')
  }
}

interface Finished {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

interface Running {
  child: ChildProcess
  done: Promise<Finished>
  /** Resolves when the worker prints `line`. */
  printed(line: string): Promise<void>
}

const running: ChildProcess[] = []

function start(
  mode: string,
  opts: Record<string, unknown>,
  spawnOpts: { uid?: number; gid?: number } = {},
): Running {
  const child = spawn(process.execPath, [worker, mode, JSON.stringify(opts)], { stdio: 'pipe', ...spawnOpts })
  running.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk) => {
    stdout += chunk
  })
  child.stderr?.on('data', (chunk) => {
    stderr += chunk
  })
  const done = new Promise<Finished>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  const printed = (line: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (stdout.split('\n').includes(line)) resolve()
      }
      child.stdout?.on('data', check)
      check()
      void done.then((f) => reject(new Error(`worker exited before printing "${line}": ${f.stderr}`)))
    })
  return { child, done, printed }
}

async function finished(run: Running): Promise<Finished> {
  const result = await run.done
  expect(result.stderr, 'worker stderr').not.toMatch(/^error/m)
  expect(result.code, result.stderr).toBe(0)
  return result
}

const silent: Logger = { info() {}, warn() {}, error() {} }
let dir: string
let root: string

beforeAll(ensureBuilt, 60_000)

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-processes-'))
  dir = join(root, '.flux-cache')
})

afterEach(async () => {
  for (const child of running.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await rm(root, { recursive: true, force: true })
})

/** Every key's entry verifies (size and sha256) when read by a fresh cache in this process. */
async function expectIntact(expected: string[]): Promise<void> {
  const warnings: string[] = []
  const cache = createDiskCache({ dir, logger: { ...silent, warn: (m) => warnings.push(m) } })
  for (const key of expected) {
    expect(await cache.check(key), key).toBe('cached')
    expect(await cache.get(key), key).toBeDefined()
  }
  expect(warnings).toEqual([])
}

describe('processes sharing a cache directory', () => {
  it('generate each key exactly once, even one that takes longer than staleMs', async () => {
    const counter = join(root, 'generated.log')
    // Each worker walks the keys from another starting point, so they meet on every key.
    const workers = [0, 1, 2, 3].map((n) =>
      start('generate', {
        dir,
        counter,
        keys: [...keys.slice(n * 3), ...keys.slice(0, n * 3)],
        staleMs: 600,
        heartbeatMs: 100,
        sleepMs: 40,
        slowKey: keys[0],
        // Only the heartbeat keeps this lock from looking stale to the waiters.
        slowMs: 1500,
      }),
    )
    const results = await Promise.all(workers.map(finished))
    const lines = (await readFile(counter, 'utf8')).trim().split('\n')
    const perKey = new Map<string, number>()
    for (const line of lines) {
      const key = line.split(' ')[0] ?? ''
      perKey.set(key, (perKey.get(key) ?? 0) + 1)
    }
    expect([...perKey.keys()].sort()).toEqual([...keys].sort())
    expect([...perKey.values()].every((n) => n === 1)).toBe(true)
    const totals = results.map((r) => JSON.parse(r.stdout) as { generated: number; cached: number })
    expect(totals.reduce((sum, t) => sum + t.generated, 0)).toBe(10)
    expect(totals.every((t) => t.generated + t.cached === 10)).toBe(true)
    expect(results.map((r) => r.stderr).join('')).not.toMatch(/Took over|taken over|FLUX_CACHE_CORRUPT/)
    await expectIntact(keys)
    expect(await readdir(join(dir, 'locks'))).toEqual([])
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
  })

  it('recover from a worker killed while it holds a lock in the middle of a write', async () => {
    const key = keys[0] ?? ''
    const holder = start('hold', { dir, keys: [key] })
    await holder.printed('holding')
    holder.child.kill('SIGKILL')
    expect((await holder.done).signal).toBe('SIGKILL')
    // The dead worker left its lock, a half-written temp file and an image without metadata.
    expect(existsSync(join(dir, 'locks', `${key}.lock`))).toBe(true)
    expect(await readdir(join(dir, 'tmp'))).toEqual(['deadbeefdeadbeef.tmp'])

    const counter = join(root, 'generated.log')
    // staleMs longer than the test's timeout: only seeing that the holder is gone lets it take over.
    const next = await finished(
      start('generate', {
        dir,
        counter,
        keys: keys.slice(0, 3),
        staleMs: 10 * 60_000,
        heartbeatMs: 200,
        sleepMs: 10,
      }),
    )
    expect(next.stderr).toMatch(
      /Took over the stale lock of cache entry [0-9a-f]{24}: its process \d+ is gone/,
    )
    expect(JSON.parse(next.stdout)).toEqual({ generated: 3, cached: 0 })
    await expectIntact(keys.slice(0, 3))
    expect(await readdir(join(dir, 'locks'))).toEqual([])
  })

  it('never leave a corrupt entry when killed at any moment of a rewrite', async () => {
    const churned = keys.slice(0, 3)
    for (const delay of [0, 7, 13, 29, 37, 53, 71, 91, 150, 233]) {
      const churn = start('churn', { dir, keys: churned, bytes: 512 * 1024 })
      await churn.printed('ready')
      await sleep(delay)
      churn.child.kill('SIGKILL')
      await churn.done
      const cache = createDiskCache({ dir, logger: silent })
      for (const key of churned) expect(['cached', 'missing'], key).toContain(await cache.check(key))
    }
    // The next run takes over the dead worker's lock and finishes what is missing.
    const counter = join(root, 'generated.log')
    await finished(
      start('generate', { dir, counter, keys: churned, staleMs: 2000, heartbeatMs: 200, sleepMs: 0 }),
    )
    await expectIntact(churned)
  })

  it('report FLUX_CACHE_WRITE in a read-only cache directory and write nothing', async () => {
    const readOnly = join(root, 'read-only')
    await mkdir(readOnly)
    await chmod(root, 0o755)
    await chmod(readOnly, 0o555)
    // Root ignores file modes: run the worker as an unprivileged user so the mode is real. When
    // that user could not even start the worker (a checkout under /root), block the writes with a
    // file where the tmp/ folder should be instead.
    const root0 = process.getuid?.() === 0
    const asNobody = root0 && [process.execPath, worker, builtCache].every(othersCanRead)
    if (root0 && !asNobody) {
      await chmod(readOnly, 0o755)
      await writeFile(join(readOnly, 'tmp'), 'not a folder')
    }
    const result = await finished(
      start('write', { dir: readOnly, keys: [keys[0]] }, asNobody ? { uid: 65534, gid: 65534 } : {}),
    )
    const outcome = JSON.parse(result.stdout) as { code?: string; message?: string }
    expect(outcome.code).toBe('FLUX_CACHE_WRITE')
    expect(outcome.message).toContain(readOnly)
    expect(outcome.message).toMatch(root0 && !asNobody ? /EEXIST|ENOTDIR/ : /EACCES|EPERM|EROFS/)
    expect((await readdir(readOnly)).filter((name) => name !== 'tmp')).toEqual([])
  })
})
