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
import { pickCanonical } from './request-key.js'

/** Bump when CacheEntryMeta or ModerationRecord change shape; older files then read as corrupt. */
export const CACHE_META_VERSION = 1

/**
 * A revised prompt longer than this is cut (with a trailing `…`) before it is stored: OpenAI's
 * longest prompt (dall-e-3) is 4,000 characters, and the metadata is committed and read on every
 * scan. A gateway once sent 40 MB.
 */
export const MAX_REVISED_PROMPT_CHARS = 4_000

/** Image files are hashed through one buffer of this size rather than read whole. */
const HASH_CHUNK_BYTES = 256 * 1024

/** Sharp's format name -> the file extension it is stored under. */
const EXTENSIONS: Readonly<Record<string, string>> = { png: 'png', jpeg: 'jpg', webp: 'webp', avif: 'avif' }

/** Every extension an image file of an entry may have. */
export const IMAGE_EXTENSIONS: readonly string[] = [...new Set(Object.values(EXTENSIONS))]

/** What the cache knows of one image; written next to it as `<key>.json`. Holds no secret. */
export interface CacheEntryMeta {
  version: number
  key: string
  request: CanonicalRequest
  /** The provider's name, e.g. `openai-images` or `placeholder`. */
  provider: string
  model: string
  /** The gateway's revision of the prompt, at most MAX_REVISED_PROMPT_CHARS (cut with `…`). */
  revisedPrompt?: string
  /** ISO time the image was generated. */
  created: string
  /** The size asked for (`request.size`); `width` and `height` are what was decoded. */
  requestedSize: string
  width: number
  height: number
  /** Sharp's format name: png, jpeg, webp. */
  format: string
  bytes: number
  /** Hex sha256 of the image file. */
  sha256: string
  /**
   * The image file's identity as written (`fileStamp`): while the file still has it, nothing has
   * written, replaced or copied it since, and it is not hashed again. Absent in a copied or
   * restored cache (new inodes): those files are hashed, once per process.
   */
  stamp?: string
  /** The image's file name in its folder: `<key>.<ext>`. */
  file: string
}

/** A verified entry: its metadata and the absolute path of its image. */
export interface CacheEntry {
  meta: CacheEntryMeta
  path: string
  /** True when it is a local placeholder, not a generated image. */
  placeholder: boolean
}

/** A prompt the gateway refused, remembered so the next build does not pay for it again. */
export interface ModerationRecord {
  version: number
  key: string
  request: CanonicalRequest
  /** The gateway's message. */
  detail: string
  /** ISO time of the refusal. */
  created: string
}

/** The metadata of a new entry; validates the image's description first. */
export function describeEntry(
  key: string,
  request: CanonicalRequest,
  image: GeneratedImage,
  provider: string,
): CacheEntryMeta {
  const ext = EXTENSIONS[image.format]
  if (ext === undefined) {
    throw fluxError('FLUX_BAD_IMAGE', {
      detail: `unsupported format "${image.format}" (expected ${Object.keys(EXTENSIONS).join(', ')})`,
    })
  }
  if (!(image.bytes instanceof Uint8Array) || !isPositiveInt(image.width) || !isPositiveInt(image.height)) {
    throw fluxError('FLUX_BAD_IMAGE', { detail: 'the image has no bytes or no valid dimensions' })
  }
  const canonical = pickCanonical(request)
  // A date no Date can hold (created: 1e20) is not worth losing a paid image over: now instead.
  const given =
    Number.isFinite(image.created) && image.created > 0 ? new Date(image.created * 1000) : undefined
  const created = given && Number.isFinite(given.getTime()) ? given : new Date()
  const revised = typeof image.revisedPrompt === 'string' ? capText(image.revisedPrompt) : undefined
  return {
    version: CACHE_META_VERSION,
    key,
    request: canonical,
    provider,
    model: canonical.model,
    ...(revised === undefined ? {} : { revisedPrompt: revised }),
    created: created.toISOString(),
    requestedSize: canonical.size,
    width: image.width,
    height: image.height,
    format: image.format,
    bytes: image.bytes.byteLength,
    sha256: createHash('sha256').update(image.bytes).digest('hex'),
    file: `${key}.${ext}`,
  }
}

/** The metadata in `text` if it is well formed and belongs to `key`, else why not. */
export function parseMeta(text: string, key: string): CacheEntryMeta | string {
  const meta = parseJson(text)
  if (meta === undefined) return 'its metadata is not a JSON object'
  if (meta.version !== CACHE_META_VERSION)
    return `its metadata has version ${String(meta.version)}, expected ${CACHE_META_VERSION}`
  if (meta.key !== key) return 'its metadata belongs to another key'
  if (typeof meta.file !== 'string' || !entryFileName(key).test(meta.file))
    return 'its metadata names an unexpected file'
  if (
    !Number.isInteger(meta.bytes) ||
    typeof meta.sha256 !== 'string' ||
    !/^[0-9a-f]{64}$/.test(meta.sha256)
  ) {
    return 'its metadata lacks the size or the content hash'
  }
  if (
    !isPositiveInt(meta.width) ||
    !isPositiveInt(meta.height) ||
    typeof meta.format !== 'string' ||
    !isRecord(meta.request)
  ) {
    return 'its metadata lacks the request, the format or the dimensions'
  }
  if (meta.stamp !== undefined && typeof meta.stamp !== 'string') return 'its metadata has a malformed stamp'
  return meta as unknown as CacheEntryMeta
}

/**
 * Why the image at `path` does not match `meta`, or undefined when it does. Its size is always
 * checked, its content hashed unless the file still has the identity (inode, size, times) it had
 * when it was written (`meta.stamp`) or when it was hashed in this process (`verified`).
 */
export async function checkImage(
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

/** What `checkImage` remembers of a file it verified: its stamp and the content hash it matched. */
function identity(stats: Stats, meta: CacheEntryMeta): string {
  return `${fileStamp(stats)}:${meta.sha256}`
}

/** The image file named by old metadata, so a put in another format can remove it. */
export function previousFile(text: string | undefined, key: string): string | undefined {
  const file = text === undefined ? undefined : parseJson(text)?.file
  return typeof file === 'string' && entryFileName(key).test(file) ? file : undefined
}

/** What an entry's image file may be called: `<key>.<known extension>`, nothing else. */
export function entryFileName(key: string): RegExp {
  return new RegExp(`^${key}\\.(?:${IMAGE_EXTENSIONS.join('|')})$`)
}

export function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return isRecord(value) ? value : undefined
  } catch {
    return undefined
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
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
