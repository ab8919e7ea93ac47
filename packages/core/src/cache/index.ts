export { commitTemp, discardTemp, syncDir, writeFileAtomic, writeTemp } from './atomic-write.js'
export { CACHE_GITIGNORE, CACHE_LAYOUT, type CacheArea, DEFAULT_CACHE_DIR } from './cache-layout.js'
export { cacheWriteError, disablesWrites } from './cache-write-error.js'
export {
  CACHE_META_VERSION,
  type CacheEntry,
  type CacheEntryMeta,
  type CacheStatus,
  createDiskCache,
  type DiskCache,
  type DiskCacheOptions,
  type ModerationRecord,
} from './disk-cache.js'
export { makeDir } from './fs-util.js'
export { createKeyLock, type KeyLockOptions, type LockInfo, type WithLock } from './key-lock.js'
export {
  CACHE_KEY_VERSION,
  hashRequest,
  isRequestKey,
  pickCanonical,
  REQUEST_KEY_PATTERN,
  requestKey,
} from './request-key.js'
