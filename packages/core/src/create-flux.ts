import pLimit from 'p-limit'
import { type CacheEntry, type CacheStatus, createDiskCache, requestKey } from './cache/index.js'
import { describeUnknownParams, parseDirective } from './directives/index.js'
import {
  createProgress,
  type Plan,
  type PlanItem,
  type ProgressStream,
  plannedCost,
  planRequests,
  resolveRequest,
  scanProject,
} from './engine/index.js'
import { FluxError, fluxError, formatLocation } from './errors.js'
import { createOptimizer, type ImageResult, type OptimizeCounters, type Optimizer } from './optimize/index.js'
import { type FluxOptions, type ResolvedOptions, resolveOptions } from './options.js'
import { sizeWarning } from './providers/check-image.js'
import { createOpenAIImagesProvider } from './providers/openai-images.js'
import { createPlaceholderProvider } from './providers/placeholder.js'
import { redactingLogger } from './redact.js'
import type {
  CanonicalRequest,
  Directive,
  DirectiveParams,
  GeneratedImage,
  Provider,
  SourceLocation,
} from './types.js'

export interface ScannedItem extends PlanItem {
  status: CacheStatus
}

export interface ScanReport {
  directives: Directive[]
  items: ScannedItem[]
  /** Unreadable files, malformed frontmatter, unresolvable directives: each located. */
  errors: FluxError[]
  /** Likely mistakes that do not stop the build (a misspelt option read as prompt text), located. */
  warnings: string[]
  files: string[]
}

export interface GenerateOptions {
  /** List what would be generated and its estimated cost; call nothing. */
  dryRun?: boolean
  /** Retry prompts the gateway refused before (their refusal is otherwise remembered). */
  force?: boolean
  /** Stops new requests and aborts those in flight (Ctrl-C). */
  signal?: AbortSignal
  /** Where the live progress line goes (a TTY); plain lines go through the logger. */
  progressStream?: ProgressStream
  /**
   * Also make each image's responsive variants, as soon as it is generated (a separate sharp pool,
   * overlapped with the requests still in flight). What adapters do before a build renders.
   */
  optimize?: boolean
  /** With `optimize`: called with each image once its variants exist (an adapter lists its files). */
  onImage?: (image: ImageResult) => void
}

export interface GenerateSummary {
  /** Distinct images the content asks for (after dedupe). */
  total: number
  directives: number
  cached: number
  generated: number
  placeholders: number
  /** Every failure, located: scan problems, bad directives, generation failures. */
  failed: FluxError[]
  /** Images not attempted because the run stopped (auth or quota failure, Ctrl-C, frozen mode, cap). */
  skipped: number
  retries: number
  wallMs: number
  /** Estimated cost in USD of what this run generated (or, in a dry run, would generate). */
  estimatedCost: number
  /** Dry run only: what would be generated. */
  wouldGenerate?: PlanItem[]
}

/** A directive's text as parsed (with its location for errors), or an already canonical request. */
export type ResolveInput =
  | { prompt: string; params?: DirectiveParams; location?: SourceLocation }
  | { request: CanonicalRequest }

/** What `image()`, `resolve()` and `status()` take: the directive string as written (`flux:...`), or its parsed form. */
export type ImageInput = string | ResolveInput

/** The parsed form of an input; a string that is not a directive is FLUX_INVALID_DIRECTIVE. */
export function directiveInput(input: ImageInput): ResolveInput {
  if (typeof input !== 'string') return input
  const parsed = parseDirective(input)
  if (!parsed) {
    throw fluxError('FLUX_INVALID_DIRECTIVE', {
      reason: `Expected a directive such as "flux:A lighthouse at dawn?size=1536x1024", got ${JSON.stringify(input.length > 80 ? `${input.slice(0, 80)}…` : input)}.`,
    })
  }
  return parsed
}

/**
 * Above this many entries to remove, `prune` asks for confirmation (as it does for every entry):
 * after editing a few prompts a prune removes a handful, so dozens at once point to a scan that
 * missed files.
 */
export const PRUNE_CONFIRM_ABOVE = 10

export interface PruneOptions {
  /** List what would be removed, remove nothing. @default false */
  dryRun?: boolean
  /** Remove even when that is every entry, or more than PRUNE_CONFIRM_ABOVE (the CLI's `--yes`). @default false */
  confirmed?: boolean
}

export interface PruneResult {
  /** The keys removed (or, in a dry run, that would be). */
  removed: string[]
  /** Set when nothing was removed for want of confirmation: the keys that would go, of how many. */
  unconfirmed?: { wouldRemove: string[]; total: number }
}

export interface Flux {
  readonly options: ResolvedOptions
  scan(): Promise<ScanReport>
  generate(options?: GenerateOptions): Promise<GenerateSummary>
  /**
   * One image, generated on demand if missing (per the mode), within the same concurrency bound as
   * everything else. Used by the adapters for what a scan could not see.
   */
  resolve(
    input: ImageInput,
    options?: { signal?: AbortSignal },
  ): Promise<{ key: string; request: CanonicalRequest; entry: CacheEntry }>
  /**
   * One image, generated if missing (per the mode) and optimized into responsive variants: the
   * metadata markup needs (`renderPicture(image)`) and the files an adapter emits. The alt text
   * defaults to the prompt.
   */
  image(input: ImageInput, options?: { signal?: AbortSignal; alt?: string }): Promise<ImageResult>
  /** Whether the image is in the cache, without generating anything (`cached`, `missing`, `placeholder`...). */
  status(input: ImageInput): Promise<CacheStatus>
  /**
   * Removes the cache entries no directive references. Removes nothing, and returns `unconfirmed`,
   * when that would be every entry or more than PRUNE_CONFIRM_ABOVE of them, unless `confirmed`.
   */
  prune(options?: PruneOptions): Promise<PruneResult>
  close(): Promise<void>
}

type Outcome = 'cached' | 'generated' | 'placeholder'

interface EngineContext {
  /** Replaces the provider chosen from the options (tests, custom gateways). */
  provider?: Provider
  /** Counts the optimizer's decodes and encodes (tests, benchmarks). */
  optimizeCounters?: OptimizeCounters
}

/**
 * One engine (one concurrency bound, one cache) over options exactly as given (and the process
 * environment): no `.env` or `flux.config.*` file is read. Hosts go through `createSession`, which
 * reads them, so that every entry point computes the same keys.
 */
export function createFlux(
  userOptions: FluxOptions = {},
  context: EngineContext & {
    env?: Readonly<Record<string, string | undefined>>
    fileConfig?: FluxOptions
  } = {},
): Flux {
  return createEngine(resolveOptions(userOptions, context), context)
}

/** The engine over resolved options (the session resolves them once). */
export function createEngine(options: ResolvedOptions, context: EngineContext = {}): Flux {
  const logger = redactingLogger(options.logger, options.apiKey)
  const cache = createDiskCache({ dir: options.cacheDir, logger })
  const limit = pLimit(options.concurrency)
  // Images being prepared (lock, cache checks) or stored around the requests: a little more than
  // the requests themselves keeps the pool fed without holding a lock per image of the site.
  const staging = pLimit(options.concurrency * 2)
  const inFlight = new Map<string, Promise<{ entry: CacheEntry; outcome: Outcome }>>()
  let provider: Provider | undefined = context.provider
  let paidThisRun = 0
  let optimizer: Optimizer | undefined
  let closing: Promise<void> | undefined
  const getOptimizer = () => {
    optimizer ??= createOptimizer({
      cacheDir: options.cacheDir,
      options: options.image,
      logger,
      ...(context.optimizeCounters && { counters: context.optimizeCounters }),
    })
    return optimizer
  }

  function getProvider(): Provider {
    if (provider) return provider
    if (options.mode === 'auto' && options.apiKey) {
      if (!options.baseURL) throw fluxError('FLUX_NO_BASE_URL', {})
      provider = createOpenAIImagesProvider({
        apiKey: options.apiKey,
        baseURL: options.baseURL,
        responseFormat: options.responseFormat,
        timeoutMs: options.timeoutMs,
        maxRetries: options.maxRetries,
        allowPrivateDownloads: options.allowPrivateDownloads,
        logger,
      })
    } else {
      logger.warn(
        options.mode === 'placeholder'
          ? 'Placeholder mode: images are local placeholders, not generated (stored apart from real images).'
          : 'No FLUX_API_KEY set: using local PLACEHOLDER images (stored apart, replaced once a key is set).',
      )
      provider = createPlaceholderProvider()
    }
    return provider
  }

  const usesPlaceholders = () =>
    context.provider
      ? context.provider.placeholder
      : options.mode === 'placeholder' || (options.mode === 'auto' && !options.apiKey)

  /** Cached entry, or the generated one; identical keys share one in-flight promise. */
  function ensure(
    key: string,
    request: CanonicalRequest,
    ctx: {
      signal?: AbortSignal | undefined
      force?: boolean
      onRetry?: () => void
      onStart?: () => void
      /** An auth or quota failure: every further request would fail the same way. */
      onFatal?: (err: FluxError) => void
    },
  ): Promise<{ entry: CacheEntry; outcome: Outcome }> {
    const running = inFlight.get(key)
    if (running) return running
    const task = (async () => {
      const hit = await cache.get(key)
      if (hit) return { entry: hit, outcome: 'cached' as const }
      if (options.mode === 'frozen') throw fluxError('FLUX_MISSING_FROZEN', { list: [request.prompt] })
      const placeholder = usesPlaceholders()
      if (placeholder) {
        const ph = await cache.get(key, { placeholder: true })
        if (ph) return { entry: ph, outcome: 'cached' as const }
      }
      return staging(async () => {
        ctx.signal?.throwIfAborted()
        const source = getProvider()
        if (!placeholder) {
          const refused = ctx.force ? undefined : await cache.getModeration(key)
          if (refused)
            throw fluxError('FLUX_MODERATED', {
              detail: `${refused.detail} (remembered from an earlier run)`,
            })
          if (ctx.force && refused === undefined) await cache.removeModeration(key)
        }
        const generateOnce = async () => {
          const again = await cache.get(key, { placeholder })
          if (again) return { entry: again, outcome: 'cached' as const }
          if (!placeholder && paidThisRun >= options.maxGenerations) {
            throw fluxError('FLUX_BUDGET', { needed: paidThisRun + 1, max: options.maxGenerations })
          }
          if (!placeholder) paidThisRun++
          try {
            // The bound is on requests in flight: the slot is freed once the answer is received
            // (onReceived), so the next request starts while this image is decoded and stored.
            let generation: Promise<GeneratedImage> | undefined
            await limit(async () => {
              ctx.signal?.throwIfAborted()
              ctx.onStart?.()
              let onReceived = () => {}
              const received = new Promise<void>((resolve) => {
                onReceived = resolve
              })
              generation = source.generate(request, {
                signal: ctx.signal,
                onRetry: () => ctx.onRetry?.(),
                onReceived,
              })
              try {
                await Promise.race([generation, received])
              } catch (err) {
                // Said before the slot is released, so no queued request starts after it.
                if (FluxError.is(err, 'FLUX_AUTH') || FluxError.is(err, 'FLUX_QUOTA')) ctx.onFatal?.(err)
                throw err
              }
            })
            const image = await (generation as Promise<GeneratedImage>)
            const entry = await cache.put(key, request, image, { provider: source.name, placeholder })
            return { entry, outcome: placeholder ? ('placeholder' as const) : ('generated' as const) }
          } catch (err) {
            if (FluxError.is(err, 'FLUX_MODERATED')) await cache.markModerated(key, request, err.detail)
            throw err
          }
        }
        // Placeholders are local and deterministic: no cross-process lock needed.
        return placeholder ? generateOnce() : cache.withLock(key, generateOnce, { signal: ctx.signal })
      })
    })().finally(() => inFlight.delete(key))
    inFlight.set(key, task)
    return task
  }

  async function scan(): Promise<ScanReport> {
    const found = await scanProject(options)
    const plan: Plan = planRequests(found.directives, options)
    const statusLimit = pLimit(8)
    const items = await Promise.all(
      plan.items.map((item) => statusLimit(async () => ({ ...item, status: await cache.check(item.key) }))),
    )
    const warnings = found.directives
      .filter((d) => d.unknownParams?.length)
      .map((d) => `${formatLocation(d.location)}: ${describeUnknownParams(d.unknownParams ?? [])}`)
    return {
      directives: found.directives,
      items,
      errors: [...found.errors, ...plan.errors],
      warnings,
      files: found.files,
    }
  }

  async function generate(run: GenerateOptions = {}): Promise<GenerateSummary> {
    const started = Date.now()
    const report = await scan()
    const failed = [...report.errors]
    for (const err of report.errors) logger.warn(err.toString())
    for (const warning of report.warnings) logger.warn(warning)
    const summary: GenerateSummary = {
      total: report.items.length,
      directives: report.directives.length,
      cached: 0,
      generated: 0,
      placeholders: 0,
      failed,
      skipped: 0,
      retries: 0,
      wallMs: 0,
      estimatedCost: 0,
    }
    const finish = () => ({ ...summary, wallMs: Date.now() - started })
    const placeholder = usesPlaceholders()
    const isMissing = (item: ScannedItem) =>
      item.status !== 'cached' && !(placeholder && item.status === 'placeholder')
    const missing = report.items.filter(isMissing)
    summary.cached = report.items.length - missing.length

    if (missing.length > 0 && options.mode === 'frozen') {
      const list = missing.flatMap((item) =>
        item.directives.map((d) => `${formatLocation(d.location)}  ${item.request.prompt}`),
      )
      failed.push(fluxError('FLUX_MISSING_FROZEN', { list }))
      summary.skipped = missing.length
      return finish()
    }
    if (run.dryRun) {
      const wouldGenerate = missing.filter((item) => item.status !== 'moderated' || run.force)
      return {
        ...finish(),
        wouldGenerate,
        estimatedCost: placeholder ? 0 : plannedCost(wouldGenerate, options.prices),
      }
    }
    const paid = placeholder ? [] : missing.filter((item) => item.status !== 'moderated' || run.force)
    if (paid.length > options.maxGenerations - paidThisRun) {
      failed.push(fluxError('FLUX_BUDGET', { needed: paid.length, max: options.maxGenerations }))
      summary.skipped = missing.length
      return finish()
    }

    // Auth and quota failures stop the run: every further request would fail the same way.
    const stop = new AbortController()
    const signal = run.signal ? AbortSignal.any([run.signal, stop.signal]) : stop.signal
    const progress = createProgress({
      total: report.items.length,
      style: options.progress,
      logger,
      stream: run.progressStream,
    })
    progress.counters.cached = summary.cached
    const optimizing: Promise<void>[] = []
    const optimizeItem = async (item: ScannedItem) => {
      try {
        const result = await image({ request: item.request })
        run.onImage?.(result)
      } catch (err) {
        const located = locate(err, item)
        failed.push(located)
        logger.error(located.toString())
      }
    }
    if (run.optimize) {
      for (const item of report.items) if (!isMissing(item)) optimizing.push(optimizeItem(item))
    }
    progress.counters.done = summary.cached
    progress.tick()
    await Promise.all(
      missing.map(async (item) => {
        let started = false
        try {
          const { entry, outcome } = await ensure(item.key, item.request, {
            signal,
            force: run.force ?? false,
            onFatal: () => stop.abort(),
            onStart: () => {
              started = true
              progress.counters.inFlight++
              progress.tick()
            },
            onRetry: () => {
              summary.retries++
              progress.counters.retries++
              progress.tick()
            },
          })
          if (run.optimize) optimizing.push(optimizeItem(item))
          const resized = outcome === 'generated' && sizeWarning(entry.meta, locationsOf(item))
          if (resized) logger.warn(resized)
          if (outcome === 'generated') {
            summary.generated++
            summary.estimatedCost += options.prices[item.request.model] ?? 0
          } else if (outcome === 'placeholder') summary.placeholders++
          else summary.cached++
        } catch (err) {
          if (
            signal.aborted &&
            (!FluxError.is(err) || err.code === 'FLUX_TRANSIENT' || err.code === 'FLUX_INTERRUPTED')
          ) {
            // Stopped by Ctrl-C or by an auth/quota failure reported on its own.
            summary.skipped++
          } else {
            const located = locate(err, item)
            failed.push(located)
            progress.counters.failed++
            logger.error(located.toString())
          }
        } finally {
          progress.counters.done++
          if (started) progress.counters.inFlight--
          progress.tick()
        }
      }),
    )
    progress.stop()
    await Promise.all(optimizing)
    return finish()
  }

  async function resolve(given: ImageInput, { signal }: { signal?: AbortSignal } = {}) {
    const input = directiveInput(given)
    const location = 'location' in input ? input.location : undefined
    const request = 'request' in input ? input.request : resolveRequest({ params: {}, ...input }, options)
    const key = requestKey(request)
    try {
      const { entry, outcome } = await ensure(key, request, { signal })
      const resized = outcome === 'generated' && sizeWarning(entry.meta, location ? [location] : [])
      if (resized) logger.warn(resized)
      return { key, request, entry }
    } catch (err) {
      throw location && FluxError.is(err) && !err.location ? err.at(location) : err
    }
  }

  async function image(given: ImageInput, { signal, alt }: { signal?: AbortSignal; alt?: string } = {}) {
    const input = directiveInput(given)
    const { key, request, entry } = await resolve(input, signal ? { signal } : {})
    const location = 'location' in input ? input.location : undefined
    const params = 'params' in input ? input.params : undefined
    try {
      return await getOptimizer().optimize(entry, {
        key,
        prompt: request.prompt,
        alt: alt ?? params?.alt ?? request.prompt,
      })
    } catch (err) {
      throw location && FluxError.is(err) && !err.location ? err.at(location) : err
    }
  }

  async function status(given: ImageInput): Promise<CacheStatus> {
    const input = directiveInput(given)
    const request = 'request' in input ? input.request : resolveRequest({ params: {}, ...input }, options)
    return cache.check(requestKey(request))
  }

  async function prune({ dryRun = false, confirmed = false }: PruneOptions = {}): Promise<PruneResult> {
    const report = await scan()
    if (report.errors.some((e) => e.code === 'FLUX_READ_FAILED' || e.code === 'FLUX_FRONTMATTER')) {
      // A file we could not read may reference entries: deleting them could destroy paid images.
      throw new FluxError('FLUX_READ_FAILED', 'Some files could not be scanned, so nothing was pruned.', {
        hint: `Fix these first:\n${report.errors.map((e) => `    ${e.message}`).join('\n')}`,
      })
    }
    const used = new Set(report.items.map((item) => item.key))
    const keys = new Set([
      ...(await cache.list()).map((m) => m.key),
      ...(await cache.listPlaceholders()).map((m) => m.key),
    ])
    const removed = [...keys].filter((key) => !used.has(key)).sort()
    // A typo in include/exclude/root makes the scan find nothing, and every paid original looks unused.
    const sweeping =
      removed.length > 0 && (removed.length === keys.size || removed.length > PRUNE_CONFIRM_ABOVE)
    if (sweeping && !confirmed && !dryRun) {
      return { removed: [], unconfirmed: { wouldRemove: removed, total: keys.size } }
    }
    if (!dryRun) for (const key of removed) await cache.remove(key)
    return { removed }
  }

  return {
    options,
    scan,
    generate,
    resolve,
    image,
    status,
    prune,
    close() {
      // Idempotent: hosts such as Vite may close twice.
      closing ??= Promise.resolve(provider?.close?.())
      return closing
    },
  }
}

/** Where the image's directives are, in the order they were found. */
function locationsOf(item: PlanItem): SourceLocation[] {
  return item.directives.map((d) => d.location)
}

/** The error, located at the first directive that asks for the image, naming the others. */
function locate(err: unknown, item: PlanItem): FluxError {
  const first = item.directives[0]
  const base = FluxError.is(err)
    ? err
    : new FluxError('FLUX_TRANSIENT', err instanceof Error ? err.message : String(err), { cause: err })
  if (!first) return base
  const others = item.directives.slice(1).map((d) => formatLocation(d.location))
  const detail = others.length ? `${base.detail} (also used at ${others.join(', ')})` : base.detail
  return new FluxError(base.code, detail, { hint: base.hint, location: first.location, cause: base.cause })
}
