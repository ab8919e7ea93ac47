/**
 * The records the cache stores as JSON, as schemas: an original's metadata, a refusal, a variant
 * manifest. Every record read back goes through `parseRecord`; one that fails is corrupt and never
 * trusted (a committed or copied cache may hold files nobody here wrote). Types are inferred.
 */
import * as v from 'valibot'
import { show } from '../schema.js'
import { REQUEST_KEY_PATTERN } from './request-key.js'

/** Bump when CacheEntryMeta or RefusalRecord change shape; older files then read as corrupt. */
export const CACHE_META_VERSION = 1

/** Bump when the manifest's shape or the way variants are made changes: old manifests stop matching. */
export const VARIANT_MANIFEST_VERSION = 1

/** Sharp's format name of an original -> the file extension it is stored under. */
export const ORIGINAL_EXTENSIONS = { png: 'png', jpeg: 'jpg', webp: 'webp', avif: 'avif' } as const

/** The file extension of each variant output format. */
export const VARIANT_EXTENSIONS = { avif: 'avif', webp: 'webp', jpeg: 'jpg', png: 'png' } as const

/** `<slug>-<hash of the bytes>-<width>.<ext>`: nothing else is ever read from or written to the folder. */
export const VARIANT_FILE_PATTERN = /^[a-z0-9-]{1,40}-[0-9a-f]{12}-[1-9][0-9]{0,4}\.(?:avif|webp|jpg|png)$/

/**
 * What a manifest's `placeholder` may hold: the dominant colour (`color`) or a small WebP data URI
 * (`blur`, ~200 characters; 4 KiB leaves room). It is written into every `<picture>`'s `style`, so
 * anything else (a tampered manifest's `red;background:url(...)`) reads as a malformed manifest.
 */
export const PLACEHOLDER_PATTERN = /^(?:#[0-9a-f]{6}|data:image\/webp;base64,[A-Za-z0-9+/]{1,4096}={0,2})$/

const Key = v.pipe(v.string(), v.regex(REQUEST_KEY_PATTERN))
const Side = v.pipe(v.number(), v.integer(), v.minValue(1))
// Any time Date reads (not only 4-digit years: a gateway's `created` far in the future is kept).
const Time = v.pipe(
  v.string(),
  v.check((text) => Number.isFinite(Date.parse(text)), 'expected a time'),
)

const CanonicalRequestSchema = v.object({
  model: v.string(),
  prompt: v.string(),
  size: v.string(),
  quality: v.picklist(['standard', 'hd']),
  seed: v.optional(v.pipe(v.number(), v.integer())),
  references: v.optional(v.array(v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)))),
  candidate: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  provider: v.optional(v.literal('bfl')),
  safetyTolerance: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(6))),
})

/** What the cache knows of one image; written next to it as `<key>.json`. Holds no secret. */
export const CacheEntryMetaSchema = v.object({
  version: v.literal(CACHE_META_VERSION),
  key: Key,
  request: CanonicalRequestSchema,
  /** The provider's name, e.g. `openai-images` or `placeholder`. */
  provider: v.string(),
  model: v.string(),
  /** The gateway's revision of the prompt, at most MAX_REVISED_PROMPT_CHARS (cut with `…`). */
  revisedPrompt: v.optional(v.string()),
  /** ISO time the image was generated. */
  created: Time,
  /** The size asked for (`request.size`); `width` and `height` are what was decoded. */
  requestedSize: v.string(),
  width: Side,
  height: Side,
  /** Sharp's format name: png, jpeg, webp, avif. */
  format: v.picklist(Object.keys(ORIGINAL_EXTENSIONS) as (keyof typeof ORIGINAL_EXTENSIONS)[]),
  bytes: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** Hex sha256 of the image file. */
  sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
  /**
   * The image file's identity as written (`fileStamp`): while the file still has it, nothing has
   * written, replaced or copied it since, and it is not hashed again. Absent in a copied or
   * restored cache (new inodes): those files are hashed, once per process.
   */
  stamp: v.optional(v.string()),
  /** The image's file name in its folder: `<key>.<ext>` (checked against the key on read). */
  file: v.string(),
  /** The seed the API reports it used (BFL), to make the same picture again. */
  seed: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  /** What the API charged, in its credits as reported (BFL: 1 credit = USD 0.01). */
  credits: v.optional(v.pipe(v.number(), v.minValue(0))),
  /** The API's job id (BFL), to trace a charge. */
  jobId: v.optional(v.string()),
})
export type CacheEntryMeta = v.InferOutput<typeof CacheEntryMetaSchema>

/** A prompt the gateway refused, remembered so the next build does not pay for it again. */
export const RefusalRecordSchema = v.object({
  version: v.literal(CACHE_META_VERSION),
  key: Key,
  request: CanonicalRequestSchema,
  /** The gateway's message. */
  detail: v.string(),
  /** ISO time of the refusal. */
  created: Time,
})
export type RefusalRecord = v.InferOutput<typeof RefusalRecordSchema>

const VariantFileSchema = v.pipe(
  v.object({
    /** File name in the variants' files folder. */
    file: v.pipe(v.string(), v.regex(VARIANT_FILE_PATTERN)),
    format: v.picklist(['avif', 'webp', 'jpeg', 'png']),
    width: Side,
    height: Side,
    bytes: Side,
  }),
  v.check(
    (f) => f.file.endsWith(`.${VARIANT_EXTENSIONS[f.format]}`),
    'the file name does not match its format',
  ),
)
export type VariantFile = v.InferOutput<typeof VariantFileSchema>
export type OutputFormat = VariantFile['format']

/**
 * What one optimization produced, written as JSON next to the variants so a warm build returns the
 * same result without decoding anything. Keyed by the variant key.
 */
export const VariantManifestSchema = v.pipe(
  v.object({
    version: v.literal(VARIANT_MANIFEST_VERSION),
    /** The variant key this manifest is stored under. */
    key: Key,
    /** The original it was made from. */
    source: v.object({ key: v.string(), sha256: v.string(), placeholder: v.boolean() }),
    /** Of the largest variant (the original, after any `maxWidth` cap). */
    width: Side,
    height: Side,
    /** True when some pixel is not fully opaque (an opaque alpha channel is dropped). */
    hasAlpha: v.boolean(),
    /** `#rrggbb`. */
    dominantColor: v.pipe(v.string(), v.regex(/^#[0-9a-f]{6}$/)),
    /** A data URI (`blur`), a colour (`color`), or absent (`none`). */
    placeholder: v.optional(v.pipe(v.string(), v.regex(PLACEHOLDER_PATTERN))),
    /** The `<source>` formats, in order. */
    formats: v.array(v.picklist(['avif', 'webp'])),
    fallback: v.picklist(['jpeg', 'png']),
    files: v.pipe(v.array(VariantFileSchema), v.minLength(1)),
  }),
  v.check(
    // Every format offered has files, so no srcset of the result is empty.
    (m) => [...m.formats, m.fallback].every((format) => m.files.some((f) => f.format === format)),
    'a format it offers has no files',
  ),
)
export type VariantManifest = v.InferOutput<typeof VariantManifestSchema>

/**
 * The record in `text` if it is JSON that passes `schema`, has the expected version and belongs
 * to `key`; else why not, as a predicate ("has version 0, expected 1") for a FLUX_CACHE_CORRUPT message.
 */
export function parseRecord<S extends v.GenericSchema<unknown, { version: number; key: string }>>(
  schema: S,
  text: string,
  key: string,
  version: number,
): v.InferOutput<S> | string {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return 'is not JSON'
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'is not a JSON object'
  const given = (value as Record<string, unknown>).version
  if (given !== version) return `has version ${String(given)}, expected ${version}`
  if ((value as Record<string, unknown>).key !== key) return 'belongs to another key'
  const result = v.safeParse(schema, value)
  if (result.success) return result.output
  const [issue] = result.issues
  const path = issue ? v.getDotPath(issue) : null
  // The value is shown by `show` (JSON, cut): valibot's own message holds it raw, newlines and all.
  const problem = !issue
    ? 'invalid'
    : `${issue.expected === null ? issue.message : `expected ${issue.expected}`}, got ${show(issue.input)}`
  return `is malformed${path ? ` at ${path}` : ''}: ${problem}`
}
