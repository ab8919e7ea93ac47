/**
 * The port every store of originals implements: the disk store today (`createDiskCache`), a remote
 * object store next. What each must honour is written as a contract suite
 * (`packages/core/test/contracts/store-contract.ts`, `testStore`), which every implementation runs.
 */
import type { CanonicalRequest, GeneratedImage } from '../types.js'
import type { CacheEntry } from './cache-entry.js'
import type { CacheEntryMeta } from './records.js'
import type { RefusalStore } from './refusal-store.js'

/**
 * What `check` reports: a real entry wins over a refusal, a refusal over a placeholder. `remote`:
 * not in the local cache, in the shared bucket (downloaded and verified by `get`).
 */
export type CacheStatus = 'cached' | 'remote' | 'missing' | 'placeholder' | 'moderated' | 'corrupt'

/** What a store shared through a bucket has moved so far. */
export interface RemoteStats {
  downloaded: number
  downloadedBytes: number
  uploaded: number
  uploadedBytes: number
}

/** The shared side of a layered store (`remote/remote-cache.ts`). */
export interface RemoteSide {
  /** `s3://bucket/prefix/`, for messages. */
  readonly location: string
  readonly mode: 'read-write' | 'read-only'
  stats(): RemoteStats
  /** Downloads, verified, every original of the bucket the local cache lacks. */
  pull(): Promise<TransferResult>
  /** Uploads every verified local original the bucket lacks (read-write only). */
  push(): Promise<TransferResult>
  /**
   * The jobs paid for under this build's leases (BFL receipts): `record` writes one into the key's
   * lease while its lock is held; `inherited` is the job of a dead build whose lease this one took over.
   */
  jobs?: { record(key: string, job: unknown): Promise<void>; inherited(key: string): unknown }
  close(): Promise<void>
}

/** What `push` or `pull` did. */
export interface TransferResult {
  /** Originals uploaded (push) or downloaded and verified (pull). */
  moved: number
  bytes: number
  /** Originals already on the other side. */
  present: number
  /** Keys not moved: damaged locally (push) or failing verification (pull). */
  refused: string[]
}

export interface OriginalStore {
  /**
   * The verified entry of `key`, or undefined when it is missing or corrupt (a corrupt one is
   * reported once with FLUX_CACHE_CORRUPT, never served). With `placeholder: true` a placeholder is
   * accepted when there is no real entry; a real entry always wins. `entry.path` is a local file.
   */
  get(key: string, opts?: { placeholder?: boolean }): Promise<CacheEntry | undefined>
  /** The state of `key` for a scan, verifying integrity without logging. Creates nothing. */
  check(key: string): Promise<CacheStatus>
  /**
   * Stores an image and its metadata, metadata last: until the metadata is in place the entry reads
   * as missing, never as old metadata over a new image. A real image removes the key's placeholder
   * and refusal. Write failures throw FLUX_CACHE_WRITE and leave no partial entry. Call it inside
   * `withLock(key)` so that one writer stores a key at a time.
   */
  put(
    key: string,
    request: CanonicalRequest,
    generated: GeneratedImage,
    opts: { provider: string; placeholder: boolean },
  ): Promise<CacheEntry>
  /** Remembered refusals, a small store of their own. */
  readonly refusals: RefusalStore
  /**
   * Runs `fn` while holding the lease of `key` against every other holder (other processes, other
   * machines for a shared store). Pattern: `get` -> miss -> `withLock(key, async () => (await
   * get(key)) ?? put(key, ...generate()))`. Not reentrant. The wait rejects with the signal's
   * reason when `signal` aborts. A store that can no longer write rejects at once with that
   * FLUX_CACHE_WRITE: no image is paid for that could not be stored.
   */
  withLock<T>(key: string, fn: () => Promise<T>, opts?: { signal?: AbortSignal }): Promise<T>
  /** The metadata of every real entry, sorted by key (not verified: use `check` or `get` for that). */
  list(): Promise<CacheEntryMeta[]>
  /** The metadata of every placeholder, sorted by key. */
  listPlaceholders(): Promise<CacheEntryMeta[]>
  /** Every key with anything stored (original, placeholder, refusal, or files without metadata), sorted. */
  keys(): Promise<string[]>
  /**
   * Removes everything stored for `key` (original, placeholder, refusal), metadata before image so
   * a crash never leaves metadata pointing at a missing file. True when anything was removed. A
   * layered store removes the local copy only: the bucket's is shared with other checkouts.
   */
  remove(key: string): Promise<boolean>
  /** Present when the store is shared through a bucket. */
  readonly remote?: RemoteSide
}
