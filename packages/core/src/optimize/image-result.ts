import { join } from 'node:path'
import { isAbsoluteUrl } from './resolve-optimize-options.js'
import type { OutputFormat, VariantManifest } from './variant-manifest.js'

/** MIME types, for `<source type>`. */
export const MIME_TYPES: Readonly<Record<OutputFormat, string>> = {
  avif: 'image/avif',
  webp: 'image/webp',
  jpeg: 'image/jpeg',
  png: 'image/png',
}

/** One emitted file, for an adapter to copy into the build output under its URL. */
export interface ImageFile {
  /** Absolute path in the cache's variants folder. */
  path: string
  /** Public URL: `base` + `publicPath` + the file name. */
  url: string
  format: OutputFormat
  width: number
  height: number
  bytes: number
}

/** A `<source>`: one modern format at every width. */
export interface ImageSource {
  /** MIME type, e.g. `image/avif`. */
  type: string
  /** `url 480w, url 960w, ...`, smallest first. */
  srcset: string
}

/** An optimized image: everything markup needs, and the files to emit. A cache hit equals a miss. */
export interface ImageResult {
  /** URL of the largest fallback (JPEG or PNG) variant. */
  src: string
  /** Of the largest variant: the original, after any `maxWidth` cap. */
  width: number
  height: number
  /** Alt text as given; empty when none was (always set on the `<img>`). */
  alt: string
  prompt: string
  /** The request key of the original. */
  key: string
  /** A tiny blurred image as a data URI, the dominant colour (`#rrggbb`), or undefined (`none`). */
  placeholder: string | undefined
  /** `#rrggbb`, whatever the placeholder kind. */
  dominantColor: string
  /** True when the image has transparency (then the fallback is PNG under `fallback: 'auto'`). */
  hasAlpha: boolean
  /** One per modern format, in order of preference. */
  sources: ImageSource[]
  /** The fallback's srcset. */
  srcset: string
  files: ImageFile[]
}

/** `base` + `publicPath` + `name`; an absolute `publicPath` (a CDN) ignores `base`. */
export function publicUrl(name: string, { publicPath, base }: { publicPath: string; base: string }): string {
  if (isAbsoluteUrl(publicPath)) return `${publicPath}${name}`
  return `${base}${publicPath.replace(/^\/+/, '')}${name}`
}

/** Builds the result of a manifest: the same for a fresh optimization and a cache hit. */
export function toImageResult(
  manifest: VariantManifest,
  info: { key: string; prompt: string; alt?: string | undefined },
  where: { filesDir: string; publicPath: string; base: string },
): ImageResult {
  const files: ImageFile[] = [...manifest.files]
    .sort((a, b) => a.width - b.width || a.format.localeCompare(b.format))
    .map((f) => ({
      path: join(where.filesDir, f.file),
      url: publicUrl(f.file, where),
      format: f.format,
      width: f.width,
      height: f.height,
      bytes: f.bytes,
    }))
  const fallbacks = files.filter((f) => f.format === manifest.fallback)
  const largest = fallbacks[fallbacks.length - 1]
  return {
    src: largest?.url ?? '',
    width: manifest.width,
    height: manifest.height,
    alt: info.alt ?? '',
    prompt: info.prompt,
    key: info.key,
    placeholder: manifest.placeholder,
    dominantColor: manifest.dominantColor,
    hasAlpha: manifest.hasAlpha,
    sources: manifest.formats.map((format) => ({ type: MIME_TYPES[format], srcset: srcset(files, format) })),
    srcset: srcset(files, manifest.fallback),
    files,
  }
}

/**
 * The same image with each file's URL replaced by `url(file)`: `src`, every srcset and `files`
 * rebuilt from the files, as `toImageResult` builds them (no URL is parsed out of a srcset).
 */
export function withUrls(image: ImageResult, url: (file: ImageFile) => string): ImageResult {
  const files = image.files.map((file) => ({ ...file, url: url(file) }))
  const src = image.files.findIndex((file) => file.url === image.src)
  const fallback = image.files[src]?.format
  return {
    ...image,
    src: files[src]?.url ?? image.src,
    srcset: fallback === undefined ? image.srcset : srcset(files, fallback),
    sources: image.sources.map((source) => {
      const format = FORMAT_OF_TYPE.get(source.type)
      return format === undefined ? source : { ...source, srcset: srcset(files, format) }
    }),
    files,
  }
}

const FORMAT_OF_TYPE = new Map(
  Object.entries(MIME_TYPES).map(([format, type]) => [type, format as OutputFormat]),
)

/** `url 480w, url 960w, ...` of one format's files, in their order (smallest first). */
function srcset(files: readonly ImageFile[], format: OutputFormat): string {
  return files
    .filter((f) => f.format === format)
    .map((f) => `${f.url} ${f.width}w`)
    .join(', ')
}
