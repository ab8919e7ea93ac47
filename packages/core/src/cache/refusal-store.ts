import { join } from 'node:path'
import type { FluxError } from '../errors.js'
import type { CanonicalRequest } from '../types.js'
import { writeFileAtomic } from './atomic-write.js'
import { readTextIfPresent, unlinkIfPresent } from './fs-util.js'
import { CACHE_META_VERSION, parseRecord, type RefusalRecord, RefusalRecordSchema } from './records.js'
import { pickCanonical } from './request-key.js'

/** The refusals a gateway gave (moderation), remembered so that no later build pays for them again. */
export interface RefusalStore {
  /** The remembered refusal of `key`; a record that fails its schema reads as none. */
  get(key: string): Promise<RefusalRecord | undefined>
  /** Remembers that the gateway refused this request, with its message. */
  put(key: string, request: CanonicalRequest, detail: string): Promise<void>
  /** Forgets a refusal (`--force`, or a real image arrived); true when there was one. */
  remove(key: string): Promise<boolean>
}

export interface DiskRefusalStoreOptions {
  /** The folder of `<key>.json` records. */
  dir: string
  /** Where temporary files are written before they are renamed into place. */
  tmpDir: string
  /** Creates the folders a write needs. */
  prepare: () => Promise<void>
  /** The FLUX_CACHE_WRITE a failed write throws. */
  writeError: (err: unknown) => FluxError
}

/** Refusal records as one JSON file per key, each written atomically. Keys are checked by the caller. */
export function createDiskRefusalStore({
  dir,
  tmpDir,
  prepare,
  writeError,
}: DiskRefusalStoreOptions): RefusalStore {
  const pathOf = (key: string) => join(dir, `${key}.json`)
  return {
    async get(key) {
      const text = await readTextIfPresent(pathOf(key)).catch(() => undefined)
      const record =
        text === undefined ? undefined : parseRecord(RefusalRecordSchema, text, key, CACHE_META_VERSION)
      return typeof record === 'object' ? record : undefined
    },

    async put(key, request, detail) {
      const record: RefusalRecord = {
        version: CACHE_META_VERSION,
        key,
        request: pickCanonical(request),
        detail,
        created: new Date().toISOString(),
      }
      try {
        await prepare()
        await writeFileAtomic(pathOf(key), `${JSON.stringify(record, null, 2)}\n`, tmpDir)
      } catch (err) {
        throw writeError(err)
      }
    },

    async remove(key) {
      try {
        return await unlinkIfPresent(pathOf(key))
      } catch (err) {
        throw writeError(err)
      }
    },
  }
}
