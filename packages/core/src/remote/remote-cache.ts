/**
 * The layered store: the local disk store stays primary, a bucket behind it is read through and
 * written back with the same layout, so a fleet of machines shares its originals and pays once.
 *
 * ```
 * <prefix>/originals/<key>.<ext>     the image, written first
 * <prefix>/originals/<key>.json      its metadata (without the local `stamp`), written last
 * <prefix>/moderation/<key>.json     a remembered refusal
 * <prefix>/leases/<key>              who is paying for a key right now (leases.ts)
 * ```
 *
 * A downloaded original is checked against its metadata (size, sha256) before the local store
 * keeps it; one that does not match is reported and treated as missing, never served. A remote
 * that refuses, fails or hangs is warned about once, then left alone: the store goes on as the
 * local store would, and never fails an operation the local store can complete.
 */
import { createHash } from 'node:crypto'
import { type CacheEntry, IMAGE_EXTENSIONS, parseMeta } from '../cache/cache-entry.js'
import { CACHE_LAYOUT } from '../cache/cache-layout.js'
import type { OriginalStore } from '../cache/original-store.js'
import {
  CACHE_META_VERSION,
  type CacheEntryMeta,
  parseRecord,
  RefusalRecordSchema,
} from '../cache/records.js'
import type { RefusalStore } from '../cache/refusal-store.js'
import { assertKey } from '../cache/request-key.js'
import { FluxError, fluxError } from '../errors.js'
import type { Logger } from '../types.js'
import type { Leases } from './leases.js'
import type { S3Client } from './s3-client.js'

export interface RemoteCacheOptions {
  /** The primary store: every answer comes from it, every download is kept in it. */
  local: OriginalStore
  client: S3Client
  /** Leases in the same bucket (`createLeases`); read-write mode takes one before paying for a key. */
  leases: Leases
  /** `read-only` (untrusted builds): reads through, never writes to the bucket. */
  mode: 'read-write' | 'read-only'
  logger: Logger
}

const ORIGINALS = `${CACHE_LAYOUT.originals.dir}/`
const MODERATION = `${CACHE_LAYOUT.moderation.dir}/`

type Fetched = { entry: CacheEntry } | { missing: true } | { corrupt: string }

/** The remote could not be used; the store has gone local. */
const OFF = Symbol('remote off')

/** A store of originals over `local`, shared through the bucket of `client`. */
export function createRemoteCache(options: RemoteCacheOptions): OriginalStore {
  const { local, client, leases, mode, logger } = options
  const writes = mode === 'read-write'
  /** The first failure of the remote: from then on this store is local only. */
  let down: FluxError | undefined
  const reported = new Set<string>()
  const fetching = new Map<string, Promise<Fetched>>()

  /** `op`'s result, or OFF once the remote has failed (warned about once per store). */
  async function remote<T>(op: () => Promise<T>): Promise<T | typeof OFF> {
    if (down) return OFF
    try {
      return await op()
    } catch (err) {
      // Not outages: the caller stopped, or another build is alive and still paying for the key.
      if (FluxError.is(err, 'FLUX_INTERRUPTED') || FluxError.is(err, 'FLUX_REMOTE_LEASE_WAIT')) throw err
      if (!down) {
        down = FluxError.is(err)
          ? err
          : fluxError('FLUX_REMOTE_UNAVAILABLE', {
              request: client.location,
              attempts: 1,
              detail: err instanceof Error ? err.message : String(err),
            })
        logger.warn(
          `[flux] ${down.message} (${down.code}). This build goes on with the local cache only: ` +
            `nothing more is read from or written to ${client.location}.\n  hint: ${down.hint}`,
        )
      }
      return OFF
    }
  }

  function report(key: string, reason: string): void {
    if (reported.has(`${key}:${reason}`)) return
    reported.add(`${key}:${reason}`)
    const err = fluxError('FLUX_CACHE_CORRUPT', { key, reason: `(in ${client.location}) ${reason}` })
    logger.warn(`${err.message} (${err.code}); it is not used.\n  hint: ${err.hint}`)
  }

  /** Downloads the original of `key`, verifies it against its metadata and keeps it locally. */
  function fetchOriginal(key: string): Promise<Fetched> {
    let pending = fetching.get(key)
    if (!pending) {
      pending = download(key).finally(() => fetching.delete(key))
      fetching.set(key, pending)
    }
    return pending
  }

  async function download(key: string): Promise<Fetched> {
    const metaObject = await remote(() => client.get(`${ORIGINALS}${key}.json`))
    if (metaObject === OFF || metaObject === undefined) return { missing: true }
    const meta = parseMeta(metaObject.body.toString('utf8'), key)
    if (typeof meta === 'string') return { corrupt: meta }
    const image = await remote(() => client.get(`${ORIGINALS}${meta.file}`))
    if (image === OFF) return { missing: true }
    if (image === undefined) return { corrupt: 'its image file is missing' }
    const problem = mismatch(image.body, meta)
    if (problem) return { corrupt: problem }
    const created = Date.parse(meta.created) / 1000
    const entry = await local.put(
      key,
      meta.request,
      {
        bytes: image.body,
        format: meta.format,
        width: meta.width,
        height: meta.height,
        created,
        ...(meta.revisedPrompt === undefined ? {} : { revisedPrompt: meta.revisedPrompt }),
      },
      { provider: meta.provider, placeholder: false },
    )
    return { entry }
  }

  /** The original of `key` from the local store, else from the bucket; a bad download is reported. */
  async function original(key: string): Promise<CacheEntry | undefined> {
    const kept = await local.get(key)
    if (kept) return kept
    const fetched = await fetchOriginal(key)
    if ('corrupt' in fetched) report(key, fetched.corrupt)
    return 'entry' in fetched ? fetched.entry : undefined
  }

  /** Uploads an entry stored locally: image first, metadata last, then clears a remote refusal. */
  async function writeBack(entry: CacheEntry, bytes: Uint8Array): Promise<void> {
    if (!writes) return
    const { stamp: _local, ...meta } = entry.meta
    await remote(async () => {
      await client.put(`${ORIGINALS}${meta.file}`, bytes, { contentType: `image/${meta.format}` })
      await client.put(`${ORIGINALS}${meta.key}.json`, `${JSON.stringify(meta, null, 2)}\n`, {
        contentType: 'application/json',
      })
      await client.delete(`${MODERATION}${meta.key}.json`)
    })
  }

  const refusals: RefusalStore = {
    async get(key) {
      assertKey(key)
      const kept = await local.refusals.get(key)
      if (kept) return kept
      const found = await remote(() => client.get(`${MODERATION}${key}.json`))
      if (found === OFF || found === undefined) return undefined
      const record = parseRecord(RefusalRecordSchema, found.body.toString('utf8'), key, CACHE_META_VERSION)
      if (typeof record === 'string') return undefined
      await local.refusals.put(key, record.request, record.detail)
      return local.refusals.get(key)
    },
    async put(key, request, detail) {
      assertKey(key)
      await local.refusals.put(key, request, detail)
      const record = await local.refusals.get(key)
      if (!writes || !record) return
      await remote(() =>
        client.put(`${MODERATION}${key}.json`, `${JSON.stringify(record, null, 2)}\n`, {
          contentType: 'application/json',
        }),
      )
    },
    async remove(key) {
      assertKey(key)
      const removed = await local.refusals.remove(key)
      if (writes) await remote(() => client.delete(`${MODERATION}${key}.json`))
      return removed
    },
  }

  /** True when the bucket holds an answer for `key`: an original's metadata or a refusal. */
  async function answered(key: string): Promise<boolean> {
    const found = await remote(async () =>
      Boolean(
        (await client.head(`${ORIGINALS}${key}.json`)) ?? (await client.head(`${MODERATION}${key}.json`)),
      ),
    )
    return found === true
  }

  return {
    async get(key, opts = {}) {
      assertKey(key)
      const entry = await original(key)
      if (entry || !opts.placeholder) return entry
      return local.get(key, { placeholder: true })
    },

    async check(key) {
      assertKey(key)
      const status = await local.check(key)
      if (status === 'cached' || status === 'moderated') return status
      const fetched = await fetchOriginal(key)
      if ('entry' in fetched) return 'cached'
      if ('corrupt' in fetched) return 'corrupt'
      if (status === 'corrupt') return status
      if (await refusals.get(key)) return 'moderated'
      return status
    },

    async put(key, request, generated, opts) {
      const entry = await local.put(key, request, generated, opts)
      if (!opts.placeholder) await writeBack(entry, generated.bytes)
      return entry
    },

    refusals,

    withLock(key, fn, opts = {}) {
      return local.withLock(
        key,
        async () => {
          if (!writes) return fn()
          for (;;) {
            let outcome: Awaited<ReturnType<Leases['acquire']>> | typeof OFF
            try {
              outcome = await remote(() => leases.acquire(key, { signal: opts.signal }))
            } catch (err) {
              // Interrupted while waiting for another build: the caller's reason, as the local lock gives it.
              throw opts.signal?.aborted ? opts.signal.reason : err
            }
            if (outcome === OFF) return fn()
            if (outcome.status === 'acquired') {
              const { lease } = outcome
              try {
                return await fn()
              } finally {
                // Released even when the remote failed meanwhile: it stops the renewals, or the
                // lease would stay fresh, and the fleet wait, for as long as this process lives.
                await lease.release().catch((err: unknown) => remote(() => Promise.reject(err)))
              }
            }
            // Another build held the lease and let it go: its result is read through by `fn`'s
            // `get`. With no result (it failed), this build tries for the lease again.
            if ((await answered(key)) || down) return fn()
          }
        },
        opts,
      )
    },

    list: () => local.list(),
    listPlaceholders: () => local.listPlaceholders(),
    keys: () => local.keys(),

    async remove(key) {
      const removed = await local.remove(key)
      if (writes) {
        await remote(async () => {
          await client.delete(`${ORIGINALS}${key}.json`)
          for (const ext of IMAGE_EXTENSIONS) await client.delete(`${ORIGINALS}${key}.${ext}`)
          await client.delete(`${MODERATION}${key}.json`)
        })
      }
      return removed
    },
  }
}

/** Why downloaded bytes do not match their metadata, or undefined when they do. */
function mismatch(bytes: Buffer, meta: CacheEntryMeta): string | undefined {
  if (bytes.length !== meta.bytes)
    return `its image has ${bytes.length} bytes, its metadata says ${meta.bytes}`
  if (createHash('sha256').update(bytes).digest('hex') !== meta.sha256)
    return 'its image content does not match its sha256'
  return undefined
}
