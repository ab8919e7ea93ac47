import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createDiskCache } from '../../src/cache/disk-cache.js'
import type { LockInfo } from '../../src/cache/key-lock.js'
import type { Logger } from '../../src/types.js'

const key = 'a1b2c3d4e5f60718293a4b5c'
const other = 'ffffffffffffffffffffffff'

let root: string
let dir: string
let messages: string[]
const logger: Logger = {
  info: (m) => messages.push(`info ${m}`),
  warn: (m) => messages.push(`warn ${m}`),
  error: (m) => messages.push(`error ${m}`),
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-lock-test-'))
  dir = join(root, 'cache')
  messages = []
})

afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

/** A lock file as another process would have left it. */
async function foreignLock(info: Partial<LockInfo>, ageMs = 0): Promise<string> {
  const path = join(dir, 'locks', `${key}.lock`)
  await mkdir(join(dir, 'locks'), { recursive: true })
  await writeFile(path, JSON.stringify({ started: new Date().toISOString(), token: 'theirs', ...info }))
  const when = new Date(Date.now() - ageMs)
  await utimes(path, when, when)
  return path
}

function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  })
  return Number(child.stdout)
}

describe('withLock in one process', () => {
  it('serializes callers of the same key and returns their results', async () => {
    const cache = createDiskCache({ dir, logger })
    let inside = 0
    let most = 0
    const order: number[] = []
    const run = (n: number) =>
      cache.withLock(key, async () => {
        inside++
        most = Math.max(most, inside)
        await sleep(20)
        order.push(n)
        inside--
        return n * 10
      })
    expect(await Promise.all([run(1), run(2), run(3)])).toEqual([10, 20, 30])
    expect(most).toBe(1)
    expect(order).toEqual([1, 2, 3])
    expect(await readdir(join(dir, 'locks'))).toEqual([])
  })

  it('serializes two cache instances over the same directory', async () => {
    const a = createDiskCache({ dir, logger })
    const b = createDiskCache({ dir, logger })
    let inside = 0
    let most = 0
    const run = (cache: typeof a) =>
      cache.withLock(key, async () => {
        most = Math.max(most, ++inside)
        await sleep(20)
        inside--
      })
    await Promise.all([run(a), run(b), run(a), run(b)])
    expect(most).toBe(1)
  })

  it('does not serialize different keys', async () => {
    const cache = createDiskCache({ dir, logger })
    let inside = 0
    let most = 0
    const run = (k: string) =>
      cache.withLock(k, async () => {
        most = Math.max(most, ++inside)
        await sleep(40)
        inside--
      })
    await Promise.all([run(key), run(other)])
    expect(most).toBe(2)
  })

  it('writes who holds the lock, and refreshes it while held', async () => {
    const cache = createDiskCache({ dir, logger, staleMs: 600, heartbeatMs: 50 })
    const path = join(dir, 'locks', `${key}.lock`)
    await cache.withLock(key, async () => {
      const info = JSON.parse(await readFile(path, 'utf8')) as LockInfo
      expect(info.pid).toBe(process.pid)
      expect(info.hostname).toBe(hostname())
      expect(Number.isNaN(Date.parse(info.started))).toBe(false)
      const first = (await stat(path)).mtimeMs
      await sleep(250)
      expect((await stat(path)).mtimeMs).toBeGreaterThan(first)
    })
    expect(existsSync(path)).toBe(false)
  })
})

describe('stale locks', () => {
  it('takes over at once the lock of a dead process on this host', async () => {
    await foreignLock({ pid: deadPid(), hostname: hostname() })
    // Fresh, and staleMs longer than the test's timeout: only the dead pid lets it be taken over.
    const cache = createDiskCache({ dir, logger, staleMs: 10 * 60_000 })
    expect(await cache.withLock(key, async () => 'mine')).toBe('mine')
    expect(messages.some((m) => m.includes('Took over') && m.includes('is gone'))).toBe(true)
    expect(await readdir(join(dir, 'locks'))).toEqual([])
  })

  it('takes over a lock not refreshed for staleMs', async () => {
    await foreignLock({ pid: process.pid, hostname: 'another-host' }, 60_000)
    const cache = createDiskCache({ dir, logger, staleMs: 1000 })
    expect(await cache.withLock(key, async () => 'mine')).toBe('mine')
    expect(messages.some((m) => m.includes('not refreshed'))).toBe(true)
  })

  it('takes over a lock with unreadable content once it is old enough, not before', async () => {
    const path = join(dir, 'locks', `${key}.lock`)
    await mkdir(join(dir, 'locks'), { recursive: true })
    await writeFile(path, '')
    // Fresh, and staleMs longer than the test's timeout: it waits until aborted.
    const patient = createDiskCache({ dir, logger, staleMs: 10 * 60_000 })
    const stop = new AbortController()
    const waiting = patient.withLock(key, async () => 'taken', { signal: stop.signal })
    setTimeout(() => stop.abort(), 300)
    await expect(waiting).rejects.toThrow()
    // Made old: taken over at once.
    const old = new Date(Date.now() - 20 * 60_000)
    await utimes(path, old, old)
    expect(await patient.withLock(key, async () => 'taken')).toBe('taken')
  })

  it('waits for a live lock of another host until it stops being refreshed', async () => {
    const path = await foreignLock({ pid: 1, hostname: 'another-host' })
    const cache = createDiskCache({ dir, logger, staleMs: 400 })
    let acquired = 0
    const started = Date.now()
    const waiting = cache.withLock(key, async () => {
      acquired = Date.now() - started
    })
    // The other host keeps its lock fresh for 600 ms, then dies. Its refreshes date the lock an
    // hour ahead: on a busy machine a refresh 100 ms late must not let the lock go stale.
    const ahead = new Date(Date.now() + 3_600_000)
    await utimes(path, ahead, ahead)
    for (let i = 0; i < 6; i++) {
      await sleep(100)
      expect(acquired).toBe(0)
      await utimes(path, ahead, ahead)
    }
    const now = new Date()
    await utimes(path, now, now)
    await waiting
    expect(acquired).toBeGreaterThanOrEqual(900)
  })

  it('many waiters take over one stale lock and still run one at a time', async () => {
    await foreignLock({ pid: deadPid(), hostname: hostname() })
    // Caches over one path share an in-process queue; symlinked aliases of the directory get
    // queues of their own, so these four race on the lock files like four processes would.
    const caches = await Promise.all(
      [0, 1, 2, 3].map(async (n) => {
        const alias = join(root, `alias-${n}`)
        await symlink(dir, alias)
        return createDiskCache({ dir: alias, logger })
      }),
    )
    let inside = 0
    let most = 0
    await Promise.all(
      caches.map((cache) =>
        cache.withLock(key, async () => {
          most = Math.max(most, ++inside)
          await sleep(10)
          inside--
        }),
      ),
    )
    expect(most).toBe(1)
    expect(messages.filter((m) => m.includes('Took over'))).toHaveLength(1)
  })
})

describe('aborting', () => {
  it('stops waiting when the signal aborts', async () => {
    await foreignLock({ pid: process.pid, hostname: 'another-host' })
    // staleMs longer than the test's timeout: only the abort can end the wait.
    const cache = createDiskCache({ dir, logger, staleMs: 10 * 60_000 })
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('interrupted')), 100)
    let ran = false
    await expect(
      cache.withLock(
        key,
        async () => {
          ran = true
        },
        { signal: controller.signal },
      ),
    ).rejects.toThrow('interrupted')
    expect(ran).toBe(false)
    // The foreign lock is untouched.
    expect(JSON.parse(await readFile(join(dir, 'locks', `${key}.lock`), 'utf8')).token).toBe('theirs')
  })

  it('stops waiting behind a holder in the same process, and the queue goes on', async () => {
    const cache = createDiskCache({ dir, logger })
    let release!: () => void
    let held!: () => void
    const holding = new Promise<void>((resolve) => (held = resolve))
    const holder = cache.withLock(
      key,
      () =>
        new Promise<void>((resolve) => {
          release = resolve
          held()
        }),
    )
    // Wait for the lock itself, not for a time: on a busy machine 20 ms was not always enough.
    await holding
    const controller = new AbortController()
    const aborted = cache.withLock(key, async () => 'never', { signal: controller.signal })
    const third = cache.withLock(key, async () => 'third')
    controller.abort(new Error('stop'))
    await expect(aborted).rejects.toThrow('stop')
    release()
    await holder
    expect(await third).toBe('third')
  })
})

describe('release', () => {
  it('does not remove a lock that someone else took over', async () => {
    const cache = createDiskCache({ dir, logger, staleMs: 30_000 })
    const path = join(dir, 'locks', `${key}.lock`)
    await cache.withLock(key, async () => {
      // Simulate a takeover by another process while we were stalled.
      await rm(path)
      await writeFile(path, JSON.stringify({ pid: 1, hostname: 'another-host', token: 'theirs' }))
    })
    expect(JSON.parse(await readFile(path, 'utf8')).token).toBe('theirs')
    expect(messages.some((m) => m.startsWith('warn') && m.includes('taken over'))).toBe(true)
  })
})
