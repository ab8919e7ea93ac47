/**
 * An OriginalStore in memory, for tests: a second implementation of the port, so the contract
 * suite is seen to describe the interface rather than the disk. Metadata and refusals are kept as
 * JSON text and read through the same record schemas as the disk's. Images are kept in memory and
 * checked against their sha256 on every read; `path` is a copy written to a temporary folder, as a
 * remote store would download its originals before the optimizer reads them.
 */
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CacheEntry } from '../../src/cache/cache-entry.js'
import { describeEntry, parseMeta } from '../../src/cache/cache-entry.js'
import type { OriginalStore } from '../../src/cache/original-store.js'
import { CACHE_META_VERSION, parseRecord, RefusalRecordSchema } from '../../src/cache/records.js'
import { isRequestKey, pickCanonical } from '../../src/cache/request-key.js'

/** What several stores over "the same backing" share. */
export interface MemoryBacking {
  /** Where `path`s are written. */
  dir: string
  /** `<area>/<key>` -> JSON text (`originals`, `placeholders`, `refusals`) or bytes (`<area>/<key>.image`). */
  files: Map<string, string | Buffer>
  leases: Map<string, Promise<void>>
}

export function createMemoryBacking(dir: string): MemoryBacking {
  return { dir, files: new Map(), leases: new Map() }
}

export function createMemoryStore(backing: MemoryBacking): OriginalStore {
  const { files } = backing
  const checked = (key: string) => {
    if (!isRequestKey(key)) throw new TypeError(`Expected a request key, got ${JSON.stringify(key)}.`)
    return key
  }
  const areaOf = (placeholder: boolean) => (placeholder ? 'placeholders' : 'originals')

  /** The entry if its metadata passes its schema and its bytes their hash; else why not. */
  async function read(key: string, placeholder: boolean): Promise<CacheEntry | string | undefined> {
    const text = files.get(`${areaOf(placeholder)}/${key}`)
    if (typeof text !== 'string') return undefined
    const meta = parseMeta(text, key)
    if (typeof meta === 'string') return meta
    const bytes = files.get(`${areaOf(placeholder)}/${key}.image`)
    if (!Buffer.isBuffer(bytes) || createHash('sha256').update(bytes).digest('hex') !== meta.sha256)
      return 'its image does not match its sha256'
    const path = join(backing.dir, `${areaOf(placeholder)}-${meta.file}`)
    await writeFile(path, bytes)
    return { meta, path, placeholder }
  }

  const list = (placeholder: boolean) =>
    [...files.keys()]
      .filter((name) => name.startsWith(`${areaOf(placeholder)}/`) && !name.endsWith('.image'))
      .sort()
      .flatMap((name) => {
        const meta = parseMeta(files.get(name) as string, name.split('/')[1] ?? '')
        return typeof meta === 'string' ? [] : [meta]
      })

  const refusals: OriginalStore['refusals'] = {
    async get(key) {
      const text = files.get(`refusals/${checked(key)}`)
      const record =
        typeof text === 'string' && parseRecord(RefusalRecordSchema, text, key, CACHE_META_VERSION)
      return typeof record === 'object' ? record : undefined
    },
    async put(key, request, detail) {
      const record = {
        version: CACHE_META_VERSION,
        key: checked(key),
        request: pickCanonical(request),
        detail,
      }
      files.set(`refusals/${key}`, JSON.stringify({ ...record, created: new Date().toISOString() }))
    },
    async remove(key) {
      return files.delete(`refusals/${checked(key)}`)
    },
  }

  const removeEntry = (key: string, placeholder: boolean) => {
    const meta = files.delete(`${areaOf(placeholder)}/${key}`)
    return files.delete(`${areaOf(placeholder)}/${key}.image`) || meta
  }

  return {
    async get(key, opts = {}) {
      const real = await read(checked(key), false)
      if (typeof real === 'object') return real
      if (!opts.placeholder) return undefined
      const local = await read(key, true)
      return typeof local === 'object' ? local : undefined
    },

    async check(key) {
      const real = await read(checked(key), false)
      if (typeof real === 'object') return 'cached'
      if (typeof real === 'string') return 'corrupt'
      if (await refusals.get(key)) return 'moderated'
      return typeof (await read(key, true)) === 'object' ? 'placeholder' : 'missing'
    },

    async put(key, request, generated, { provider, placeholder }) {
      const meta = describeEntry(checked(key), request, generated, provider)
      const area = areaOf(placeholder)
      // Metadata leaves first and comes back last, as on disk.
      files.delete(`${area}/${key}`)
      files.set(`${area}/${key}.image`, Buffer.from(generated.bytes))
      files.set(`${area}/${key}`, JSON.stringify(meta))
      if (!placeholder) {
        removeEntry(key, true)
        await refusals.remove(key)
      }
      return (await read(key, placeholder)) as CacheEntry
    },

    refusals,

    async withLock(key, fn, opts = {}) {
      checked(key)
      for (;;) {
        const held = backing.leases.get(key)
        if (!held) break
        await abortable(held, opts.signal)
      }
      opts.signal?.throwIfAborted()
      let release = () => {}
      backing.leases.set(
        key,
        new Promise<void>((resolve) => {
          release = resolve
        }),
      )
      try {
        return await fn()
      } finally {
        backing.leases.delete(key)
        release()
      }
    },

    list: async () => list(false),
    listPlaceholders: async () => list(true),

    async keys() {
      const keys = [...files.keys()].map((name) => (name.split('/')[1] ?? '').slice(0, 24))
      return [...new Set(keys)].sort()
    },

    async remove(key) {
      const real = removeEntry(checked(key), false)
      const local = removeEntry(key, true)
      const refusal = await refusals.remove(key)
      return real || local || refusal
    },
  }
}

/** `promise`, or the signal's reason as soon as it aborts. */
function abortable(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return promise
  signal.throwIfAborted()
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
