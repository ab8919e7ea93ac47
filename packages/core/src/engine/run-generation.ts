import { creditsToUsd } from '../bfl-models.js'
import type { CacheEntryMeta, RemoteSide, RemoteStats } from '../cache/index.js'
import { FluxError, fluxError, formatLocation } from '../errors.js'
import type { ImageResult } from '../optimize/index.js'
import type { ResolvedOptions } from '../options.js'
import { sizeWarning } from '../providers/check-image.js'
import type { CanonicalRequest, Directive, Logger } from '../types.js'
import type { Budget } from './budget.js'
import { plannedCost, priceOf } from './cost.js'
import type { ObtainOriginal, Outcome } from './obtain-original.js'
import type { PlanItem } from './plan.js'
import { createProgress, type Progress, type ProgressStream } from './progress.js'
import type { ScannedItem, ScanReport } from './scan-report.js'
import { type UnusedOriginal, unusedOriginals } from './unused-originals.js'

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
   * overlapped with the requests still in flight). What adapters do before a build renders. A
   * function chooses per image, by its directives: the others encode nothing, and come with the
   * variants an earlier run made, if any (a host's own pipeline may take only their originals).
   */
  optimize?: boolean | ((item: { key: string; directives: readonly Directive[] }) => boolean)
  /** With `optimize`: called with each image once its variants exist (an adapter lists its files). */
  onImage?: (image: ImageResult) => void
  /** The project's scan, when the host holds one (the session's image index). @default a new scan */
  scan?: () => Promise<ScanReport>
}

export interface GenerateSummary {
  /** Distinct images the content asks for (after dedupe). */
  total: number
  directives: number
  cached: number
  generated: number
  /** Images served as local placeholders: made by this run, or made before and still not real. */
  placeholders: number
  /** Why they are placeholders (`no FLUX_API_KEY set`, `placeholder mode`), when there are any. */
  placeholderReason?: string
  /** The images counted in `placeholders`, with the directives that show them. */
  placeholderImages?: PlanItem[]
  /** Every failure, located: scan problems, bad directives, generation failures. */
  failed: FluxError[]
  /** Images not attempted because the run stopped (auth or quota failure, Ctrl-C, frozen mode, cap). */
  skipped: number
  retries: number
  wallMs: number
  /** Estimated cost in USD of what this run generated (or, in a dry run, would generate). */
  estimatedCost: number
  /** What the API reported charging for the images this run generated, in USD (BFL's credits); absent when it reports none. */
  chargedCost?: number
  /** Dry run only: what would be generated. */
  wouldGenerate?: PlanItem[]
  /** Dry run only: the cached originals no directive uses any more, and what re-keyed them. */
  unused?: UnusedOriginal[]
  /** With a shared bucket: what this run downloaded (counted in `cached`) and uploaded. */
  remote?: RemoteStats
}

/** What a run works with, as one object. */
export interface RunCollaborators {
  options: Pick<ResolvedOptions, 'mode' | 'prices' | 'progress' | 'requireReal'>
  logger: Logger
  scan: () => Promise<ScanReport>
  obtain: ObtainOriginal
  budget: Budget
  /** True when the images made are local placeholders. */
  placeholder: boolean
  /** Why the provider cannot make a request, checked for every image before anything is spent. */
  refuse?: (request: CanonicalRequest) => FluxError | undefined
  /** Why they are (`no FLUX_API_KEY set`), for the summary and its warning. */
  placeholderReason?: string
  /** One image's responsive variants: made (`encode`), or only those made before, if any. */
  optimize: (request: CanonicalRequest, encode: boolean) => Promise<ImageResult | undefined>
  /** The shared bucket, when the cache has one. */
  remote?: RemoteSide
  /** The metadata of every real original in the cache (a dry run lists those no directive uses). */
  originals?: () => Promise<CacheEntryMeta[]>
}

/** One run in progress: its collaborators, its summary, its progress and its stop signal. */
interface Run {
  c: RunCollaborators
  summary: GenerateSummary
  progress: Progress
  signal: AbortSignal
  force: boolean
  /** Stops the run after an auth or quota failure: every further request would fail the same way. */
  stop: () => void
  /** Whether an image past `maxSpend` was reported (once per run). */
  spendReported: boolean
  /** Optimizes an image now, if the run optimizes; awaited at the end. */
  optimize: (item: PlanItem) => void
}

/**
 * Scans, then obtains every image the content asks for that is not cached, and summarises.
 * Nothing is requested when the mode is frozen, in a dry run, or when the budget cannot cover
 * every image to pay for: the summary says why.
 */
export async function runGeneration(
  c: RunCollaborators,
  run: GenerateOptions = {},
): Promise<GenerateSummary> {
  const started = Date.now()
  const before = c.remote?.stats()
  const report = await (run.scan ?? c.scan)()
  for (const err of report.errors) c.logger.warn(err.toString())
  for (const warning of report.warnings) c.logger.warn(warning)
  // Missing locally; those in the shared bucket (`remote`) are downloaded, then counted as cached.
  const missing = report.items.filter((item) => isMissing(item, c.placeholder))
  // A placeholder made by an earlier run is served again: said as one, never as cached.
  const served = report.items.filter((item) => c.placeholder && item.status === 'placeholder')
  const summary: GenerateSummary = {
    total: report.items.length,
    directives: report.directives.length,
    cached: report.items.length - missing.length - served.length,
    generated: 0,
    placeholders: served.length,
    placeholderImages: served,
    failed: [...report.errors],
    skipped: 0,
    retries: 0,
    wallMs: 0,
    estimatedCost: 0,
  }
  const held = holdBack(c, run, summary, report.items, missing)
  if (!held) await generateMissing(c, run, summary, report.items, missing)
  if (run.dryRun && held && c.originals) held.unused = unusedOriginals(report.items, await c.originals())
  const remote = before && c.remote && difference(c.remote.stats(), before)
  const result = { ...summary, ...held, ...(remote && { remote }), wallMs: Date.now() - started }
  if (result.placeholders > 0) {
    // In the scan's order, not the order they were made in: the same list on every run.
    const served = new Set(result.placeholderImages)
    result.placeholderImages = report.items.filter((item) => served.has(item))
    result.placeholderReason = c.placeholderReason ?? 'placeholder provider'
    // Every build that serves one says so, warm or cold: a CI job without its secrets must not look clean.
    c.logger.warn(placeholderWarning(result.placeholderImages ?? [], result.placeholderReason))
  }
  return result
}

/** The warning of a run that serves placeholders: each one at its directives' file:line. */
function placeholderWarning(items: readonly PlanItem[], reason: string): string {
  const lines = items.flatMap((item) =>
    item.directives.map((d) => `  - ${formatLocation(d.location)}  ${JSON.stringify(item.request.prompt)}`),
  )
  return (
    `[flux] ${items.length} image(s) served as local placeholders, not real images (${reason}):\n${lines.join('\n')}\n` +
    '  hint: Build with FLUX_API_KEY and FLUX_BASE_URL set to generate them; FLUX_REQUIRE_REAL=1 (or `requireReal`) makes such a build fail.'
  )
}

function difference(after: RemoteStats, before: RemoteStats): RemoteStats {
  return {
    downloaded: after.downloaded - before.downloaded,
    downloadedBytes: after.downloadedBytes - before.downloadedBytes,
    uploaded: after.uploaded - before.uploaded,
    uploadedBytes: after.uploadedBytes - before.uploadedBytes,
  }
}

/**
 * Why nothing is requested (frozen mode with images missing, placeholders that `requireReal`
 * forbids, a dry run, a budget too small), or undefined.
 */
function holdBack(
  c: RunCollaborators,
  run: GenerateOptions,
  summary: GenerateSummary,
  items: ScannedItem[],
  missing: ScannedItem[],
): Partial<GenerateSummary> | undefined {
  const absent = missing.filter((item) => item.status !== 'remote')
  if (absent.length > 0 && c.options.mode === 'frozen') {
    const list = absent.flatMap((item) =>
      item.directives.map((d) => `${formatLocation(d.location)}  ${item.request.prompt}`),
    )
    // Located at the first one listed: hosts' overlays point there.
    const first = absent[0]?.directives[0]?.location
    const err = fluxError('FLUX_MISSING_FROZEN', { list })
    summary.failed.push(first ? err.at(first) : err)
    return { skipped: missing.length }
  }
  if (c.placeholder && c.options.requireReal) {
    // What is neither real here nor in the shared bucket would be a placeholder.
    const fake = items.filter((item) => item.status !== 'cached' && item.status !== 'remote')
    if (fake.length > 0) {
      const list = fake.flatMap((item) =>
        item.directives.map((d) => `${formatLocation(d.location)}  ${JSON.stringify(item.request.prompt)}`),
      )
      const reason = c.placeholderReason ?? 'placeholder provider'
      const first = fake[0]?.directives[0]?.location
      const err = fluxError('FLUX_REQUIRE_REAL', { images: fake.length, reason, list })
      summary.failed.push(first ? err.at(first) : err)
      return { skipped: missing.length + summary.placeholders, placeholders: 0, placeholderImages: [] }
    }
  }
  const toPay = absent.filter((item) => item.status !== 'moderated' || run.force)
  // A request the provider cannot take fails the run before any other is sent.
  const refused = toPay.flatMap((item) => {
    const err = c.placeholder ? undefined : c.refuse?.(item.request)
    return err ? item.directives.map((d) => err.at(d.location)) : []
  })
  if (refused.length > 0) {
    summary.failed.push(...refused)
    return { skipped: missing.length }
  }
  if (run.dryRun) {
    return {
      wouldGenerate: toPay,
      estimatedCost: c.placeholder ? 0 : plannedCost(toPay, c.options.prices),
      // What the shared bucket holds is downloaded, never paid for.
      cached: summary.cached + missing.length - absent.length,
    }
  }
  if (!c.placeholder && !c.budget.covers(toPay.length)) {
    summary.failed.push(fluxError('FLUX_BUDGET', { needed: toPay.length, max: c.budget.max }))
    return { skipped: missing.length }
  }
  return undefined
}

async function generateMissing(
  c: RunCollaborators,
  options: GenerateOptions,
  summary: GenerateSummary,
  items: ScannedItem[],
  missing: ScannedItem[],
): Promise<void> {
  const stop = new AbortController()
  const progress = createProgress({
    total: items.length,
    style: c.options.progress,
    logger: c.logger,
    stream: options.progressStream,
  })
  const optimizing: Promise<void>[] = []
  const run: Run = {
    c,
    summary,
    progress,
    signal: options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal,
    force: options.force ?? false,
    stop: () => stop.abort(),
    spendReported: false,
    optimize: (item) => {
      const { optimize } = options
      if (!optimize) return
      const encode = optimize === true || optimize(item)
      optimizing.push(optimizeItem(run, item, encode, options.onImage))
    },
  }
  const waiting = new Set(missing)
  for (const item of items) if (!waiting.has(item)) run.optimize(item)
  progress.counters.cached = summary.cached
  progress.counters.done = items.length - missing.length
  progress.tick()
  await Promise.all(missing.map((item) => generateItem(run, item)))
  progress.stop()
  await Promise.all(optimizing)
}

/** One missing image: obtained and counted, or its failure located; progress either way. */
async function generateItem(run: Run, item: ScannedItem): Promise<void> {
  const { summary, progress } = run
  let started = false
  try {
    const { entry, outcome } = await run.c.obtain(item.key, item.request, {
      signal: run.signal,
      force: run.force,
      locations: item.directives.map((d) => d.location),
      onFatal: run.stop,
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
    run.optimize(item)
    count(run, item, entry.meta, outcome)
  } catch (err) {
    // The first image past `maxSpend` says so; the others are skipped (those in flight finish).
    const overSpend = FluxError.is(err, 'FLUX_SPEND')
    if (stoppedBy(run.signal, err) || (overSpend && run.spendReported)) summary.skipped++
    else {
      if (overSpend) run.spendReported = true
      progress.counters.failed++
      fail(run, item, err)
    }
  } finally {
    progress.counters.done++
    if (started) progress.counters.inFlight--
    progress.tick()
  }
}

function count(run: Run, item: PlanItem, meta: CacheEntryMeta, outcome: Outcome): void {
  const { summary } = run
  if (outcome === 'generated') {
    const resized = sizeWarning(
      meta,
      item.directives.map((d) => d.location),
    )
    if (resized) run.c.logger.warn(resized)
    summary.generated++
    summary.estimatedCost += priceOf(item.request, run.c.options.prices)
    if (meta.credits !== undefined)
      summary.chargedCost = (summary.chargedCost ?? 0) + creditsToUsd(meta.credits)
  } else if (outcome === 'placeholder') {
    summary.placeholders++
    summary.placeholderImages?.push(item)
  } else summary.cached++
}

async function optimizeItem(
  run: Run,
  item: PlanItem,
  encode: boolean,
  onImage: ((image: ImageResult) => void) | undefined,
): Promise<void> {
  try {
    const image = await run.c.optimize(item.request, encode)
    if (image) onImage?.(image)
  } catch (err) {
    fail(run, item, err)
  }
}

function fail(run: Run, item: PlanItem, err: unknown): void {
  const located = locate(err, item)
  run.summary.failed.push(located)
  run.c.logger.error(located.toString())
}

/** Stopped by Ctrl-C or by an auth/quota failure reported on its own: skipped, not failed. */
function stoppedBy(signal: AbortSignal, err: unknown): boolean {
  return (
    signal.aborted && (!FluxError.is(err) || err.code === 'FLUX_TRANSIENT' || err.code === 'FLUX_INTERRUPTED')
  )
}

function isMissing(item: ScannedItem, placeholder: boolean): boolean {
  return item.status !== 'cached' && !(placeholder && item.status === 'placeholder')
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
