import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import * as v from 'valibot'
import { writeFileAtomic } from './atomic-write.js'
import { CACHE_LAYOUT } from './cache-layout.js'
import { makeDir, readTextIfPresent, unlinkIfPresent } from './fs-util.js'
import { assertKey, REQUEST_KEY_PATTERN } from './request-key.js'

const Key = v.pipe(v.string(), v.regex(REQUEST_KEY_PATTERN))

/** `picks/<key>.json`: the image chosen for the directive whose request has `key`. Committed; holds no secret. */
const PickRecordSchema = v.object({
  version: v.literal(1),
  /** The directive's own key (its request as written). */
  key: Key,
  /** The key of the image shown instead: a candidate's, stored as an original. */
  pick: Key,
  candidate: v.pipe(v.number(), v.integer(), v.minValue(1)),
  picked: v.string(),
})

export type PickRecord = v.InferOutput<typeof PickRecordSchema>

/**
 * The picks of a cache directory: small committed records. `picks/` is listed once per store, on
 * its first lookup, and the listing is kept current by `set` and `remove`, so looking up a key
 * without a pick touches no file and a pick's record is read once. A pick made by another process
 * shows in the next store made (each build and CLI command makes one); `list` lists afresh.
 */
export interface PickStore {
  /** The pick of `key`, or undefined when there is none (or its record does not read as one). */
  get(key: string): Promise<PickRecord | undefined>
  set(record: Omit<PickRecord, 'version' | 'picked'>): Promise<PickRecord>
  /** Forgets the pick of `key` (its images stay); true when there was one. */
  remove(key: string): Promise<boolean>
  list(): Promise<PickRecord[]>
}

export function createPickStore({ dir }: { dir: string }): PickStore {
  const picksDir = join(dir, CACHE_LAYOUT.picks.dir)
  const path = (key: string) => join(picksDir, `${assertKey(key)}.json`)
  const read = async (key: string) => {
    const text = await readTextIfPresent(path(key))
    if (text === undefined) return undefined
    try {
      const record = v.safeParse(PickRecordSchema, JSON.parse(text))
      return record.success && record.output.key === key ? record.output : undefined
    } catch {
      return undefined
    }
  }
  const listKeys = async () => {
    const names = await readdir(picksDir).catch(() => [] as string[])
    return names.map((n) => n.replace(/\.json$/, '')).filter((k) => REQUEST_KEY_PATTERN.test(k))
  }
  /** Key -> its record (read on first lookup), for every key with a pick: the listing, kept current. */
  let known: Promise<Map<string, Promise<PickRecord | undefined> | undefined>> | undefined
  const picked = () => (known ??= listKeys().then((keys) => new Map(keys.map((k) => [k, undefined]))))
  return {
    async get(key) {
      const records = await picked()
      if (!records.has(assertKey(key))) return undefined
      const record = records.get(key) ?? read(key)
      records.set(key, record)
      return record
    },
    async set({ key, pick, candidate }) {
      const record: PickRecord = { version: 1, key, pick, candidate, picked: new Date().toISOString() }
      const tmpDir = join(dir, CACHE_LAYOUT.tmp.dir)
      await Promise.all([makeDir(picksDir), makeDir(tmpDir)])
      await writeFileAtomic(path(key), `${JSON.stringify(record, null, 2)}\n`, tmpDir)
      ;(await picked()).set(key, Promise.resolve(record))
      return record
    },
    async remove(key) {
      ;(await picked()).delete(assertKey(key))
      return unlinkIfPresent(path(key))
    },
    async list() {
      const keys = await listKeys()
      const records = await Promise.all(keys.sort().map(read))
      return records.filter((r): r is PickRecord => r !== undefined)
    },
  }
}
