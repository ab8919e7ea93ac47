/**
 * The disk cache of generated originals.
 *
 * ```
 * <dir>/originals/<key>.<ext>        committed: real generated originals
 * <dir>/originals/<key>.json         committed: their metadata (CacheEntryMeta)
 * <dir>/moderation/<key>.json        committed: remembered refusals (RefusalRecord, refusal-store.ts)
 * <dir>/placeholders/<key>.<ext>     git-ignored: local placeholder images, and their <key>.json
 * <dir>/variants/...                 git-ignored: derived variants (variant-store.ts)
 * <dir>/locks/<key>.lock             git-ignored: who is generating a key right now
 * <dir>/tmp/                         git-ignored: files being written
 * <dir>/.gitignore                   written on first use
 * ```
 *
 * Every path is built from a request key (checked against REQUEST_KEY_PATTERN), never from a
 * prompt. Every file is written to tmp/ and renamed into place; an image's metadata is written
 * after the image and removed before it, so an entry without metadata is simply missing. Reads
 * check the metadata against the key and the image against its size and sha256: a corrupt entry
 * is reported and never served. Metadata verified or written by this cache is read again only once
 * its file has changed (by stat), and its image is checked on every read. The directory is created
 * on the first write, not on a read.
 */
import { type Stats, statSync } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import * as v from 'valibot'
import { FluxError, fluxError } from '../errors.js'
import { logger, optionsObject, parseOptions, positiveNumber, text } from '../schema.js'
import {
  commitTemp,
  discardTemp,
  removeLeftovers,
  syncDir,
  TEMP_FILE_NAME,
  writeFileAtomic,
  writeTemp,
} from './atomic-write.js'
import {
  type CacheEntry,
  describeEntry,
  entryMismatch,
  fileStamp,
  IMAGE_EXTENSIONS,
  parseMeta,
  previousFile,
} from './cache-entry.js'
import { CACHE_GITIGNORE, CACHE_LAYOUT, type CacheArea } from './cache-layout.js'
import { cacheWriteError, disablesWrites } from './cache-write-error.js'
import { isAbsent, makeDir, readTextIfPresent, reasonOf, statIfPresent, unlinkIfPresent } from './fs-util.js'
import { createKeyLock } from './key-lock.js'
import type { CacheStatus, OriginalStore } from './original-store.js'
import { CACHE_META_VERSION, type CacheEntryMeta } from './records.js'
import { createDiskRefusalStore } from './refusal-store.js'
import { assertKey } from './request-key.js'

export { CACHE_META_VERSION, type CacheEntry, type CacheEntryMeta, type CacheStatus }

/** A lock not refreshed for this long belongs to a process that hung or died on another host. */
const DEFAULT_STALE_MS = 30_000
/** Temp files older than this were left by a crash: a live write takes milliseconds. */
const DEFAULT_TEMP_MAX_AGE_MS = 10 * 60_000
/** A lock draft or a lock set aside by key-lock.ts: `<key>.lock.<12 hex>.new|stale`. */
const LOCK_LEFTOVER = /^[0-9a-f]{24}\.lock\.[0-9a-f]{12}\.(?:new|stale)$/

/**
 * Options of `createDiskCache`: its directory and lock timings. Timings are set by tests and tools,
 * not users.
 */
const DISK_CACHE_OPTIONS = optionsObject({
  /** The cache directory, absolute or relative to the working directory. */
  dir: text(),
  logger,
  /**
   * A lock not refreshed for this long is taken over. A lock of a dead process on this host is
   * taken over at once. @default 30000
   */
  staleMs: v.optional(positiveNumber()),
  /** How often a lock holder refreshes its lock. @default staleMs / 3, at most 5000 */
  heartbeatMs: v.optional(positiveNumber()),
  /** Temp files older than this are deleted when the cache is first used. @default 600000 */
  tempMaxAgeMs: v.optional(positiveNumber()),
})

export type DiskCacheOptions = v.InferInput<typeof DISK_CACHE_OPTIONS>

/** The disk store of originals (see OriginalStore), over one cache directory. */
export interface DiskCache extends OriginalStore {
  /** The absolute cache directory. */
  readonly dir: string
}

type Store = 'originals' | 'placeholders'
type Verdict = { entry: CacheEntry } | { missing: true } | { corrupt: string }

/** A metadata file's identity: its device, then what `fileStamp` says of an image. */
const metaStamp = (stats: Stats) => `${stats.dev}:${fileStamp(stats)}`

/** Creates a cache over `dir`. Nothing is read or written until a method is called. */
export function createDiskCache(options: DiskCacheOptions): DiskCache {
  const o = parseOptions(DISK_CACHE_OPTIONS, options, { path: 'cache' })
  const dir = resolve(o.dir)
  const { logger } = o
  const staleMs = o.staleMs ?? DEFAULT_STALE_MS
  const heartbeatMs = o.heartbeatMs ?? Math.max(10, Math.min(5000, staleMs / 3))
  const tempMaxAgeMs = o.tempMaxAgeMs ?? DEFAULT_TEMP_MAX_AGE_MS
  const tmpDir = join(dir, CACHE_LAYOUT.tmp.dir)
  const areaDir = (area: CacheArea) => join(dir, CACHE_LAYOUT[area].dir)
  const reported = new Set<string>()
  // Originals hashed in this process, by file identity: see entryMismatch.
  const verified = new Map<string, string>()
  // The metadata this cache verified or wrote, by path, with the file's identity then (see look):
  // an entry is read once per process, and not at all after this process wrote it.
  const remembered = new Map<string, { stamp: string; meta: CacheEntryMeta }>()

  /** The first write that failed for want of space or of a writable disk: later ones would too. */
  let unwritable: FluxError | undefined
  const writeError = (err: unknown): FluxError => {
    const error = cacheWriteError(dir, err)
    if (disablesWrites(err)) unwritable ??= error
    return error
  }

  /** Creates the folders a write needs and the `.gitignore`; never called by a read. */
  async function prepare(area: CacheArea): Promise<void> {
    await makeDir(tmpDir)
    await makeDir(areaDir(area))
    const gitignore = join(dir, '.gitignore')
    if ((await readTextIfPresent(gitignore)) === undefined)
      await writeFileAtomic(gitignore, CACHE_GITIGNORE, tmpDir)
  }

  let cleaning: Promise<void> | undefined
  /**
   * Removes what a crash leaves behind, once per cache instance: temp files, and lock drafts or
   * stale locks set aside. Only files this cache names (TEMP_FILE_NAME, LOCK_LEFTOVER), older than
   * `tempMaxAgeMs`, and never through a symbolic link: a `tmp/` that links elsewhere, or a
   * `cacheDir: '.'` whose `tmp/` is the project's own, keeps every file it did not write.
   */
  function ready(): Promise<void> {
    cleaning ??= (async () => {
      const cutoff = Date.now() - tempMaxAgeMs
      let removed = 0
      for (const [folder, leftover] of [
        [tmpDir, TEMP_FILE_NAME],
        [areaDir('locks'), LOCK_LEFTOVER],
      ] as const) {
        const sweep = await removeLeftovers(folder, leftover, cutoff)
        removed += sweep.removed
        if (sweep.skipped !== undefined)
          logger.warn(
            `[flux] Left ${folder} alone when cleaning up after interrupted runs: ${sweep.skipped}. ` +
              'Cache files are written and cleaned only inside the cache directory.',
          )
      }
      if (removed > 0)
        logger.debug?.(`[flux] Removed ${removed} file(s) left in ${dir} by an interrupted run.`)
    })()
    return cleaning
  }

  /**
   * What one synchronous stat tells of an entry's metadata file: nothing there, the metadata this
   * cache last verified or wrote (the file still has the identity it had then: device, inode, size,
   * modification and change times; a writer's rename gives it a new inode), or a file to read, with
   * the identity it had before the read (none when it could not be stat'ed: the read says why).
   */
  function look(metaPath: string): { absent: true } | { known: CacheEntryMeta } | { stamp?: string } {
    let seen: Stats | undefined
    try {
      seen = statSync(metaPath, { throwIfNoEntry: false })
      if (seen === undefined) return { absent: true }
    } catch {
      return {}
    }
    const stamp = metaStamp(seen)
    const known = remembered.get(metaPath)
    return known?.stamp === stamp ? { known: known.meta } : { stamp }
  }

  async function verify(key: string, store: Store): Promise<Verdict> {
    const metaPath = join(areaDir(store), `${key}.json`)
    for (let reads = 0; ; ) {
      const seen = look(metaPath)
      if ('absent' in seen) return { missing: true }
      let text: string | undefined
      let meta: CacheEntryMeta | string
      if ('known' in seen) meta = seen.known
      else {
        reads++
        try {
          text = await readTextIfPresent(metaPath)
        } catch (err) {
          return { corrupt: `its metadata cannot be read: ${reasonOf(err)}` }
        }
        if (text === undefined) return { missing: true }
        meta = parseMeta(text, key)
        if (typeof meta === 'string') return { corrupt: meta }
      }
      const path = join(areaDir(store), meta.file)
      // Remembered metadata is trusted only with its image: the image is checked every time.
      const problem = await entryMismatch(path, meta, verified)
      if (problem === undefined) {
        if ('stamp' in seen && seen.stamp !== undefined) remembered.set(metaPath, { stamp: seen.stamp, meta })
        return { entry: { meta, path, placeholder: store === 'placeholders' } }
      }
      remembered.delete(metaPath)
      // The remembered metadata no longer describes the image: read what is there now.
      if (text === undefined) continue
      // A writer removes the old metadata before it replaces the image: if the metadata changed
      // while we read, we saw a replacement in progress, not a corrupt entry. Look again.
      const now = await readTextIfPresent(metaPath).catch(() => text)
      if (reads < 3 && now !== text) continue
      return { corrupt: problem }
    }
  }

  function report(key: string, reason: string, placeholder: boolean): void {
    const id = `${key}:${placeholder}:${reason}`
    if (reported.has(id)) return
    reported.add(id)
    const err = fluxError('FLUX_CACHE_CORRUPT', {
      key,
      reason: placeholder ? `(placeholder) ${reason}` : reason,
    })
    logger.warn(`${err.message} (${err.code})\n  hint: ${err.hint}`)
  }

  /** Removes the metadata then the image of `key` in `store`; true when anything was there. */
  async function removeEntryFiles(key: string, store: Store): Promise<boolean> {
    let removed = await unlinkIfPresent(join(areaDir(store), `${key}.json`))
    for (const ext of IMAGE_EXTENSIONS) {
      if (await unlinkIfPresent(join(areaDir(store), `${key}.${ext}`))) removed = true
    }
    return removed
  }

  async function listStore(store: Store): Promise<CacheEntryMeta[]> {
    await ready()
    const names = await readdir(areaDir(store)).catch(() => [] as string[])
    const keys = names.flatMap((name) => /^([0-9a-f]{24})\.json$/.exec(name)?.[1] ?? []).sort()
    const metas = await Promise.all(
      keys.map(async (key) => {
        const text = await readTextIfPresent(join(areaDir(store), `${key}.json`)).catch(() => undefined)
        const meta = text === undefined ? undefined : parseMeta(text, key)
        return typeof meta === 'object' ? meta : undefined
      }),
    )
    return metas.filter((meta) => meta !== undefined)
  }

  const refusals = createDiskRefusalStore({
    dir: areaDir('moderation'),
    tmpDir,
    prepare: () => ready().then(() => prepare('moderation')),
    writeError,
  })

  const lock = createKeyLock({
    dir: areaDir('locks'),
    cacheDir: dir,
    logger,
    staleMs,
    heartbeatMs,
    prepare: () => prepare('locks').catch((err: unknown) => Promise.reject(writeError(err))),
  })

  return {
    dir,

    async get(key, opts = {}) {
      assertKey(key)
      await ready()
      const real = await verify(key, 'originals')
      if ('entry' in real) return real.entry
      if ('corrupt' in real) report(key, real.corrupt, false)
      if (!opts.placeholder) return undefined
      const local = await verify(key, 'placeholders')
      if ('entry' in local) return local.entry
      if ('corrupt' in local) report(key, local.corrupt, true)
      return undefined
    },

    async check(key) {
      assertKey(key)
      await ready()
      // Most keys of a first scan have no file in any store: three stats say so without the
      // failed opens (each an error object) that reading them costs. Any other answer, an error
      // included, takes the reads below.
      const areas = ['originals', 'moderation', 'placeholders'] as const
      if (areas.every((area) => isAbsent(join(areaDir(area), `${key}.json`)))) return 'missing'
      const real = await verify(key, 'originals')
      if ('entry' in real) return 'cached'
      if ('corrupt' in real) return 'corrupt'
      if (await refusals.get(key)) return 'moderated'
      return 'entry' in (await verify(key, 'placeholders')) ? 'placeholder' : 'missing'
    },

    async put(key, request, generated, { provider, placeholder }) {
      assertKey(key)
      const meta = describeEntry(key, request, generated, provider)
      await ready()
      const store: Store = placeholder ? 'placeholders' : 'originals'
      const path = join(areaDir(store), meta.file)
      const metaPath = join(areaDir(store), `${key}.json`)
      let imageTmp: string | undefined
      let metaTmp: string | undefined
      try {
        await prepare(store)
        imageTmp = await writeTemp(tmpDir, generated.bytes)
        const seen = look(metaPath)
        const previous =
          'absent' in seen
            ? undefined
            : 'known' in seen
              ? seen.known.file
              : previousFile(await readTextIfPresent(metaPath).catch(() => undefined), key)
        // Metadata leaves first and comes back last: while the image is replaced the entry reads
        // as missing, never as the old metadata over the new image.
        await unlinkIfPresent(metaPath)
        await commitTemp(imageTmp, path)
        imageTmp = undefined
        // The image's identity in place, so later runs know it untouched without hashing it.
        meta.stamp = fileStamp(await stat(path))
        metaTmp = await writeTemp(tmpDir, `${JSON.stringify(meta, null, 2)}\n`)
        await commitTemp(metaTmp, metaPath)
        metaTmp = undefined
        // The file just written: a real entry is put under its key's lock, and a placeholder is
        // the same image whoever writes it (its image is checked on every read anyway).
        const written = statIfPresent(metaPath)
        if (written) remembered.set(metaPath, { stamp: metaStamp(written), meta })
        if (previous !== undefined && previous !== meta.file)
          await unlinkIfPresent(join(areaDir(store), previous))
        await syncDir(areaDir(store))
        if (!placeholder) {
          await removeEntryFiles(key, 'placeholders')
          await refusals.remove(key)
        }
      } catch (err) {
        await discardTemp(imageTmp)
        await discardTemp(metaTmp)
        throw writeError(err)
      }
      for (const id of reported) if (id.startsWith(`${key}:`)) reported.delete(id)
      return { meta, path, placeholder }
    },

    // Async, so a bad key rejects like every other method rather than throwing where it is called.
    refusals: {
      get: async (key) => refusals.get(assertKey(key)),
      put: async (key, request, detail) => refusals.put(assertKey(key), request, detail),
      remove: async (key) => refusals.remove(assertKey(key)),
    },

    async withLock(key, fn, opts) {
      assertKey(key)
      if (unwritable) throw unwritable
      try {
        return await lock(key, fn, opts)
      } catch (err) {
        // The lock file itself may be what no longer fits.
        if (FluxError.is(err, 'FLUX_CACHE_WRITE') && disablesWrites(err)) unwritable ??= err
        throw err
      }
    },

    list: () => listStore('originals'),
    listPlaceholders: () => listStore('placeholders'),

    async keys() {
      await ready()
      const found = new Set<string>()
      for (const area of ['originals', 'placeholders', 'moderation'] as const) {
        for (const name of await readdir(areaDir(area)).catch(() => [] as string[])) {
          const key = /^([0-9a-f]{24})\./.exec(name)?.[1]
          if (key !== undefined) found.add(key)
        }
      }
      return [...found].sort()
    },

    async remove(key) {
      assertKey(key)
      try {
        const real = await removeEntryFiles(key, 'originals')
        const local = await removeEntryFiles(key, 'placeholders')
        const refusal = await refusals.remove(key)
        return real || local || refusal
      } catch (err) {
        throw writeError(err)
      }
    },
  }
}
