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
 * Whoever can write to the bucket is not trusted with this checkout's cache: a record is read up to
 * MAX_RECORD_BYTES, its request must hash to its key, and a downloaded original must match its
 * metadata (size, sha256, and a header within the decode budget saying its format and dimensions)
 * before the local store keeps it; one that does not is reported and treated as missing, never
 * served. Text from the bucket reaches messages through `quote`. A remote that refuses, fails or
 * hangs is warned about once, then left alone: the store goes on as the local store would, and
 * never fails an operation the local store can complete.
 *
 * Before its first lease the store asks the bucket, once, whether it honours conditional writes;
 * one that ignores them is named in a warning, and the store goes on without leases (builds at the
 * same time may pay twice). `check` reads a key's metadata (kept for the download), `get` downloads
 * its image. `remove` is local only: the bucket is shared with other branches. `push` and `pull`
 * move what the other side lacks.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import pLimit from 'p-limit'
import { type CacheEntry, parseMeta } from '../cache/cache-entry.js'
import { CACHE_LAYOUT } from '../cache/cache-layout.js'
import type { OriginalStore, RemoteSide, RemoteStats, TransferResult } from '../cache/original-store.js'
import {
  CACHE_META_VERSION,
  type CacheEntryMeta,
  parseRecord,
  type RefusalRecord,
  RefusalRecordSchema,
} from '../cache/records.js'
import type { RefusalStore } from '../cache/refusal-store.js'
import { assertKey, isRequestKey, requestKey } from '../cache/request-key.js'
import { FluxError, fluxError } from '../errors.js'
import { quote } from '../redact.js'
import { type ImageHeader, readImageHeader } from '../sharp.js'
import type { Logger } from '../types.js'
import { createLeases, type Lease, type Leases } from './leases.js'
import { probeConditionalWrites } from './probe-conditional-writes.js'
import type { RemoteConfig, RemoteMode } from './remote-config.js'
import { createS3Client, ObjectTooLarge, type S3Client } from './s3-client.js'

export interface RemoteCacheOptions {
  /** The primary store: every answer comes from it, every download is kept in it. */
  local: OriginalStore
  client: S3Client
  /** Leases in the same bucket (`createLeases`); read-write mode takes one before paying for a key. */
  leases: Leases
  /** `read-only` (untrusted builds): reads through, never writes to the bucket. */
  mode: RemoteMode
  logger: Logger
}

/** Transfers at once: each holds an original (a few MB) in memory until it is verified and kept, or sent. */
const TRANSFER_CONCURRENCY = 8

/** The layered store of `config`'s bucket over `local`, with its own client and leases (closed by `close`). */
export function openRemoteCache(
  config: RemoteConfig,
  local: OriginalStore,
  logger: Logger,
): OriginalStore & { remote: RemoteSide } {
  const client = createS3Client(config)
  const leases = createLeases({ client, staleMs: config.leaseStaleMs, logger })
  return createRemoteCache({ local, client, leases, mode: config.mode, logger })
}

/**
 * The most bytes read of one metadata or refusal record in the bucket: a real one is under 8 KiB
 * (a 4,000-character revised prompt included), and a planted one larger costs no more than this.
 */
export const MAX_RECORD_BYTES = 64 * 1024

/** Names a warning lists before `and N more`. */
const MAX_NAMES_SHOWN = 5

const ORIGINALS = `${CACHE_LAYOUT.originals.dir}/`
const MODERATION = `${CACHE_LAYOUT.moderation.dir}/`

type Fetched = { entry: CacheEntry } | { missing: true } | { corrupt: string }

/** The remote could not be used; the store has gone local. */
const OFF = Symbol('remote off')

/** A store of originals over `local`, shared through the bucket of `client`. */
export function createRemoteCache(options: RemoteCacheOptions): OriginalStore & { remote: RemoteSide } {
  const { local, client, leases, mode, logger } = options
  const writes = mode === 'read-write'
  /** The first failure of the remote: from then on this store is local only. */
  let down: FluxError | undefined
  // The leases this build holds, by key, with the job a dead holder had paid for under one taken over.
  const held = new Map<string, { lease: Lease; job: unknown }>()
  const reported = new Set<string>()
  /** Keys whose remote original failed verification: `check` says corrupt until one is stored. */
  const refused = new Set<string>()
  const fetching = new Map<string, Promise<Fetched>>()
  /** Metadata read by `check` (a scan), kept for the download that usually follows: a request fewer per key. */
  const looked = new Map<string, CacheEntryMeta>()
  /** Refusals read from the bucket in read-only mode, kept for this run only. */
  const seenRefusals = new Map<string, RefusalRecord>()
  const downloads = pLimit(TRANSFER_CONCURRENCY)
  const stats: RemoteStats = { downloaded: 0, downloadedBytes: 0, uploaded: 0, uploadedBytes: 0 }
  /** Whether leases can be trusted here: asked once, before the first one. */
  let leasing: Promise<boolean> | undefined

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
          `${down.message} (${down.code}). This build goes on with the local cache only: ` +
            `nothing more is read from or written to ${client.location}.\n  hint: ${down.hint}`,
        )
      }
      return OFF
    }
  }

  /** A remote original that failed verification: reported once, and `check` says corrupt. */
  function refuse(key: string, reason: string): void {
    refused.add(key)
    warnCorrupt(key, reason, 'it is not used')
  }

  /** FLUX_CACHE_CORRUPT for a record of the bucket, once per key and reason. */
  function warnCorrupt(key: string, reason: string, outcome: string): void {
    if (reported.has(`${key}:${reason}`)) return
    reported.add(`${key}:${reason}`)
    const err = fluxError('FLUX_CACHE_CORRUPT', { key, reason: `(in ${client.location}) ${reason}` })
    logger.warn(`${err.message} (${err.code}); ${outcome}.\n  hint: ${err.hint}`)
  }

  /** Downloads the original of `key`, verifies it against its metadata and keeps it locally. */
  function fetchOriginal(key: string): Promise<Fetched> {
    let pending = fetching.get(key)
    if (!pending) {
      pending = downloads(() => download(key)).finally(() => fetching.delete(key))
      fetching.set(key, pending)
    }
    return pending
  }

  /**
   * The text of a record in the bucket (metadata, refusal), read up to MAX_RECORD_BYTES; why not
   * when it is larger (a predicate, "is over ..."); undefined when absent; OFF when the remote failed.
   */
  async function readRecord(name: string): Promise<{ text: string } | string | undefined | typeof OFF> {
    const found = await remote(() =>
      client.get(name, { maxBytes: MAX_RECORD_BYTES }).catch((err: unknown) => {
        if (err instanceof ObjectTooLarge) return err
        throw err
      }),
    )
    if (found instanceof ObjectTooLarge)
      return `is over ${MAX_RECORD_BYTES} bytes (a real one is under 8 KiB)`
    if (found === OFF || found === undefined) return found
    return { text: found.body.toString('utf8') }
  }

  /** The bucket's metadata of `key`: parsed, a reason it cannot be, undefined when absent, OFF when the remote failed. */
  async function readMeta(key: string): Promise<CacheEntryMeta | string | undefined | typeof OFF> {
    const found = await readRecord(`${ORIGINALS}${key}.json`)
    if (typeof found !== 'object') return typeof found === 'string' ? `its metadata ${found}` : found
    const meta = parseMeta(found.text, key)
    // Anyone who can write to the bucket could file another prompt's image (or any image) under this key.
    if (typeof meta === 'object' && requestKey(meta.request) !== key)
      return "its metadata's request does not hash to its key"
    return meta
  }

  /** Downloads, verifies and keeps `key`'s image, with the metadata a scan read if it did. */
  async function download(key: string, remembered = looked.get(key)): Promise<Fetched> {
    looked.delete(key)
    const meta = remembered ?? (await readMeta(key))
    if (meta === OFF || meta === undefined) return { missing: true }
    if (typeof meta === 'string') return { corrupt: meta }
    const image = await remote(() => client.get(`${ORIGINALS}${meta.file}`))
    if (image === OFF) return { missing: true }
    const problem = image === undefined ? 'its image file is missing' : await mismatch(image.body, meta)
    if (problem && remembered) {
      // The metadata a scan read may have been replaced since (a key repaired meanwhile).
      const fresh = await readMeta(key)
      if (fresh !== OFF && typeof fresh === 'object' && fresh.sha256 !== remembered.sha256)
        return download(key, fresh)
    }
    if (problem || image === undefined) return { corrupt: problem ?? 'its image file is missing' }
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
    stats.downloaded++
    stats.downloadedBytes += image.body.length
    return { entry }
  }

  /** The original of `key` from the local store, else from the bucket; a bad download is reported. */
  async function original(key: string): Promise<CacheEntry | undefined> {
    const kept = await local.get(key)
    if (kept) return kept
    const fetched = await fetchOriginal(key)
    if ('corrupt' in fetched) refuse(key, fetched.corrupt)
    return 'entry' in fetched ? fetched.entry : undefined
  }

  /** Uploads an entry stored locally: image first, metadata last, then clears the key's refusal. */
  async function writeBack(entry: CacheEntry, bytes: Uint8Array, { refused = false } = {}): Promise<void> {
    if (!writes) return
    const { stamp: _local, ...meta } = entry.meta
    await remote(async () => {
      await client.put(`${ORIGINALS}${meta.file}`, bytes, { contentType: `image/${meta.format}` })
      await client.put(`${ORIGINALS}${meta.key}.json`, `${JSON.stringify(meta, null, 2)}\n`, {
        contentType: 'application/json',
      })
      // A refusal this cache knew of (so shared) is cleared; none known, no request.
      if (refused) await client.delete(`${MODERATION}${meta.key}.json`)
      stats.uploaded++
      stats.uploadedBytes += bytes.length
    })
  }

  /**
   * True when leases work in this bucket. A store that ignores conditional writes would let two
   * builds both win one lease: said once, and this store goes on without leases (may pay twice).
   */
  function leasesWork(): Promise<boolean> {
    leasing ??= remote(() => probeConditionalWrites(client)).then((support) => {
      if (support === OFF) return false
      if (!support.supported) {
        const ignored = [!support.ifNoneMatch && 'If-None-Match', !support.ifMatch && 'If-Match'].filter(
          Boolean,
        )
        logger.warn(
          `[flux] ${client.location} ignores conditional writes (${ignored.join(', ')}): leases cannot stop two builds from generating one image, so they are off, and builds sharing this bucket at the same time may pay twice for an image (each keeps the first stored).\n` +
            '  hint: Use a store that honours conditional writes (AWS S3, Cloudflare R2, MinIO, Google Cloud Storage), or run one build at a time against this bucket.',
        )
      }
      return support.supported
    })
    return leasing
  }

  /**
   * The bucket's refusal of `key`, checked as an original's metadata is (read up to
   * MAX_RECORD_BYTES, its request must hash to the key); why not, as a predicate; undefined when
   * absent or the remote failed.
   */
  async function readRefusal(key: string): Promise<RefusalRecord | string | undefined> {
    const found = await readRecord(`${MODERATION}${key}.json`)
    if (found === OFF || found === undefined || typeof found === 'string')
      return found === OFF ? undefined : found
    const record = parseRecord(RefusalRecordSchema, found.text, key, CACHE_META_VERSION)
    if (typeof record === 'object' && requestKey(record.request) !== key)
      return 'has a request that does not hash to its key'
    return record
  }

  const refusals: RefusalStore = {
    async get(key) {
      assertKey(key)
      const kept = (await local.refusals.get(key)) ?? seenRefusals.get(key)
      if (kept) return kept
      const record = await readRefusal(key)
      if (typeof record === 'string') {
        warnCorrupt(key, `its refusal record ${record}`, 'it is ignored')
        return undefined
      }
      if (!record) return undefined
      // Read-only builds are the untrusted ones: the bucket's refusal holds for this run, and is
      // not written into the folder users commit.
      if (!writes) {
        seenRefusals.set(key, record)
        return record
      }
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
      const forgotten = seenRefusals.delete(key)
      const removed = (await local.refusals.remove(key)) || forgotten
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

  /**
   * The keys of every original in the bucket (their metadata objects). A metadata name that is not
   * `<key>.json` (a README, `../x.json`) is skipped, and the skipped names said in one warning.
   * Throws when the remote fails.
   */
  async function remoteKeys(): Promise<Set<string>> {
    const keys = new Set<string>()
    const skipped: string[] = []
    for await (const object of client.list(ORIGINALS)) {
      const name = object.key.slice(ORIGINALS.length)
      if (!name.endsWith('.json')) continue
      const key = name.slice(0, -'.json'.length)
      if (isRequestKey(key)) keys.add(key)
      else skipped.push(name)
    }
    if (skipped.length > 0) {
      const shown = skipped.slice(0, MAX_NAMES_SHOWN).map(quote).join(', ')
      const more = skipped.length > MAX_NAMES_SHOWN ? ` and ${skipped.length - MAX_NAMES_SHOWN} more` : ''
      logger.warn(
        `[flux] Skipped ${skipped.length} object(s) in ${client.location}${ORIGINALS} whose names are not cache keys: ${shown}${more}.\n` +
          '  hint: Only this cache writes there, as `<24 hex characters>.json`; remove the others from the bucket.',
      )
    }
    return keys
  }

  /** Throws the remote's failure if one happened during a push or a pull: they exist to move files. */
  function throwIfDown(): void {
    if (down) throw down
  }

  async function pull(): Promise<TransferResult> {
    const result: TransferResult = { moved: 0, bytes: 0, present: 0, refused: [] }
    const keys = await remoteKeys()
    const checks = pLimit(TRANSFER_CONCURRENCY)
    await Promise.all(
      [...keys].map((key) =>
        checks(async () => {
          if ((await local.check(key)) === 'cached') {
            result.present++
            return
          }
          const fetched = await fetchOriginal(key)
          if ('entry' in fetched) {
            result.moved++
            result.bytes += fetched.entry.meta.bytes
          } else if ('corrupt' in fetched) {
            refuse(key, fetched.corrupt)
            result.refused.push(key)
          }
        }),
      ),
    )
    throwIfDown()
    return result
  }

  async function push(): Promise<TransferResult> {
    if (!writes) throw fluxError('FLUX_REMOTE_CONFIG', { problems: ['remote.mode: push needs "read-write"'] })
    const result: TransferResult = { moved: 0, bytes: 0, present: 0, refused: [] }
    const keys = await remoteKeys()
    const uploads = pLimit(TRANSFER_CONCURRENCY)
    await Promise.all(
      (await local.list()).map((meta) =>
        uploads(async () => {
          if (keys.has(meta.key)) {
            result.present++
            return
          }
          // Verified before it is shared: a damaged local file is reported by `get`, not uploaded.
          const entry = await local.get(meta.key)
          if (!entry) {
            result.refused.push(meta.key)
            return
          }
          const bytes = await readFile(entry.path)
          await writeBack(entry, bytes)
          if (down) return
          result.moved++
          result.bytes += bytes.length
        }),
      ),
    )
    throwIfDown()
    return result
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
      if (refused.has(key)) return 'corrupt'
      // Its metadata read, its image not: a scan of a thousand images moves no image. `get`
      // downloads the image with this metadata and verifies it.
      const meta = await readMeta(key)
      if (meta === OFF) return status
      if (typeof meta === 'string') return 'corrupt'
      if (meta) {
        looked.set(key, meta)
        return 'remote'
      }
      if (seenRefusals.has(key)) return 'moderated'
      return typeof (await readRefusal(key)) === 'object' ? 'moderated' : status
    },

    async put(key, request, generated, opts) {
      if (opts.placeholder) return local.put(key, request, generated, opts)
      const hadRefusal = (await local.refusals.get(key)) !== undefined
      const entry = await local.put(key, request, generated, opts)
      refused.delete(key)
      seenRefusals.delete(key)
      await writeBack(entry, generated.bytes, { refused: hadRefusal })
      return entry
    },

    refusals,

    withLock(key, fn, opts = {}) {
      return local.withLock(
        key,
        async () => {
          if (!writes) return fn()
          const started = Date.now()
          // Set once a holder let go without a result: the lease's wait bound then spans every try.
          let since: number | undefined
          for (;;) {
            if (!(await leasesWork())) return fn()
            let outcome: Awaited<ReturnType<Leases['acquire']>> | typeof OFF
            try {
              outcome = await remote(() => leases.acquire(key, { signal: opts.signal, since }))
            } catch (err) {
              // Interrupted while waiting for another build: the caller's reason, as the local lock gives it.
              throw opts.signal?.aborted ? opts.signal.reason : err
            }
            if (outcome === OFF) return fn()
            if (outcome.status === 'acquired') {
              const { lease } = outcome
              held.set(key, { lease, job: outcome.job })
              try {
                return await fn()
              } finally {
                held.delete(key)
                // Released even when the remote failed meanwhile: it stops the renewals, or the
                // lease would stay fresh, and the fleet wait, for as long as this process lives.
                await lease.release().catch((err: unknown) => remote(() => Promise.reject(err)))
              }
            }
            // Another build held the lease and let it go: its result is read through by `fn`'s
            // `get`. With no result (it failed), this build tries for the lease again.
            if ((await answered(key)) || down) return fn()
            since ??= started
          }
        },
        opts,
      )
    },

    remote: {
      location: client.location,
      mode,
      jobs: {
        async record(key, job) {
          const lease = held.get(key)?.lease
          if (lease) await remote(() => lease.recordJob(job))
        },
        inherited: (key) => held.get(key)?.job,
      },
      stats: () => ({ ...stats }),
      pull,
      push,
      close: () => client.close(),
    },

    list: () => local.list(),
    listPlaceholders: () => local.listPlaceholders(),
    keys: () => local.keys(),

    // Local only: the bucket is shared by other branches and machines, and what this checkout no
    // longer references may be another's (pruning the bucket is its lifecycle rules' job).
    remove: (key) => local.remove(key),
  }
}

/**
 * Why downloaded bytes do not match their metadata, or undefined when they do: size and sha256,
 * then the image header (no pixel decoded), which must be within the decode budget and say the
 * format and dimensions the metadata says.
 */
async function mismatch(bytes: Buffer, meta: CacheEntryMeta): Promise<string | undefined> {
  if (bytes.length !== meta.bytes)
    return `its image has ${bytes.length} bytes, its metadata says ${meta.bytes}`
  if (createHash('sha256').update(bytes).digest('hex') !== meta.sha256)
    return 'its image content does not match its sha256'
  let header: ImageHeader
  try {
    header = await readImageHeader(bytes)
  } catch (err) {
    return `its image is refused: ${err instanceof Error ? err.message.trim() : String(err)}`
  }
  if (header.format !== meta.format || header.width !== meta.width || header.height !== meta.height)
    return `its image is a ${header.width}x${header.height} ${header.format}, its metadata says ${meta.width}x${meta.height} ${meta.format}`
  return undefined
}
