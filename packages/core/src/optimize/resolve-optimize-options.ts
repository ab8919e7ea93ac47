import { availableParallelism } from 'node:os'
import * as v from 'valibot'
import { list, oneOf, optionsObject, parseOptions, show, wholeNumber } from '../schema.js'

/** Formats offered in `<source>` elements, best first. */
export const MODERN_FORMATS = ['avif', 'webp'] as const
/** Formats of the `<img>` itself: `auto` is PNG for an image with transparency, JPEG otherwise. */
export const FALLBACK_FORMATS = ['auto', 'jpeg', 'png'] as const
/** What shows while an image loads: a tiny blurred image, its dominant colour, or nothing. */
export const PLACEHOLDER_KINDS = ['blur', 'color', 'none'] as const

export type ModernFormat = (typeof MODERN_FORMATS)[number]
export type FallbackFormat = Exclude<(typeof FALLBACK_FORMATS)[number], 'auto'>
export type PlaceholderKind = (typeof PLACEHOLDER_KINDS)[number]

/** WebP cannot encode a side longer than this, so no variant may be wider. */
export const MAX_VARIANT_WIDTH = 16383

/** The defaults of OPTIMIZE_OPTIONS, stated once. */
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

const d = OPTIMIZE_DEFAULTS
const width = wholeNumber(1, MAX_VARIANT_WIDTH)
const distinct = <T>(values: T[]): T[] => values.filter((x, i, all) => all.indexOf(x) === i)

/**
 * A URL prefix ending in `/`: an absolute URL, a relative `./` path (Vite's relative base), or a
 * path that is given a leading `/` (`_flux` -> `/_flux/`).
 */
const urlPrefix = v.pipe(
  v.custom<string>(
    (value) => typeof value === 'string' && !/[\s?#"'<>\\]/.test(value),
    (issue) =>
      `Expected a URL path such as "/_flux/" or an absolute URL, without spaces, quotes, "?" or "#", got ${show(issue.input)}`,
  ),
  v.transform((value) => {
    const withSlash = value.endsWith('/') ? value : `${value}/`
    const kept = isAbsoluteUrl(value) || withSlash.startsWith('/') || withSlash.startsWith('./')
    return kept ? withSlash : `/${withSlash}`
  }),
)

/**
 * How images are turned into responsive variants (the `image` option). Every member is optional;
 * its default is OPTIMIZE_DEFAULTS'. The optimizer's options, `OptimizeOptions` as given and
 * `ResolvedOptimizeOptions` as used, are this schema's input and output.
 */
export const OPTIMIZE_OPTIONS = v.pipe(
  optionsObject({
    /**
     * Widths of the variants, in pixels. The original's width (or `maxWidth`) is always emitted
     * too, as the largest variant; widths at or above it collapse into it (never upscaled). Sorted
     * and distinct once resolved.
     * @default [480, 960, 1440]
     */
    widths: v.optional(
      v.pipe(
        list(width),
        v.transform((widths) => distinct(widths).sort((a, b) => a - b)),
      ),
      () => [...d.widths],
    ),
    /**
     * Cap on the largest variant: wider originals are scaled down to it, and `width`/`height` of
     * the result describe the capped image.
     * @default undefined (the original's width)
     */
    maxWidth: v.optional(width),
    /** Modern formats offered as `<source>` elements, in order of preference. @default ['avif', 'webp'] */
    formats: v.optional(v.pipe(list(oneOf(MODERN_FORMATS)), v.transform(distinct)), () => [...d.formats]),
    /** Format of the `<img>` itself. `auto`: PNG when the image has transparency, else JPEG. @default 'auto' */
    fallback: v.optional(oneOf(FALLBACK_FORMATS), d.fallback),
    /** AVIF encoder. `quality` 1-100, `effort` 0 (fastest) to 9 (smallest). @default { quality: 50, effort: 3 } */
    avif: v.optional(
      optionsObject({
        quality: v.optional(wholeNumber(1, 100), d.avif.quality),
        effort: v.optional(wholeNumber(0, 9), d.avif.effort),
      }),
      {},
    ),
    /** WebP encoder. `quality` 1-100, `effort` 0-6. @default { quality: 78, effort: 4 } */
    webp: v.optional(
      optionsObject({
        quality: v.optional(wholeNumber(1, 100), d.webp.quality),
        effort: v.optional(wholeNumber(0, 6), d.webp.effort),
      }),
      {},
    ),
    /** JPEG encoder (mozjpeg). `quality` 1-100. @default { quality: 80 } */
    jpeg: v.optional(optionsObject({ quality: v.optional(wholeNumber(1, 100), d.jpeg.quality) }), {}),
    /**
     * PNG encoder. `quality` 100 is lossless; lower quantises to a palette (smaller, lossy).
     * `compressionLevel` 0-9 (zlib).
     * @default { quality: 100, compressionLevel: 9 }
     */
    png: v.optional(
      optionsObject({
        quality: v.optional(wholeNumber(1, 100), d.png.quality),
        compressionLevel: v.optional(wholeNumber(0, 9), d.png.compressionLevel),
      }),
      {},
    ),
    /** What shows while the image loads: a tiny blurred image, its dominant colour, or nothing. @default 'blur' */
    placeholder: v.optional(oneOf(PLACEHOLDER_KINDS), d.placeholder),
    /**
     * sharp operations run at once, and originals held decoded at once (each ~5 MB for 1536x1024).
     * Above `UV_THREADPOOL_SIZE - 1` it only queues in libuv's threadpool (4 threads unless the
     * environment sets it when node starts), which file reads and writes share.
     * @default min(os.availableParallelism(), UV_THREADPOOL_SIZE - 1), at least 1
     */
    concurrency: v.optional(wholeNumber(1, 1024), defaultOptimizeConcurrency),
    /** Where the variants are served from: a path under the site, or an absolute URL (a CDN). @default '/_flux/' */
    publicPath: v.optional(urlPrefix, d.publicPath),
    /** The site's base path (Vite `base`, Astro `base`), prefixed to a path `publicPath`. @default '/' */
    base: v.optional(urlPrefix, d.base),
  }),
  // Every member present once resolved, `maxWidth` too (undefined: the original's width).
  v.transform((resolved) => ({ ...resolved, maxWidth: resolved.maxWidth })),
)

/** How images are turned into responsive variants, as given. */
export type OptimizeOptions = v.InferInput<typeof OPTIMIZE_OPTIONS>
/** The same, every default filled in; `publicPath` and `base` end with `/`. */
export type ResolvedOptimizeOptions = v.InferOutput<typeof OPTIMIZE_OPTIONS>

/**
 * Fills in the defaults and validates (scripts and benchmarks; the engine gets these resolved with
 * the other options). Throws FLUX_INVALID_OPTIONS listing every problem with its path (prefixed
 * with `path`, e.g. `image`).
 */
export function resolveOptimizeOptions(
  user: OptimizeOptions = {},
  { path = '' }: { path?: string } = {},
): ResolvedOptimizeOptions {
  return parseOptions(OPTIMIZE_OPTIONS, user, { path })
}

/** `https://cdn.example/`, `//cdn.example/`: served from elsewhere, so no site `base` applies. */
export function isAbsoluteUrl(value: string): boolean {
  return /^(?:[a-z][a-z0-9+.-]*:)?\/\//i.test(value)
}
