import { basename } from 'node:path'
import pLimit from 'p-limit'
import { creditsToUsd } from '../bfl-models.js'
import type { CacheEntryMeta, CacheStatus, RefusalRecord } from '../cache/index.js'
import type { Flux } from '../create-flux.js'
import { candidateStore } from '../engine/candidates.js'
import { presetOf, type RequestDefaults } from '../engine/resolve-request.js'
import { formatLocation } from '../errors.js'
import { redactingLogger } from '../redact.js'
import type { CanonicalRequest, Directive, DirectiveKind, Logger, SourceLocation } from '../types.js'
import { makeThumbnail, type Thumbnail } from './make-thumbnail.js'

// Each thumbnail decodes a full-size original; two at a time keep memory flat and leave the
// shared cores to the rest of the machine, and a report of hundreds still takes seconds.
const THUMBNAIL_CONCURRENCY = 2

/**
 * What a card says of its image:
 * - `real`: a generated original that some directive uses;
 * - `placeholder`: used, but only a local placeholder exists (no key was set when it was made);
 * - `moderated`: used, but the gateway refused the prompt (remembered; there is no image);
 * - `unused`: in the cache, but no directive references it (`flux-images prune` removes it);
 * - `corrupt`: used, but what is stored fails its integrity check (the next generate replaces it).
 */
export type ReportStatus = 'real' | 'placeholder' | 'moderated' | 'unused' | 'corrupt'

/** What the cache holds for a key: an original, a placeholder, a refusal, or files without metadata. */
export type ReportStored = 'original' | 'placeholder' | 'refusal' | 'incomplete'

/** One place a directive asks for the image. */
export interface ReportUsage {
  location: SourceLocation
  kind: DirectiveKind
  alt?: string
  /** The preset applied there, and the prompt as written (the request holds the prompt as sent). */
  preset?: { name: string; written: string }
}

/** The stored image file, as its metadata describes it. */
export interface ReportImage {
  width: number
  height: number
  /** Sharp's format name: png, jpeg, webp. */
  format: string
  bytes: number
  /** The provider that made it, e.g. `openai-images` or `placeholder`. */
  provider: string
  /** What the API reported charging for it, in its credits (BFL), and that in USD; absent when it reported none. */
  charged?: { credits: number; usd: number }
}

/** One card of the report: one cache key. */
export interface ReportEntry {
  key: string
  status: ReportStatus
  stored: ReportStored
  /** Undefined only for an unreferenced entry whose metadata is unreadable. */
  request?: CanonicalRequest
  revisedPrompt?: string
  image?: ReportImage
  /** ISO time the image was generated, or the prompt refused. */
  created?: string
  usedAt: ReportUsage[]
  /** The gateway's message, for a refused prompt. */
  refusal?: string
  thumbnail?: Thumbnail
  /**
   * The directive's images when candidates were made for it (`flux-images candidates`): 0 its own,
   * then each candidate, the one pages show marked; absent when it has only its own.
   */
  candidates?: ReportCandidate[]
  /** Why the entry has no preview or cannot be served. */
  problem?: string
}

/** One of a directive's images: its own (0) or a candidate made for it, as the local cache holds it. */
export interface ReportCandidate {
  number: number
  key: string
  shown: boolean
  thumbnail?: Thumbnail
}

/** A referenced image that is not in the cache at all (never generated). */
export interface ReportMissing {
  key: string
  request: CanonicalRequest
  usedAt: ReportUsage[]
}

export interface ReportData {
  /** The project folder's name (not its path: the report may be shared). */
  project: string
  /** ISO time the report was made. */
  generatedAt: string
  /** Every cache key, used ones first in source order, then unused ones. */
  entries: ReportEntry[]
  missing: ReportMissing[]
  /** Every stored image file, referenced or not. */
  totals: {
    originals: { count: number; bytes: number }
    placeholders: { count: number; bytes: number }
    /** The originals whose metadata records what the API charged (BFL), and what that sums to. */
    charged: { images: number; credits: number; usd: number }
  }
  /** Scan problems (unreadable files...), located: with any, an `unused` status may be wrong. */
  scanProblems: string[]
}

export interface CollectReportOptions {
  /** The engine: its scan, its options, and its cache, which the report reads (and never writes). */
  flux: Pick<Flux, 'scan' | 'options' | 'cache' | 'candidates'>
  /** @default `flux.options.logger` */
  logger?: Logger
  /** Embed a thumbnail of each image. @default true */
  thumbnails?: boolean
  /** @default new Date() */
  now?: Date
}

/**
 * Gathers what the report shows: every cache entry (originals, placeholders, refusals), where
 * each is used according to a fresh scan, and its status. Reads only; writes nothing.
 */
export async function collectReport(options: CollectReportOptions): Promise<ReportData> {
  const { flux, thumbnails = true } = options
  const logger = redactingLogger(options.logger ?? flux.options.logger, flux.options.apiKey)
  const { cache } = flux
  const now = options.now ?? new Date()

  const [scan, originals, placeholders, keys, picks] = await Promise.all([
    flux.scan(),
    cache.list(),
    cache.listPlaceholders(),
    cache.keys(),
    cache.picks.list(),
  ])
  const items = new Map(scan.items.map((item) => [item.key, item]))
  // Candidates are few and local: listed once, so that only a directive one was made for is asked
  // for its candidates (which reads and verifies its own original).
  const candidateOf = (r: CanonicalRequest) => `${r.prompt}\0${r.model}\0${r.size}`
  const madeFor = new Set(
    (await candidateStore(flux.options.cacheDir, logger).list()).map((m) => candidateOf(m.request)),
  )
  // A picked candidate's original is used by the directive that picked it.
  for (const { key, pick } of picks) {
    const item = items.get(key)
    if (item && !items.has(pick)) items.set(pick, item)
  }
  const original = new Map(originals.map((meta) => [meta.key, meta]))
  const placeholder = new Map(placeholders.map((meta) => [meta.key, meta]))
  const stored = new Set(keys)
  const limit = pLimit(THUMBNAIL_CONCURRENCY)

  const entries = await Promise.all(
    keys.map(async (key): Promise<ReportEntry> => {
      const item = items.get(key)
      // The scan already verified the keys it uses; the others are checked here.
      const health: CacheStatus = item ? item.status : await cache.check(key)
      const refusal = health === 'moderated' ? await cache.refusals.get(key) : undefined
      const real = original.get(key)
      const local = placeholder.get(key)
      const entry = describe(key, health, real, local, refusal)
      entry.usedAt = item ? item.directives.map((d) => usage(d, flux.options)) : []
      if (item) entry.request = item.key === key ? item.request : (real?.request ?? item.request)
      else entry.status = 'unused'
      const shown = health === 'cached' || health === 'placeholder'
      if (thumbnails && shown) {
        try {
          entry.thumbnail = await limit(async () => {
            const stored = await cache.get(key, { placeholder: health === 'placeholder' })
            if (!stored) throw new Error('the entry changed while the report was made')
            return makeThumbnail(stored.path)
          })
        } catch (err) {
          entry.problem = `No preview: ${err instanceof Error ? err.message : String(err)}`
          logger.warn(`[flux] Report: cache entry ${key} could not be previewed: ${entry.problem}`)
        }
      }
      const made =
        item?.key === key && health === 'cached' && madeFor.has(candidateOf(item.request))
          ? await flux.candidates(item.directives[0] as Directive).list()
          : []
      if (made.length > 1)
        entry.candidates = await Promise.all(
          made.map(async ({ number, key, shown, path }) => ({
            number,
            key,
            shown,
            ...(thumbnails
              ? { thumbnail: await limit(() => makeThumbnail(path)).catch(() => undefined) }
              : {}),
          })),
        )
      return entry
    }),
  )
  entries.sort(byUsage)

  const missing = scan.items
    .filter((item) => !stored.has(item.key))
    .map((item) => ({
      key: item.key,
      request: item.request,
      usedAt: item.directives.map((d) => usage(d, flux.options)),
    }))
  const sum = (metas: CacheEntryMeta[]) => ({
    count: metas.length,
    bytes: metas.reduce((total, meta) => total + meta.bytes, 0),
  })
  return {
    project: basename(flux.options.root),
    generatedAt: now.toISOString(),
    entries,
    missing,
    totals: { originals: sum(originals), placeholders: sum(placeholders), charged: charged(originals) },
    scanProblems: scan.errors.map((err) => err.message),
  }
}

/** What the originals with a recorded cost were charged in all (credits summed to the hundredth, as APIs bill them). */
function charged(originals: readonly CacheEntryMeta[]): ReportData['totals']['charged'] {
  const costed = originals.filter((meta) => meta.credits !== undefined)
  const credits = Math.round(costed.reduce((total, meta) => total + (meta.credits ?? 0) * 100, 0)) / 100
  return { images: costed.length, credits, usd: creditsToUsd(credits) }
}

/** The card of a key from what its check found and what is stored for it. */
function describe(
  key: string,
  health: CacheStatus,
  real: CacheEntryMeta | undefined,
  local: CacheEntryMeta | undefined,
  refusal: RefusalRecord | undefined,
): ReportEntry {
  if (health === 'moderated' && refusal) {
    return {
      key,
      status: 'moderated',
      stored: 'refusal',
      request: refusal.request,
      created: refusal.created,
      usedAt: [],
      refusal: refusal.detail,
    }
  }
  const meta = health === 'placeholder' ? local : (real ?? local)
  const entry: ReportEntry = {
    key,
    status: health === 'cached' ? 'real' : health === 'placeholder' ? 'placeholder' : 'corrupt',
    stored: meta === undefined ? 'incomplete' : meta === local ? 'placeholder' : 'original',
    usedAt: [],
  }
  if (meta) {
    entry.request = meta.request
    if (meta.revisedPrompt !== undefined) entry.revisedPrompt = meta.revisedPrompt
    entry.created = meta.created
    entry.image = {
      width: meta.width,
      height: meta.height,
      format: meta.format,
      bytes: meta.bytes,
      provider: meta.provider,
      ...(meta.credits !== undefined && {
        charged: { credits: meta.credits, usd: creditsToUsd(meta.credits) },
      }),
    }
  }
  if (health !== 'cached' && health !== 'placeholder') {
    entry.problem =
      meta === undefined
        ? 'Incomplete entry: image files without readable metadata (left by an interrupted run).'
        : 'The stored image does not match its metadata (corrupt): it is never served.'
  }
  return entry
}

function usage(d: Directive, options: RequestDefaults): ReportUsage {
  const preset = presetOf(d.params, options)
  return {
    location: d.location,
    kind: d.kind,
    ...(d.params.alt === undefined ? {} : { alt: d.params.alt }),
    ...(preset && { preset: { name: preset.name, written: d.prompt } }),
  }
}

/** Used entries first, in source order; then unused ones, newest first. */
function byUsage(a: ReportEntry, b: ReportEntry): number {
  const fa = a.usedAt[0]
  const fb = b.usedAt[0]
  if (fa && fb) return formatLocation(fa.location).localeCompare(formatLocation(fb.location), 'en', NUMERIC)
  if (fa || fb) return fa ? -1 : 1
  return (b.created ?? '').localeCompare(a.created ?? '') || a.key.localeCompare(b.key)
}

const NUMERIC = { numeric: true } as const
