/**
 * One cache entry on disk: the metadata written next to an image, how it is built from a
 * generated image, and how an entry read back is checked (metadata against its key, image
 * against its size and sha256).
 */
import { createHash } from 'node:crypto'
import type { Stats } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { fluxError } from '../errors.js'
import type { CanonicalRequest, GeneratedImage } from '../types.js'
import { codeOf, reasonOf, statIfPresent } from './fs-util.js'
import {
  CACHE_META_VERSION,
  type CacheEntryMeta,
  CacheEntryMetaSchema,
  ORIGINAL_EXTENSIONS,
  parseRecord,
} from './records.js'
import { pickCanonical } from './request-key.js'

/**
 * A revised prompt longer than this is cut (with a trailing `…`) before it is stored: OpenAI's
 * longest prompt (dall-e-3) is 4,000 characters, and the metadata is committed and read on every
 * scan. A gateway once sent 40 MB.
 */
export const MAX_REVISED_PROMPT_CHARS = 4_000

/** Image files are hashed through one buffer of this size rather than read whole. */
const HASH_CHUNK_BYTES = 256 * 1024

/** Every extension an image file of an entry may have. */
export const IMAGE_EXTENSIONS: readonly string[] = [...new Set(Object.values(ORIGINAL_EXTENSIONS))]

/** A verified entry: its metadata and the absolute path of its image. */
export interface CacheEntry {
  meta: CacheEntryMeta
  path: string
  /** True when it is a local placeholder, not a generated image. */
  placeholder: boolean
}

/** The metadata of a new entry; validates the image's description first. */
export function describeEntry(
  key: string,
  request: CanonicalRequest,
  generated: GeneratedImage,
  provider: string,
): CacheEntryMeta {
  if (!Object.hasOwn(ORIGINAL_EXTENSIONS, generated.format)) {
    throw fluxError('FLUX_BAD_IMAGE', {
      detail: `unsupported format "${generated.format}" (expected ${Object.keys(ORIGINAL_EXTENSIONS).join(', ')})`,
    })
  }
  const format = generated.format as keyof typeof ORIGINAL_EXTENSIONS
  const ext = ORIGINAL_EXTENSIONS[format]
  if (
    !(generated.bytes instanceof Uint8Array) ||
    !isPositiveInt(generated.width) ||
    !isPositiveInt(generated.height)
  ) {
    throw fluxError('FLUX_BAD_IMAGE', { detail: 'the image has no bytes or no valid dimensions' })
  }
  const canonical = pickCanonical(request)
  // A date no Date can hold (created: 1e20) is not worth losing a paid image over: now instead.
  const given =
    Number.isFinite(generated.created) && generated.created > 0
      ? new Date(generated.created * 1000)
      : undefined
  const created = given && Number.isFinite(given.getTime()) ? given : new Date()
  const revised = typeof generated.revisedPrompt === 'string' ? capText(generated.revisedPrompt) : undefined
  return {
    version: CACHE_META_VERSION,
    key,
    request: canonical,
    provider,
    model: canonical.model,
    ...(revised === undefined ? {} : { revisedPrompt: revised }),
    created: created.toISOString(),
    requestedSize: canonical.size,
    width: generated.width,
    height: generated.height,
    format,
    bytes: generated.bytes.byteLength,
    sha256: createHash('sha256').update(generated.bytes).digest('hex'),
    file: `${key}.${ext}`,
    // What the API reported, kept only when it is well formed: a paid image is not lost over it.
    ...(Number.isSafeInteger(generated.seed) && (generated.seed as number) >= 0 && { seed: generated.seed }),
    ...(Number.isFinite(generated.credits) &&
      (generated.credits as number) >= 0 && { credits: generated.credits }),
    ...(typeof generated.jobId === 'string' &&
      generated.jobId !== '' && { jobId: generated.jobId.slice(0, 200) }),
  }
}

/** The metadata in `text` if it passes its schema, belongs to `key` and names `key`'s file; else why not. */
export function parseMeta(text: string, key: string): CacheEntryMeta | string {
  const meta = parseRecord(CacheEntryMetaSchema, text, key, CACHE_META_VERSION)
  if (typeof meta === 'string') return `its metadata ${meta}`
  if (!entryFileName(key).test(meta.file)) return 'its metadata names an unexpected file'
  return meta
}

/**
 * Why the image at `path` does not match `meta`, or undefined when it does. Its size is always
 * checked, its content hashed unless the file still has the identity (inode, size, times) it had
 * when it was written (`meta.stamp`) or when it was hashed in this process (`verified`).
 */
export async function entryMismatch(
  path: string,
  meta: CacheEntryMeta,
  verified?: Map<string, string>,
): Promise<string | undefined> {
  // Untouched since it was written or verified: one synchronous stat, no thread-pool trip. (The
  // stamp's inode and change time say the stat and the metadata describe the same file.)
  const seen = statIfPresent(path)
  if (seen && (meta.stamp === fileStamp(seen) || verified?.get(path) === identity(seen, meta)))
    return undefined
  let handle: FileHandle
  try {
    handle = await open(path, 'r')
  } catch (err) {
    return codeOf(err) === 'ENOENT'
      ? 'its image file is missing'
      : `its image file cannot be read: ${reasonOf(err)}`
  }
  try {
    // Size and content come through one handle: a concurrent rename cannot mix two files.
    const stats = await handle.stat()
    const { size } = stats
    if (size !== meta.bytes) return `its image file has ${size} bytes, its metadata says ${meta.bytes}`
    const hash = createHash('sha256')
    const chunk = Buffer.allocUnsafe(HASH_CHUNK_BYTES)
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null)
      if (bytesRead === 0) break
      hash.update(chunk.subarray(0, bytesRead))
    }
    if (hash.digest('hex') !== meta.sha256) return 'its image content does not match its sha256'
    verified?.set(path, identity(stats, meta))
    return undefined
  } catch (err) {
    return `its image file cannot be read: ${reasonOf(err)}`
  } finally {
    await handle.close()
  }
}

/**
 * A file's identity: inode, size, modification and change times. Any write to the file, a rename
 * over it, a copy, a chmod changes it (the change time cannot be set by hand).
 */
export function fileStamp({ ino, size, mtimeMs, ctimeMs }: Stats): string {
  return `${ino}:${size}:${mtimeMs}:${ctimeMs}`
}

/** What `entryMismatch` remembers of a file it verified: its stamp and the content hash it matched. */
function identity(stats: Stats, meta: CacheEntryMeta): string {
  return `${fileStamp(stats)}:${meta.sha256}`
}

/** The image file named by old metadata, so a put in another format can remove it. */
export function previousFile(text: string | undefined, key: string): string | undefined {
  let file: unknown
  try {
    file = text === undefined ? undefined : JSON.parse(text)?.file
  } catch {
    return undefined
  }
  return typeof file === 'string' && entryFileName(key).test(file) ? file : undefined
}

/** What an entry's image file may be called: `<key>.<known extension>`, nothing else. */
export function entryFileName(key: string): RegExp {
  return new RegExp(`^${key}\\.(?:${IMAGE_EXTENSIONS.join('|')})$`)
}

/** `text` cut to MAX_REVISED_PROMPT_CHARS UTF-16 units plus `…`, never inside a surrogate pair. */
function capText(text: string): string {
  if (text.length <= MAX_REVISED_PROMPT_CHARS) return text
  const cut = text.slice(0, MAX_REVISED_PROMPT_CHARS)
  return `${/[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut}…`
}

function isPositiveInt(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) > 0
}
