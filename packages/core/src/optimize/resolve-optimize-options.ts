import { availableParallelism } from 'node:os'
import { fluxError } from '../errors.js'
import { integer, isRecord, list, oneOf, show, unknownKeys } from '../schema.js'

/** Formats offered in `<source>` elements, best first. */
export type ModernFormat = 'avif' | 'webp'
/** The `<img>` format: `auto` is PNG for an image with transparency, JPEG otherwise. */
export type FallbackFormat = 'jpeg' | 'png'
export type PlaceholderKind = 'blur' | 'color' | 'none'

export const MODERN_FORMATS: readonly ModernFormat[] = ['avif', 'webp']
export const FALLBACK_FORMATS: readonly ('auto' | FallbackFormat)[] = ['auto', 'jpeg', 'png']
export const PLACEHOLDER_KINDS: readonly PlaceholderKind[] = ['blur', 'color', 'none']

/** WebP cannot encode a side longer than this, so no variant may be wider. */
export const MAX_VARIANT_WIDTH = 16383

/** How images are turned into responsive variants. Every member is optional. */
export interface OptimizeOptions {
  /**
   * Widths of the variants, in pixels. The original's width (or `maxWidth`) is always emitted
   * too, as the largest variant; widths at or above it collapse into it (never upscaled).
   * @default [480, 960, 1440]
   */
  widths?: number[]
  /**
   * Cap on the largest variant: wider originals are scaled down to it, and `width`/`height` of
   * the result describe the capped image.
   * @default undefined (the original's width)
   */
  maxWidth?: number
  /** Modern formats offered as `<source>` elements, in order of preference. @default ['avif', 'webp'] */
  formats?: ModernFormat[]
  /** Format of the `<img>` itself. `auto`: PNG when the image has transparency, else JPEG. @default 'auto' */
  fallback?: 'auto' | FallbackFormat
  /**
   * AVIF encoder. `quality` 1-100, `effort` 0 (fastest) to 9 (smallest).
   * @default { quality: 50, effort: 3 }
   */
  avif?: { quality?: number; effort?: number }
  /** WebP encoder. `quality` 1-100, `effort` 0-6. @default { quality: 78, effort: 4 } */
  webp?: { quality?: number; effort?: number }
  /** JPEG encoder (mozjpeg). `quality` 1-100. @default { quality: 80 } */
  jpeg?: { quality?: number }
  /**
   * PNG encoder. `quality` 100 is lossless; lower quantises to a palette (smaller, lossy).
   * `compressionLevel` 0-9 (zlib).
   * @default { quality: 100, compressionLevel: 9 }
   */
  png?: { quality?: number; compressionLevel?: number }
  /** What shows while the image loads: a tiny blurred image, its dominant colour, or nothing. @default 'blur' */
  placeholder?: PlaceholderKind
  /**
   * sharp operations run at once, and originals held decoded at once (each ~5 MB for 1536x1024).
   * Above `UV_THREADPOOL_SIZE - 1` it only queues in libuv's threadpool (4 threads unless the
   * environment sets it when node starts), which file reads and writes share.
   * @default min(os.availableParallelism(), UV_THREADPOOL_SIZE - 1), at least 1
   */
  concurrency?: number
  /** Where the variants are served from: a path under the site, or an absolute URL (a CDN). @default '/_flux/' */
  publicPath?: string
  /** The site's base path (Vite `base`, Astro `base`), prefixed to a path `publicPath`. @default '/' */
  base?: string
}

export interface ResolvedOptimizeOptions {
  /** Sorted, distinct. */
  widths: readonly number[]
  maxWidth: number | undefined
  formats: readonly ModernFormat[]
  fallback: 'auto' | FallbackFormat
  avif: { quality: number; effort: number }
  webp: { quality: number; effort: number }
  jpeg: { quality: number }
  png: { quality: number; compressionLevel: number }
  placeholder: PlaceholderKind
  concurrency: number
  /** Ends with `/`; starts with `/` unless it is an absolute URL. */
  publicPath: string
  /** Ends with `/`. */
  base: string
}

export const OPTIMIZE_DEFAULTS = {
  widths: [480, 960, 1440],
  formats: ['avif', 'webp'],
  fallback: 'auto',
  // Effort 3, not sharp's 4, from the measured curve in BENCHMARKS.md (photo-like 1536x1024
  // originals to 960 px, effort 2-6 x quality 40-70): at q50, effort 4 took 5x the CPU of effort 3
  // (1.7 s vs 0.34 s) for files 2% smaller at the same SSIM (ssim.js); effort 2 saved another 45%
  // of the time but made files 7-11% larger, at the edge of the 1.10x-the-peers'-bytes target.
  // Quality 50 (sharp's): q40 was 35% smaller but lost 0.007 SSIM. AVIF dominates encode time, so
  // this sets a cold build's length: on the 6-source set, 0.26x eleventy-img's wall at its defaults.
  avif: { quality: 50, effort: 3 },
  // 78, not sharp's 80 nor the 75 we had: the lowest quality whose SSIM stays within 0.003 of
  // sharp's default on the benchmark's photo-like set (6 sources, 480/960/1440 px, BENCHMARKS.md):
  // q78 made files 10.5% smaller than q80 at -0.0022 SSIM (13% and -0.0021 on all 48 sources);
  // q77 lost 0.0037 and q75 0.0061 (for 24% smaller). Encode time is flat across these qualities
  // (under 100 ms at 960 px), so bytes and SSIM decide.
  webp: { quality: 78, effort: 4 },
  // mozjpeg is always on: ~20% smaller than libjpeg at the same quality, for ~50 ms more per 960 px variant.
  jpeg: { quality: 80 },
  png: { quality: 100, compressionLevel: 9 },
  placeholder: 'blur',
  publicPath: '/_flux/',
  base: '/',
} as const

/** libuv's threadpool size: every sharp operation takes one of its threads, as does file I/O. */
export function threadpoolSize(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const size = Number(env.UV_THREADPOOL_SIZE)
  // libuv reads it once, at the first use of the pool; it clamps to 1..1024 and defaults to 4.
  return Number.isInteger(size) && size >= 1 ? Math.min(size, 1024) : 4
}

/**
 * One sharp operation per core, but one threadpool thread is left for file I/O and DNS: AVIF
 * encodes take up to seconds each, and a full pool would stall the cache's reads and writes,
 * the dev server's file reads and the gateway downloads running alongside.
 */
export function defaultOptimizeConcurrency(): number {
  return Math.max(1, Math.min(availableParallelism(), threadpoolSize() - 1))
}

const KNOWN = [
  'widths',
  'maxWidth',
  'formats',
  'fallback',
  'avif',
  'webp',
  'jpeg',
  'png',
  'placeholder',
  'concurrency',
  'publicPath',
  'base',
] as const satisfies readonly (keyof OptimizeOptions)[]

/**
 * Fills in the defaults and validates once. Throws FLUX_INVALID_OPTIONS listing every problem
 * with its path (prefixed with `path`, e.g. `image`).
 */
export function resolveOptimizeOptions(
  user: OptimizeOptions = {},
  { path = '' }: { path?: string } = {},
): ResolvedOptimizeOptions {
  const problems: string[] = []
  const resolved = checkOptimizeOptions(user, path, problems)
  if (!resolved) throw fluxError('FLUX_INVALID_OPTIONS', { problems })
  return resolved
}

/** The schema of `image`: the resolved options, or undefined with every problem pushed to `problems`. */
export function checkOptimizeOptions(
  user: unknown = {},
  path: string,
  problems: string[],
): ResolvedOptimizeOptions | undefined {
  const before = problems.length
  const at = (name: string) => (path ? `${path}.${name}` : name)
  if (!isRecord(user)) {
    problems.push(`${path || 'options'}: Expected an object, got ${show(user)}`)
    return undefined
  }
  unknownKeys(user, KNOWN, at, problems)
  const u = user as OptimizeOptions
  const d = OPTIMIZE_DEFAULTS
  const width = integer(1, MAX_VARIANT_WIDTH)
  const widths = (list(width)(u.widths ?? d.widths, at('widths'), problems) ?? [])
    .filter((w, i, all) => all.indexOf(w) === i)
    .sort((a, b) => a - b)
  const maxWidth = u.maxWidth === undefined ? undefined : width(u.maxWidth, at('maxWidth'), problems)
  const formats = (list(oneOf(MODERN_FORMATS))(u.formats ?? d.formats, at('formats'), problems) ?? []).filter(
    (f, i, all) => all.indexOf(f) === i,
  )
  const fallback = oneOf(FALLBACK_FORMATS)(u.fallback ?? d.fallback, at('fallback'), problems)

  /** One encoder's settings: each member a whole number in its range, unknown members reported. */
  const encoder = <K extends 'avif' | 'webp' | 'jpeg' | 'png'>(
    name: K,
    ranges: { [M in keyof (typeof d)[K]]: [number, number] },
  ): (typeof d)[K] => {
    const given = u[name] ?? {}
    if (!isRecord(given)) {
      problems.push(`${at(name)}: Expected an object, got ${show(given)}`)
      return d[name]
    }
    const out: Record<string, number> = {}
    for (const [member, [min, max]] of Object.entries(ranges) as [string, [number, number]][]) {
      const fallbackValue = (d[name] as Record<string, number>)[member] as number
      out[member] =
        integer(min, max)(given[member] ?? fallbackValue, at(`${name}.${member}`), problems) ?? fallbackValue
    }
    const known = Object.keys(ranges)
    for (const key of Object.keys(given)) {
      if (!known.includes(key))
        problems.push(`${at(`${name}.${key}`)}: Unknown option (accepted: ${known.join(', ')})`)
    }
    return out as (typeof d)[K]
  }
  const avif = encoder('avif', { quality: [1, 100], effort: [0, 9] })
  const webp = encoder('webp', { quality: [1, 100], effort: [0, 6] })
  const jpeg = encoder('jpeg', { quality: [1, 100] })
  const png = encoder('png', { quality: [1, 100], compressionLevel: [0, 9] })

  const placeholder = oneOf(PLACEHOLDER_KINDS)(u.placeholder ?? d.placeholder, at('placeholder'), problems)
  const concurrency =
    u.concurrency === undefined
      ? defaultOptimizeConcurrency()
      : integer(1, 1024)(u.concurrency, at('concurrency'), problems)
  const publicPath = urlPrefix(at('publicPath'), u.publicPath ?? d.publicPath, problems)
  const base = urlPrefix(at('base'), u.base ?? d.base, problems)

  if (problems.length > before) return undefined
  return {
    widths,
    maxWidth,
    formats,
    fallback: fallback ?? d.fallback,
    avif,
    webp,
    jpeg,
    png,
    placeholder: placeholder ?? d.placeholder,
    concurrency: concurrency ?? 1,
    publicPath,
    base,
  }
}

/**
 * A URL prefix ending in `/`: an absolute URL, a relative `./` path (Vite's relative base), or a
 * path that is given a leading `/` (`_flux` -> `/_flux/`).
 */
function urlPrefix(path: string, value: unknown, problems: string[]): string {
  if (typeof value !== 'string' || /[\s?#"'<>\\]/.test(value)) {
    problems.push(
      `${path}: Expected a URL path such as "/_flux/" or an absolute URL, without spaces, quotes, "?" or "#", got ${show(value)}`,
    )
    return '/'
  }
  const withSlash = value.endsWith('/') ? value : `${value}/`
  const kept = isAbsoluteUrl(value) || withSlash.startsWith('/') || withSlash.startsWith('./')
  return kept ? withSlash : `/${withSlash}`
}

/** `https://cdn.example/`, `//cdn.example/`: served from elsewhere, so no site `base` applies. */
export function isAbsoluteUrl(value: string): boolean {
  return /^(?:[a-z][a-z0-9+.-]*:)?\/\//i.test(value)
}
