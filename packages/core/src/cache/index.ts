export { commitTemp, discardTemp, syncDir, writeFileAtomic, writeTemp } from './atomic-write.js'
export type { CacheEntry } from './cache-entry.js'
export { CACHE_GITIGNORE, CACHE_LAYOUT, type CacheArea, DEFAULT_CACHE_DIR } from './cache-layout.js'
export { cacheWriteError, disablesWrites } from './cache-write-error.js'
export { createDiskCache, type DiskCache, type DiskCacheOptions } from './disk-cache.js'
export { makeDir } from './fs-util.js'
export { createKeyLock, type KeyLockOptions, type LockInfo, type WithLock } from './key-lock.js'
export type { CacheStatus, OriginalStore, RemoteSide, RemoteStats, TransferResult } from './original-store.js'
export { createPickStore, type PickRecord, type PickStore } from './pick-store.js'
export { createReceiptStore, type ReceiptStore, withLeaseJobs } from './receipt-store.js'
export {
  CACHE_META_VERSION,
  type CacheEntryMeta,
  type OutputFormat,
  PLACEHOLDER_PATTERN,
  type RefusalRecord,
  VARIANT_EXTENSIONS,
  VARIANT_FILE_PATTERN,
  VARIANT_MANIFEST_VERSION,
  type VariantFile,
  type VariantManifest,
} from './records.js'
export type { RefusalStore } from './refusal-store.js'
export {
  CACHE_KEY_VERSION,
  hashRequest,
  isRequestKey,
  pickCanonical,
  REQUEST_KEY_PATTERN,
  requestKey,
} from './request-key.js'
export { createVariantStore, type VariantStore } from './variant-store.js'
export { type PickedStore, withPicks } from './with-picks.js'
