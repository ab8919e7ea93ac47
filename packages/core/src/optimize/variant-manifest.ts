/**
 * The variant manifest: what one optimization produced, written as JSON next to the variants so
 * a warm build returns the same result without decoding anything. Keyed by the variant key: a
 * hash of the original's content hash, the transform, the file-name slug and sharp's version.
 */
import { createHash } from 'node:crypto'
import { sharpVersion } from '../sharp.js'
import type { FallbackFormat, ModernFormat, ResolvedOptimizeOptions } from './resolve-optimize-options.js'

/** Bump when the manifest's shape or the way variants are made changes: old manifests stop matching. */
export const VARIANT_MANIFEST_VERSION = 1

export type OutputFormat = ModernFormat | FallbackFormat

/** The file extension of each output format. */
export const EXTENSIONS: Readonly<Record<OutputFormat, string>> = {
  avif: 'avif',
  webp: 'webp',
  jpeg: 'jpg',
  png: 'png',
}

/** `<slug>-<hash of the bytes>-<width>.<ext>`: nothing else is ever read from or written to the folder. */
export const VARIANT_FILE_PATTERN = /^[a-z0-9-]{1,40}-[0-9a-f]{12}-[1-9][0-9]{0,4}\.(?:avif|webp|jpg|png)$/

/**
 * What a manifest's `placeholder` may hold: the dominant colour (`color`) or a small WebP data URI
 * (`blur`, ~200 characters; 4 KiB leaves room). It is written into every `<picture>`'s `style`, so
 * anything else (a tampered manifest's `red;background:url(...)`) reads as a malformed manifest.
 */
export const PLACEHOLDER_PATTERN = /^(?:#[0-9a-f]{6}|data:image\/webp;base64,[A-Za-z0-9+/]{1,4096}={0,2})$/

/** Hex characters of the content hash in a variant's file name (48 bits). */
export const FILE_HASH_LENGTH = 12

export interface VariantFile {
  /** File name in the variants' files folder. */
  file: string
  format: OutputFormat
  width: number
  height: number
  bytes: number
}

export interface VariantManifest {
  version: number
  /** The variant key this manifest is stored under. */
  key: string
  /** The original it was made from. */
  source: { key: string; sha256: string; placeholder: boolean }
  /** Of the largest variant (the original, after any `maxWidth` cap). */
  width: number
  height: number
  /** True when some pixel is not fully opaque (an opaque alpha channel is dropped). */
  hasAlpha: boolean
  /** `#rrggbb`. */
  dominantColor: string
  /** A data URI (`blur`), a colour (`color`), or absent (`none`). */
  placeholder?: string
  /** The `<source>` formats, in order. */
  formats: ModernFormat[]
  fallback: FallbackFormat
  files: VariantFile[]
}

/** The variant key of an original under a transform: 24 hex characters. */
export function variantKey(
  source: { sha256: string; placeholder: boolean },
  slug: string,
  options: ResolvedOptimizeOptions,
): string {
  const fallbacks: FallbackFormat[] = options.fallback === 'auto' ? ['jpeg', 'png'] : [options.fallback]
  const encoders = Object.fromEntries([...options.formats, ...fallbacks].map((f) => [f, options[f]]))
  const transform = {
    widths: options.widths,
    maxWidth: options.maxWidth ?? null,
    formats: options.formats,
    fallback: options.fallback,
    encoders,
    placeholder: options.placeholder,
  }
  return createHash('sha256')
    .update(`flux-images/variants/v${VARIANT_MANIFEST_VERSION}\n`)
    .update(JSON.stringify({ source: source.sha256, placeholder: source.placeholder, slug, transform }))
    .update(`sharp ${sharpVersion()}`)
    .digest('hex')
    .slice(0, 24)
}

/** The manifest in `text` if it is well formed and stored under `key`, else undefined. */
export function parseManifest(text: string, key: string): VariantManifest | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isRecord(value) || value.version !== VARIANT_MANIFEST_VERSION || value.key !== key) return undefined
  const { source, files, formats } = value
  const ok =
    isRecord(source) &&
    typeof source.key === 'string' &&
    typeof source.sha256 === 'string' &&
    typeof source.placeholder === 'boolean' &&
    isSize(value) &&
    typeof value.hasAlpha === 'boolean' &&
    typeof value.dominantColor === 'string' &&
    /^#[0-9a-f]{6}$/.test(value.dominantColor) &&
    (value.placeholder === undefined ||
      (typeof value.placeholder === 'string' && PLACEHOLDER_PATTERN.test(value.placeholder))) &&
    Array.isArray(formats) &&
    formats.every((f) => f === 'avif' || f === 'webp') &&
    (value.fallback === 'jpeg' || value.fallback === 'png') &&
    Array.isArray(files) &&
    files.length > 0 &&
    files.every(
      (f) =>
        isRecord(f) &&
        typeof f.file === 'string' &&
        VARIANT_FILE_PATTERN.test(f.file) &&
        typeof f.format === 'string' &&
        f.format in EXTENSIONS &&
        f.file.endsWith(`.${EXTENSIONS[f.format as OutputFormat]}`) &&
        isSize(f) &&
        Number.isInteger(f.bytes) &&
        (f.bytes as number) > 0,
    ) &&
    // Every format offered has files, so no srcset of the result is empty.
    [...formats, value.fallback].every((format) => files.some((f) => isRecord(f) && f.format === format))
  return ok ? (value as unknown as VariantManifest) : undefined
}

function isSize(value: Record<string, unknown>): boolean {
  return (
    Number.isInteger(value.width) &&
    (value.width as number) > 0 &&
    Number.isInteger(value.height) &&
    (value.height as number) > 0
  )
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
