import { createHash } from 'node:crypto'
import type { CanonicalRequest } from '../types.js'

/** Bump when the serialization or the meaning of a field changes, so old entries stop matching. */
export const CACHE_KEY_VERSION = 1

// 24 hex chars = 96 bits: a site with a million distinct images has a collision chance near
// 1e-17, while file names stay short enough to read in a directory listing or a git diff.
const KEY_LENGTH = 24

/** What every request key looks like; the only thing a cache path is ever built from. */
export const REQUEST_KEY_PATTERN = /^[0-9a-f]{24}$/

/** The fields that identify a picture. Secrets, base URL and concurrency are not among them. */
const KEY_FIELDS = [
  'candidate',
  'model',
  'prompt',
  'provider',
  'quality',
  'references',
  'safetyTolerance',
  'seed',
  'size',
] as const satisfies readonly (keyof CanonicalRequest)[]

// Fails to compile when CanonicalRequest gains a field that the key does not cover.
type MissingKeyField = Exclude<keyof CanonicalRequest, (typeof KEY_FIELDS)[number]>
const _everyFieldIsKeyed: [MissingKeyField] extends [never] ? true : MissingKeyField = true
void _everyFieldIsKeyed

/**
 * The cache key of a canonical request: a versioned sha256 over its fields in sorted order
 * (extra properties ignored, `seed` omitted when undefined), as 24 lowercase hex characters.
 */
export function requestKey(request: CanonicalRequest): string {
  return hashRequest(request, CACHE_KEY_VERSION)
}

/** `requestKey` under an explicit version: for tests and for migrating an old cache. */
export function hashRequest(request: CanonicalRequest, version: number): string {
  return createHash('sha256')
    .update(`flux-images/request/v${version}\n`)
    .update(JSON.stringify(pickCanonical(request)))
    .digest('hex')
    .slice(0, KEY_LENGTH)
}

/**
 * Only the fields of CanonicalRequest, in sorted order, `seed` dropped when undefined: what the
 * key hashes and what the cache stores, so nothing else a caller's object carries ends up on disk.
 */
export function pickCanonical(request: CanonicalRequest): CanonicalRequest {
  const picked: Record<string, unknown> = {}
  for (const field of KEY_FIELDS) {
    const value = request[field]
    if (value !== undefined) picked[field] = value
  }
  return picked as unknown as CanonicalRequest
}

/** True for a string shaped like a request key. */
export function isRequestKey(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_KEY_PATTERN.test(value)
}

/** `key` when it is a request key; a TypeError before anything is touched otherwise. */
export function assertKey(key: string): string {
  if (!isRequestKey(key)) {
    throw new TypeError(
      `Expected a request key (24 lowercase hex characters), got ${JSON.stringify(String(key).slice(0, 40))}.`,
    )
  }
  return key
}
