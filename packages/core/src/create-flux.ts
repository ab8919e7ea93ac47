import {
  type CacheEntry,
  type CacheStatus,
  createDiskCache,
  createPickStore,
  createReceiptStore,
  createVariantStore,
  type OriginalStore,
  type PickedStore,
  requestKey,
  withLeaseJobs,
  withPicks,
} from './cache/index.js'
import { createBudget } from './engine/budget.js'
import { type Candidate, candidateStore, createCandidates } from './engine/candidates.js'
import { chooseProvider, placeholderReason } from './engine/choose-provider.js'
import { priceOf } from './engine/cost.js'
import { directiveInput, type ImageInput, requestOf } from './engine/directive-input.js'
import { createObtainOriginal, type ObtainCollaborators } from './engine/obtain-original.js'
import { type PruneOptions, type PruneResult, pruneCache } from './engine/prune-cache.js'
import { createRequestSlots } from './engine/request-slots.js'
import { type GenerateOptions, type GenerateSummary, runGeneration } from './engine/run-generation.js'
import { type ScanReport, scanReport } from './engine/scan-report.js'
import { FluxError, fluxError } from './errors.js'
import { createOptimizer, type ImageResult, type OptimizeCounters, type Optimizer } from './optimize/index.js'
import { type FluxOptions, type ResolvedOptions, resolveOptions } from './options.js'
import { sizeWarning } from './providers/check-image.js'
import { redactingLogger } from './redact.js'
import { openRemoteCache } from './remote/remote-cache.js'
import type { CanonicalRequest, Logger, Provider, SourceLocation } from './types.js'

export { directiveInput, type ImageInput, type ResolveInput } from './engine/directive-input.js'
export { PRUNE_CONFIRM_ABOVE, type PruneOptions, type PruneResult } from './engine/prune-cache.js'
export type { GenerateOptions, GenerateSummary } from './engine/run-generation.js'
export type { ScannedItem, ScanReport } from './engine/scan-report.js'

export interface Flux {
  readonly options: ResolvedOptions
  /** The engine's store of originals, picks honoured (for the report: one cache, read by everyone). */
  readonly cache: PickedStore
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
  /**
   * The images of one directive: 0 its own, then the candidates made for it (`make`, each a paid
   * generation), and which one it shows; `pick(n)` shows candidate `n` from now on (0: its own).
   */
  candidates(input: ImageInput): {
    list(): Promise<Candidate[]>
    make(count: number): Promise<Candidate[]>
    pick(n: number): Promise<void>
  }
  close(): Promise<void>
}

interface EngineContext {
  /** Replaces the provider chosen from the options (tests, custom gateways). */
  provider?: Provider
  /** Another engine's cache over the same folder (the session's placeholder engine in dev): one cache per folder. */
  cache?: PickedStore
  /** Counts the optimizer's decodes and encodes (tests, benchmarks). */
  optimizeCounters?: OptimizeCounters
  /** A paid generation starts: the dev server logs each one. */
  onGenerate?: ObtainCollaborators['onGenerate']
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
  const options = resolveOptions(userOptions, context)
  return createEngine({ ...options, logger: redactingLogger(options.logger, options.apiKey) }, context)
}

/**
 * The engine over resolved options (the session resolves them once): its parts, wired. Its logger
 * is the caller's, already redacting the key (the session's, or `createFlux`'s).
 */
export function createEngine(options: ResolvedOptions, context: EngineContext = {}): Flux {
  const { logger } = options
  const cache =
    context.cache ?? withPicks(openCache(options, logger), createPickStore({ dir: options.cacheDir }))
  const reason = context.provider
    ? context.provider.placeholder
      ? `the ${context.provider.name} provider`
      : undefined
    : placeholderReason(options)
  const placeholder = reason !== undefined
  let provider = context.provider
  let optimizer: Optimizer | undefined
  let closing: Promise<void> | undefined
  const budget = createBudget(options.maxGenerations, options.maxSpend)
  const getProvider = () => (provider ??= chooseProvider(options, logger))
  // The OpenAI Images protocol takes no reference images: a preset's are refused before any spend.
  const refuse = (request: CanonicalRequest) => {
    const count = request.references?.length ?? 0
    if (count === 0 || placeholder) return undefined
    const chosen = getProvider()
    if (count <= (chosen.maxReferences ?? 0)) return undefined
    return fluxError('FLUX_REFERENCES_UNSUPPORTED', { provider: chosen.name, count })
  }
  const collaborators: ObtainCollaborators = {
    refuse,
    cache,
    provider: getProvider,
    slots: createRequestSlots(options.concurrency),
    // Only BFL works in jobs that outlive a request.
    // With a shared bucket, each receipt also travels in its key's lease (another machine that takes it over resumes it).
    ...(options.provider === 'bfl' && {
      receipts: withLeaseJobs(createReceiptStore({ dir: options.cacheDir }), cache.remote?.jobs),
    }),
    budget,
    estimate: (request) => priceOf(request, options.prices),
    mode: options.mode,
    placeholder,
    requireReal: options.requireReal,
    ...(reason && { placeholderReason: reason }),
    ...(context.onGenerate && { onGenerate: context.onGenerate }),
  }
  const obtain = createObtainOriginal(collaborators)
  const getOptimizer = () =>
    (optimizer ??= createOptimizer({
      variants: createVariantStore({ dir: options.cacheDir, logger }),
      options: options.image,
      logger,
      ...(context.optimizeCounters && { counters: context.optimizeCounters }),
    }))
  const scan = () => scanReport({ options, cache })

  async function resolve(given: ImageInput, { signal }: { signal?: AbortSignal } = {}) {
    const { key, request, location } = requestOf(directiveInput(given), options)
    const locations = location ? [location] : []
    const { entry, outcome } = await obtain(key, request, { signal, locations }).catch((err) =>
      Promise.reject(at(err, location)),
    )
    const resized = outcome === 'generated' && sizeWarning(entry.meta, location ? [location] : [])
    if (resized) logger.warn(resized)
    return { key, request, entry }
  }

  async function image(given: ImageInput, { signal, alt }: { signal?: AbortSignal; alt?: string } = {}) {
    return (await variants(given, true, signal, alt)) as ImageResult
  }

  /** An image's variants: made (`encode`), or only those made before, if any. */
  async function variants(given: ImageInput, encode: boolean, signal?: AbortSignal, alt?: string) {
    const input = directiveInput(given)
    const { key, request, entry } = await resolve(input, signal ? { signal } : {})
    const location = 'location' in input ? input.location : undefined
    const info = {
      key,
      prompt: request.prompt,
      alt: alt ?? ('params' in input ? input.params?.alt : undefined) ?? request.prompt,
    }
    if (!encode) return getOptimizer().made(entry, info)
    return getOptimizer()
      .optimize(entry, info)
      .catch((err) => Promise.reject(at(err, location)))
  }

  return {
    options,
    cache,
    scan,
    generate: (run) =>
      runGeneration(
        {
          options,
          logger,
          scan,
          obtain,
          budget,
          placeholder,
          refuse,
          ...(reason && { placeholderReason: reason }),
          optimize: (request, encode) => variants({ request }, encode),
          ...(cache.remote && { remote: cache.remote }),
          originals: () => cache.list(),
        },
        run,
      ),
    resolve,
    image,
    status: async (given) => cache.check(requestOf(directiveInput(given), options).key),
    prune: (opts) => pruneCache({ scan, cache, candidates: candidateStore(options.cacheDir, logger) }, opts),
    candidates(given) {
      const { request } = requestOf(directiveInput(given), options)
      const candidates = createCandidates({
        options,
        cache,
        logger,
        obtain: async (wanted, store) => {
          if (placeholder) throw fluxError('FLUX_NO_API_KEY', {})
          // Through this engine's bound and budget, into the candidates' own store.
          const one = createObtainOriginal({ ...collaborators, cache: store })
          return (await one(requestKey(wanted), wanted)).entry
        },
      })
      return {
        list: () => candidates.list(request),
        make: (count) => candidates.make(request, count),
        pick: (n) => candidates.pick(request, n),
      }
    },
    close() {
      // Idempotent: hosts such as Vite may close twice.
      // The store is closed by the engine that opened it.
      const remote = context.cache ? undefined : cache.remote
      closing ??= Promise.all([provider?.close?.(), remote?.close()]).then(() => undefined)
      return closing
    },
  }
}

/** The disk store of `cacheDir`, layered over the shared bucket when `remote` is set. */
function openCache(options: ResolvedOptions, logger: Logger): OriginalStore {
  const disk = createDiskCache({ dir: options.cacheDir, logger })
  if (!options.remote) return disk
  logger.info(
    `[flux] Shared cache: s3://${options.remote.bucket}/${options.remote.prefix} (${options.remote.mode}).`,
  )
  return openRemoteCache(options.remote, disk, logger)
}

/** The error located at `location` when it has no location yet. */
function at(err: unknown, location: SourceLocation | undefined): unknown {
  return location && FluxError.is(err) && !err.location ? err.at(location) : err
}
