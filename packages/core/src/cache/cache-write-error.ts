import { FluxError, fluxError } from '../errors.js'
import { codeOf, reasonOf } from './fs-util.js'

/** What a system error code means for a cache write, and what the user can do about it. */
const CAUSES: Record<string, { what: string; hint: string }> = {
  ENOSPC: {
    what: 'the disk is full',
    hint:
      'Free space on the disk that holds the cache directory, or move the cache with the `cacheDir` option; ' +
      'then run again: cached images are kept and only the missing ones are generated.',
  },
  EDQUOT: {
    what: 'the disk quota is exhausted',
    hint:
      'Free space within your quota, or move the cache with the `cacheDir` option; ' +
      'then run again: cached images are kept and only the missing ones are generated.',
  },
  EROFS: {
    what: 'the file system is read-only',
    hint:
      'Mount it read-write, or point the `cacheDir` option at a writable folder (copy the committed ' +
      'originals/ there to keep them).',
  },
  EACCES: {
    what: 'permission denied',
    hint: 'Give the user running the build write access to the cache directory, or point `cacheDir` elsewhere.',
  },
  EPERM: {
    what: 'the operation is not permitted',
    hint: 'Give the user running the build write access to the cache directory, or point `cacheDir` elsewhere.',
  },
  ENOTDIR: {
    what: 'a file stands where a folder is expected',
    hint: 'Remove or rename that file (the path is in the message), or point `cacheDir` elsewhere.',
  },
}
CAUSES.EEXIST = CAUSES.ENOTDIR as { what: string; hint: string }

/** System errors after which no further write to the same disk can succeed in this run. */
const DISK_UNWRITABLE = new Set(['ENOSPC', 'EDQUOT', 'EROFS'])

/** True when `err` says the disk is full or read-only (not a problem with one path). */
export function disablesWrites(err: unknown): boolean {
  const cause = FluxError.is(err) ? err.cause : err
  return DISK_UNWRITABLE.has(codeOf(cause) ?? '')
}

/**
 * FLUX_CACHE_WRITE for a failed write under the cache directory `dir`, saying in words what the
 * system error means (full disk, read-only file system, permissions...) and what to do about it;
 * the system's own message, with the path it failed on, follows. A FluxError passes through.
 */
export function cacheWriteError(dir: string, err: unknown): FluxError {
  if (FluxError.is(err)) return err
  const cause = CAUSES[codeOf(err) ?? '']
  const reason = cause ? `${cause.what} (${reasonOf(err)})` : reasonOf(err)
  return fluxError('FLUX_CACHE_WRITE', { dir, reason }, { cause: err, ...(cause && { hint: cause.hint }) })
}
