import { randomBytes } from 'node:crypto'
import { type FileHandle, link, open, rename, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { FluxError } from '../errors.js'
import type { Logger } from '../types.js'
import { cacheWriteError } from './cache-write-error.js'
import { codeOf } from './fs-util.js'

/** A waiter's first poll delay; it grows to POLL_MAX_MS, with jitter so waiters do not march in step. */
const POLL_MIN_MS = 15
/** A lock is released within this long of its holder finishing, at worst. */
const POLL_MAX_MS = 250

/** What a lock file holds: who took it, and a token that tells our lock from a later one. */
export interface LockInfo {
  pid: number
  hostname: string
  /** ISO time the lock was taken. */
  started: string
  token: string
}

export interface KeyLockOptions {
  /** Directory of the `<key>.lock` files. */
  dir: string
  /** The cache directory, named in errors. */
  cacheDir: string
  logger: Logger
  /** A lock not refreshed for this long is stale and taken over. */
  staleMs: number
  /** How often a holder refreshes its lock's mtime; well under `staleMs`. */
  heartbeatMs: number
  /** Creates `dir` (and whatever else the cache needs) before the first lock file. */
  prepare: () => Promise<void>
}

export type WithLock = <T>(key: string, fn: () => Promise<T>, opts?: { signal?: AbortSignal }) => Promise<T>

// Waiters in this process queue here rather than polling the file; keyed by lock path, so two
// caches over one directory in one process share it. The file lock still guards other processes.
const queues = new Map<string, Promise<void>>()

/**
 * Cross-process mutual exclusion per key, over lock files created with an exclusive open.
 *
 * - The holder refreshes the lock's mtime every `heartbeatMs` (an unref'd timer).
 * - A waiter polls with jittered delays and takes over a stale lock: one whose process is gone
 *   (same host only: pids mean nothing across hosts) or that was not refreshed for `staleMs`.
 * - Takeover happens under a `<key>.lock.takeover` guard (itself an exclusive create), and the
 *   staleness is checked again under it, so two waiters never both remove a lock: the second finds
 *   the first's fresh lock. The stale lock is renamed aside and checked (inode and token) before it
 *   is removed, and a lock moved by mistake is linked back.
 * - Release removes the lock only if it still holds our token.
 *
 * Kept over proper-lockfile (weighed for issue 17): its lock is an mtime-dated directory with no
 * owner, so a lock left by a killed build is only taken over once `stale` has passed (run in place
 * of this one, test/cache-processes.test.ts's killed-worker case waited out its 10-minute staleMs
 * where this lock sees the dead pid at once); its stale takeover is rmdir-then-mkdir, which lets
 * two waiters both hold the lock (moxystudio/node-proper-lockfile#121, open), i.e. pay twice; and
 * its waits take no AbortSignal, so Ctrl-C cannot stop a build waiting on a key.
 */
export function createKeyLock(opts: KeyLockOptions): WithLock {
  const { logger, staleMs } = opts

  const info = (): LockInfo => ({
    pid: process.pid,
    hostname: hostname(),
    started: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
  })

  const writeError = (err: unknown): FluxError => cacheWriteError(opts.cacheDir, err)

  interface Held {
    token: string
    release(): Promise<void>
  }

  async function tryCreate(path: string): Promise<Held | undefined> {
    const mine = info()
    const handle = await createWithContent(path, JSON.stringify(mine))
    if (handle === undefined) return undefined
    const timer = setInterval(() => {
      const now = new Date()
      // Refreshing through our own handle never touches a lock that replaced ours.
      handle.utimes(now, now).catch(() => {})
    }, opts.heartbeatMs)
    timer.unref()
    return {
      token: mine.token,
      async release() {
        clearInterval(timer)
        await handle.close().catch(() => {})
        const current = await inspect(path)
        if (current?.token === mine.token) {
          await unlink(path).catch(() => {})
        } else {
          logger.warn(
            `[flux] The lock ${path} was taken over while held (not refreshed for ${staleMs} ms); ` +
              'this image may have been generated twice.',
          )
        }
      },
    }
  }

  interface Inspection {
    ino: number
    token: string | undefined
    stale: string | undefined
  }

  async function inspect(path: string): Promise<Inspection | undefined> {
    let handle: FileHandle
    try {
      handle = await open(path, 'r')
    } catch (err) {
      if (codeOf(err) === 'ENOENT') return undefined
      throw err
    }
    try {
      // One handle for both, so the stat and the content are of the same file.
      const st = await handle.stat()
      const found = parseInfo(await handle.readFile('utf8'))
      let stale: string | undefined
      if (found && found.hostname === hostname() && !isAlive(found.pid)) {
        stale = `its process ${found.pid} is gone`
      } else if (Date.now() - st.mtimeMs > staleMs) {
        stale = `it was not refreshed for ${Math.round(Date.now() - st.mtimeMs)} ms`
      }
      return { ino: st.ino, token: found?.token, stale }
    } finally {
      await handle.close()
    }
  }

  /** Removes `path` if it is still the file `seen` describes; true when it did. */
  async function removeIfSame(path: string, seen: Inspection): Promise<boolean> {
    const aside = `${path}.${randomBytes(6).toString('hex')}.stale`
    try {
      await rename(path, aside)
    } catch (err) {
      if (codeOf(err) === 'ENOENT') return false
      throw err
    }
    try {
      const moved = await inspect(aside)
      if (moved === undefined || moved.ino !== seen.ino || moved.token !== seen.token) {
        // A newer lock replaced the one we judged stale: put it back, unless yet another exists.
        await link(aside, path).catch(() => {})
        return false
      }
      return true
    } finally {
      await unlink(aside).catch(() => {})
    }
  }

  /** Takes over a stale lock under the takeover guard; true when the lock was removed. */
  async function takeOver(key: string, path: string, seen: Inspection): Promise<boolean> {
    const guardPath = `${path}.takeover`
    const guard = await tryCreate(guardPath)
    if (!guard) {
      // Another waiter is taking over. A guard left by a crash is cleared the same way as a lock.
      const other = await inspect(guardPath)
      if (other?.stale !== undefined) await removeIfSame(guardPath, other)
      return false
    }
    try {
      const again = await inspect(path)
      if (again === undefined) return true
      if (again.stale === undefined || again.ino !== seen.ino || again.token !== seen.token) return false
      if (!(await removeIfSame(path, again))) return false
      logger.info(`[flux] Took over the stale lock of cache entry ${key}: ${again.stale}.`)
      return true
    } finally {
      await guard.release()
    }
  }

  async function acquire(key: string, signal: AbortSignal | undefined): Promise<Held> {
    const path = join(opts.dir, `${key}.lock`)
    await opts.prepare()
    let delay = POLL_MIN_MS
    for (let recreated = 0; ; ) {
      signal?.throwIfAborted()
      let held: Held | undefined
      try {
        held = await tryCreate(path)
      } catch (err) {
        // The lock directory vanished (someone cleared the cache): recreate it, once.
        if (codeOf(err) === 'ENOENT' && recreated++ === 0) {
          await opts.prepare()
          continue
        }
        throw err
      }
      if (held) return held
      const seen = await inspect(path)
      if (seen === undefined) continue
      if (seen.stale !== undefined && (await takeOver(key, path, seen))) continue
      await sleep(delay * (0.5 + Math.random()), signal)
      delay = Math.min(delay * 1.5, POLL_MAX_MS)
    }
  }

  return async function withLock<T>(
    key: string,
    fn: () => Promise<T>,
    { signal }: { signal?: AbortSignal } = {},
  ): Promise<T> {
    const path = join(opts.dir, `${key}.lock`)
    const previous = queues.get(path) ?? Promise.resolve()
    let done!: () => void
    const tail = previous.then(() => new Promise<void>((resolve) => (done = resolve)))
    queues.set(path, tail)
    try {
      await abortable(previous, signal)
      let held: Held
      try {
        held = await acquire(key, signal)
      } catch (err) {
        if (signal?.aborted && err === signal.reason) throw err
        throw writeError(err)
      }
      try {
        return await fn()
      } finally {
        await held.release()
      }
    } finally {
      // `done` is assigned once `previous` settles; defer until then if we were aborted earlier.
      void previous.then(() => done())
      void tail.then(() => {
        if (queues.get(path) === tail) queues.delete(path)
      })
    }
  }
}

/**
 * Creates `path` holding `content`, or returns undefined when it exists. The content is written
 * to a draft first and hard-linked into place, so a lock file is never seen empty: a process
 * killed between create and write would otherwise leave a lock that only age can clear.
 * Returns an open handle on the file (for the heartbeat).
 */
async function createWithContent(path: string, content: string): Promise<FileHandle | undefined> {
  const draft = `${path}.${randomBytes(6).toString('hex')}.new`
  const handle = await open(draft, 'wx', 0o644)
  try {
    await handle.writeFile(content)
    await link(draft, path)
    return handle
  } catch (err) {
    await handle.close().catch(() => {})
    if (codeOf(err) === 'EEXIST') return undefined
    if (!NO_HARD_LINKS.has(codeOf(err) ?? '')) throw err
    return createInPlace(path, content)
  } finally {
    await unlink(draft).catch(() => {})
  }
}

/** Errors of filesystems without hard links (some network and FAT mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'])

/** The fallback without hard links: exclusive create, then write (briefly empty). */
async function createInPlace(path: string, content: string): Promise<FileHandle | undefined> {
  let handle: FileHandle
  try {
    handle = await open(path, 'wx', 0o644)
  } catch (err) {
    if (codeOf(err) === 'EEXIST') return undefined
    throw err
  }
  try {
    await handle.writeFile(content)
    return handle
  } catch (err) {
    await handle.close().catch(() => {})
    await unlink(path).catch(() => {})
    throw err
  }
}

function parseInfo(text: string): Partial<LockInfo> | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null ? (value as Partial<LockInfo>) : undefined
  } catch {
    // Empty while its creator is still writing it, or garbage: judged by age alone.
    return undefined
  }
}

function isAlive(pid: unknown): boolean {
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return codeOf(err) === 'EPERM'
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const slept = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms)
  })
  return abortable(slept, signal).finally(() => clearTimeout(timer))
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}
