/**
 * The variant key: under which manifest an optimization is stored. A hash of the original's content
 * hash, the transform, the file-name slug and sharp's version. The manifest itself is a cache record
 * (`cache/records.ts`), stored by the variant store.
 */
import { createHash } from 'node:crypto'
import {
  type OutputFormat,
  VARIANT_MANIFEST_VERSION,
  type VariantFile,
  type VariantManifest,
} from '../cache/index.js'
import { sharpVersion } from '../sharp.js'
import type { FallbackFormat, ResolvedOptimizeOptions } from './resolve-optimize-options.js'

export type { OutputFormat, VariantFile, VariantManifest }

/** Hex characters of the content hash in a variant's file name (48 bits). */
export const FILE_HASH_LENGTH = 12

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
