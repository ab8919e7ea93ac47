import pLimit from 'p-limit'
import type { CacheEntry, VariantManifest, VariantStore } from '../cache/index.js'
import type { Logger } from '../types.js'
import { type ImageResult, toImageResult } from './image-result.js'
import { createCounters, makeVariants, type OptimizeCounters, type RunSharp } from './make-variants.js'
import { type ResolvedOptimizeOptions, threadpoolSize } from './resolve-optimize-options.js'
import { slugify } from './slugify.js'
import { variantKey } from './variant-manifest.js'

export interface OptimizerOptions {
  /** Where manifests and variant files are read and written (the cache's `variants/`). */
  variants: VariantStore
  options: ResolvedOptimizeOptions
  logger: Logger
  /** Counted into, e.g. to share counts with a progress display. @default fresh counters */
  counters?: OptimizeCounters
}

/** What the result says about the image besides its files. Each defaults to the entry's request. */
export interface OptimizeInfo {
  /** The request key. @default entry.meta.key */
  key?: string
  /** The prompt, also the source of the file names' slug. @default entry.meta.request.prompt */
  prompt?: string
  /** @default '' */
  alt?: string | undefined
}

export interface Optimizer {
  readonly options: ResolvedOptimizeOptions
  /** Live counts: decodes, encodes, hits, sharp operations at once (and their peak). */
  readonly stats: Readonly<OptimizeCounters>
  /**
   * The responsive variants of a cached original (a real image or a placeholder), made once and
   * then read from their manifest without decoding anything. Concurrent calls for the same variants
   * share one job. Rejects with FLUX_BAD_ORIGINAL, FLUX_OPTIMIZE_FAILED or FLUX_CACHE_WRITE; a
   * failure concerns this image only.
   */
  optimize(entry: CacheEntry, info?: OptimizeInfo): Promise<ImageResult>
  /** The variants an earlier `optimize` made (this process or another), or undefined: encodes nothing. */
  made(entry: CacheEntry, info?: OptimizeInfo): ImageResult | undefined
}

/**
 * The optimizer: one per build, with its own bounded pools, separate from the generation pool so
 * encoding overlaps with downloads.
 *
 * - `concurrency` bounds the sharp operations in flight (each is one libuv threadpool task) and,
 *   separately, the originals held decoded at once (memory: ~5 MB each for 1536x1024). A job
 *   holding an original waits for operation slots; operations never wait for jobs, so the two
 *   pools cannot deadlock.
 * - sharp is loaded with the first image to encode (a warm build loads none), and its own
 *   operation cache is then turned off, process-wide (`loadSharp`).
 * - `sharp.concurrency()` (libvips threads per operation) is left as sharp sets it: the number of
 *   cores, or 1 on glibc without jemalloc, where sharp limits it to curb memory fragmentation.
 *   Parallelism comes from running several operations at once, and libaom runs its own threads
 *   for AVIF anyway. It is process-wide, shared with any other sharp user (Astro's image service).
 */
export function createOptimizer({ variants, options, logger, counters }: OptimizerOptions): Optimizer {
  const stats = counters ?? createCounters()
  const ops = pLimit(options.concurrency)
  const jobs = pLimit(options.concurrency)
  const inFlight = new Map<string, Promise<VariantManifest>>()

  const pool = threadpoolSize()
  if (options.concurrency > pool) {
    logger.warn(
      `[flux] Image concurrency ${options.concurrency} is above libuv's threadpool size (${pool}): at most ${pool} ` +
        `sharp operations run at once, and file reads wait behind them. Start node with UV_THREADPOOL_SIZE=${options.concurrency + 1}.`,
    )
  }

  const run: RunSharp = (operation) =>
    ops(async () => {
      stats.active++
      stats.peakActive = Math.max(stats.peakActive, stats.active)
      try {
        return await operation()
      } finally {
        stats.active--
      }
    })

  async function build(entry: CacheEntry, key: string, slug: string): Promise<VariantManifest> {
    // Another build sharing the cache may have finished it while this one waited for a slot.
    const done = variants.readManifest(key)
    if (done) {
      stats.hits++
      return done
    }
    const started = Date.now()
    stats.held++
    stats.peakHeld = Math.max(stats.peakHeld, stats.held)
    try {
      const manifest = await makeVariants({
        entry,
        key,
        slug,
        options,
        variants,
        run,
        counters: stats,
      })
      await variants.writeManifest(manifest)
      logger.debug?.(
        `[flux] Optimized ${entry.meta.key}: ${manifest.files.length} files in ${Date.now() - started} ms.`,
      )
      return manifest
    } finally {
      stats.held--
    }
  }

  function manifestOf(entry: CacheEntry, slug: string): Promise<VariantManifest> {
    const key = variantKey({ sha256: entry.meta.sha256, placeholder: entry.placeholder }, slug, options)
    const running = inFlight.get(key)
    if (running) return running
    const task = (async () => {
      const hit = variants.readManifest(key)
      if (hit) {
        stats.hits++
        return hit
      }
      return jobs(() => build(entry, key, slug))
    })().finally(() => inFlight.delete(key))
    inFlight.set(key, task)
    return task
  }

  const result = (entry: CacheEntry, manifest: VariantManifest, info: OptimizeInfo, prompt: string) =>
    toImageResult(
      manifest,
      { key: info.key ?? entry.meta.key, prompt, alt: info.alt },
      { filesDir: variants.filesDir, publicPath: options.publicPath, base: options.base },
    )

  return {
    options,
    stats,
    async optimize(entry, info = {}) {
      const prompt = info.prompt ?? entry.meta.request.prompt
      return result(entry, await manifestOf(entry, slugify(prompt)), info, prompt)
    },
    made(entry, info = {}) {
      const prompt = info.prompt ?? entry.meta.request.prompt
      const key = variantKey(
        { sha256: entry.meta.sha256, placeholder: entry.placeholder },
        slugify(prompt),
        options,
      )
      const manifest = variants.readManifest(key)
      return manifest && result(entry, manifest, info, prompt)
    },
  }
}
