import type { IncomingMessage, ServerResponse } from 'node:http'
import { basename, join, relative, resolve } from 'node:path'
import {
  createEngine,
  directiveInput,
  type Flux,
  type GenerateSummary,
  type ImageInput,
  type ResolveInput,
} from '../create-flux.js'
import { fieldDirective } from '../directives/frontmatter/field-directive.js'
import { priceOf } from '../engine/cost.js'
import { requestOf } from '../engine/directive-input.js'
import { formatDuration } from '../engine/index.js'
import type { ScannedItem, ScanReport } from '../engine/scan-report.js'
import { type FluxError, formatLocation } from '../errors.js'
import { type ImageResult, type OptimizeOptions, publicUrl, serveVariants } from '../optimize/index.js'
import { type FluxOptions, type ResolvedOptions, resolveOptions } from '../options.js'
import { createPlaceholderProvider } from '../providers/placeholder.js'
import { redactingLogger } from '../redact.js'
import type {
  CanonicalRequest,
  Directive,
  DirectiveKind,
  Logger,
  ParsedDirective,
  Provider,
  SourceLocation,
} from '../types.js'
import { devGuard, isLoopback } from './dev-guard.js'
import { devImages } from './dev-images.js'
import { imageIndex } from './image-index.js'
import { CONFIG_FILES, loadConfig } from './load-config.js'
import { envFiles, loadEnv } from './load-env.js'
import { createStudio, type HeldImages, type Studio } from './studio.js'

type Env = Readonly<Record<string, string | undefined>>

/** What the host (the CLI, Vite, Astro, a script) tells the session about itself. */
export interface SessionHost {
  /**
   * `dev` turns on the dev policy (placeholders while images are pending). `sync`: a step that
   * prepares types and content without building (`astro sync`, `astro check`), which never calls
   * the gateway: cached images are used, and placeholders stand in for the rest, said in one line.
   * @default 'build'
   */
  command?: 'build' | 'dev' | 'cli' | 'sync'
  /** The host's project root; `options.root` wins. @default process.cwd() */
  root?: string
  /** Which `.env.[mode]` files are read, as Vite names modes. @default 'development' in dev, else 'production' */
  envMode?: string
  /** The host's logger; `options.logger` wins. */
  logger?: Logger
  /** The host's defaults for where variants are served (its `base`, its assets folder). */
  image?: Pick<OptimizeOptions, 'base' | 'publicPath'>
  /** The real environment, which wins over `.env` files. @default process.env */
  env?: Env
  /**
   * Dev: where the server listens (Vite's and Astro's `server.host`). Beyond this machine it pays
   * for nothing unless `allowNetworkDev`. @default this machine only
   */
  serverHost?: string | boolean
  /** Dev: pending images arrived (or failed); re-render `files`, the sources that showed them, and reload. */
  onRefresh?: (files: string[]) => void | Promise<void>
  /** Replaces the gateway provider (tests). */
  provider?: Provider
}

export interface Session {
  /** The engine: scan, generate, resolve, image, status, prune. */
  readonly flux: Flux
  readonly options: ResolvedOptions
  /** The configuration's files, present or not (`flux.config.*`, `.env*`): a change to one means a new session. */
  readonly watchFiles: readonly string[]
  /** Every variant file of the images resolved so far (pages' and a build's): public URL -> file in the cache (dev serves them, builds emit them). */
  readonly files: ReadonlyMap<string, string>
  /**
   * One image for a page, its files remembered. `file` is the source asking for it. In dev, an
   * image on its way is its placeholder at once, and `onRefresh` follows when it arrives.
   */
  image(input: ImageInput, file?: string): Promise<ImageResult>
  /**
   * The directives the project's scan found in `file` (absolute), for a host to
   * look its images up by offset instead of parsing them again. Undefined where the index cannot
   * tell (dev, where files change under it; a file no scan read): the host scans what it has then.
   */
  directivesIn(file: string): Promise<readonly Directive[] | undefined>
  /**
   * The directive a frontmatter field holds: `value` as the host's YAML parse gave it (a string, or
   * the object form `{ flux, size, ... }`), `path` its field path where known. Looked up in the
   * project's scan (located, nothing parsed again); read from the value only where no scan saw it
   * (a schema's default, a loader that is not a file). Undefined when it holds no directive.
   */
  fieldDirective(value: unknown, path?: readonly (string | number)[]): Promise<ParsedDirective | undefined>
  /** The project's scan, taken once per session (the build's own, once it ran). */
  scan(): Promise<ScanReport>
  /**
   * Generates and optimizes every directive of the project in one bounded pool, then logs the
   * summary line. Throws one error holding every located failure (`errors`), for the host to show.
   */
  build(): Promise<GenerateSummary>
  /**
   * Dev: generates what the project misses in the background, while pages render (sharing the
   * generations they wait for); each failure is logged, located. Does nothing in a session whose
   * command is not `dev`.
   */
  prepare(): void
  /** Dev servers' middleware: pending images and the variants handed out. */
  middleware(req: IncomingMessage, res: ServerResponse, next: () => void): void
  /**
   * Dev servers' first middleware, before any transform: refuses (403, logged) requests for flux
   * modules and files that another site's page sent (see `devGuard`).
   */
  guard(req: IncomingMessage, res: ServerResponse, next: () => void): void
  /** Dev: the author's studio (a page's images, re-roll, pick, edit, generate what waits); undefined outside dev. */
  readonly studio: Studio | undefined
  /** Dev: a project file was added, changed or removed (the host's watcher). */
  changed(file: string): void
  /** Stops the background run and releases the gateway's connections; idempotent. */
  close(): Promise<void>
}

/**
 * The one way into flux-images for every entry point. Resolves the configuration once: the given
 * options (flags, adapter options), then the environment, then the `FLUX_` variables of the root's
 * `.env` files (read as Vite reads them), then `flux.config.{mjs,js,ts}`, then the defaults; so
 * every entry point of one project computes the same keys. Owns the engines, the dev policy, the
 * build's summary and its error.
 */
export async function createSession(options: FluxOptions = {}, host: SessionHost = {}): Promise<Session> {
  const command = host.command ?? 'build'
  const root = resolve(options.root ?? host.root ?? process.cwd())
  const envMode = host.envMode ?? (command === 'dev' ? 'development' : 'production')
  const [{ config, file }, { env, fromFiles }] = await Promise.all([
    loadConfig(root),
    loadEnv(root, envMode, host.env ?? process.env),
  ])
  const resolved = resolveOptions(
    { ...options, root },
    {
      env,
      envFromFiles: fromFiles,
      fileConfig: config,
      ...(file && { fileName: basename(file) }),
      hostDefaults: { logger: host.logger, image: host.image },
    },
  )
  const logger = redactingLogger(resolved.logger, resolved.apiKey)
  // The project's images, scanned once; in dev, what the project's files write is the only
  // images a dev server pays for.
  const index = imageIndex({ options: resolved, scan: () => flux.scan() })
  const written = command === 'dev' ? index : undefined
  // Dev: generations paid for in this session (the studio's budget counts them).
  let spent = 0
  if (command === 'sync') {
    logger.info(
      '[flux] sync: generates nothing and pays for nothing; cached images are used, placeholders stand in for the rest (a build generates them).',
    )
  }
  const flux: Flux = createEngine(
    // A sync is no build: it never fails for a placeholder, and the line above says it makes them.
    command === 'sync' ? { ...resolved, requireReal: false, logger } : { ...resolved, logger },
    {
      ...(host.provider && { provider: host.provider }),
      ...(command === 'sync' && { provider: createPlaceholderProvider() }),
      // Every image a dev server pays for is said as it starts, with who asked for it.
      ...(written && {
        onGenerate: (key: string, request: CanonicalRequest, locations: readonly SourceLocation[]) => {
          spent++
          logger.info(generatingLine(request, locations.length ? locations : written.where(key)))
        },
      }),
    },
  )
  const files = new Map<string, string>()
  // Dev: which image each URL handed out shows (the studio lists a page's images from its URLs).
  const urlKeys = new Map<string, string>()
  const remember = (image: ImageResult) => {
    for (const { url, path } of image.files) files.set(url, path)
    // Outside dev an image, once made, stays as it is for the session.
    if (!written) index.remember(image)
    if (written) for (const url of [image.src, ...image.files.map((f) => f.url)]) urlKeys.set(url, image.key)
  }
  // Closing stops the background run: a dev server restarting must not keep paying for a stale config.
  const closing = new AbortController()
  let placeholders: Flux | undefined

  // A dev server others can reach pays for nothing, unless a person here said it may.
  const spends = resolved.mode === 'auto' && resolved.apiKey !== undefined
  const exposed = command === 'dev' && !listensLocally(host.serverHost)
  const paused = exposed && spends && !resolved.allowNetworkDev
  if (paused) {
    logger.warn(
      `[flux] The dev server listens beyond this machine (host ${JSON.stringify(host.serverHost)}): it generates nothing, so no one on the network can spend your key, and missing images show placeholders. Set allowNetworkDev: true (flux.config.mjs or the plugin's options) to generate anyway.`,
    )
  }
  // Dev: more images missing at start than `devThreshold` wait for the author's go (the studio).
  let held: ScannedItem[] | undefined
  let deciding: Promise<void> | undefined
  const publicPaths = servedPaths(resolved.image)
  const dev = written
    ? devImages(flux, {
        placeholders: () => {
          // Its "placeholder mode" warning would be wrong: real images are on their way.
          placeholders ??= createEngine(
            { ...resolved, mode: 'placeholder', requireReal: false, logger: { ...logger, warn() {} } },
            { cache: flux.cache },
          )
          return placeholders
        },
        refresh: (changed) => host.onRefresh?.(changed),
        onError: (err) => logger.error(err.toString()),
        mayGenerate: async (key, file) => {
          await deciding
          return !paused && !held && (await written.has(key, file))
        },
        onRefused: (input, file) => {
          if (!paused && !held) logger.warn(refusedLine(input, file, resolved.root))
        },
        publicPaths,
      })
    : undefined
  const guard = devGuard({ publicPaths, network: resolved.allowNetworkDev, logger })
  const variants = serveVariants(files, { base: resolved.image.base })
  const refresh = (changed: string[]) => void host.onRefresh?.(changed)
  const heldImages = (): HeldImages | undefined =>
    held && {
      count: held.length,
      cost: held.reduce((sum, item) => sum + priceOf(item.request, resolved.prices), 0),
      items: held.map((item) => ({ location: item.directives[0]?.location, prompt: item.request.prompt })),
    }
  const studio =
    written &&
    createStudio({
      flux,
      options: resolved,
      written,
      keyOfUrl: (url) => PENDING_URL.exec(url)?.[1] ?? urlKeys.get(url),
      spent: () => spent,
      paused,
      held: heldImages,
      async generateHeld() {
        const waiting = held ?? []
        const summary = await flux.generate({ optimize: true, signal: closing.signal, onImage: remember })
        for (const failure of summary.failed) logger.error(failure.toString())
        held = undefined
        const shown = waiting.flatMap((item) => item.directives.map((d) => join(root, d.location.file)))
        refresh([...new Set(shown)])
        return summary.generated
      },
      refresh,
    })

  const session: Session = {
    flux,
    options: flux.options,
    watchFiles: [...CONFIG_FILES.map((name) => join(root, name)), ...envFiles(root, envMode)],
    files,
    async image(input, file) {
      if (dev) {
        const result = await dev.image(directiveInput(input), file)
        remember(result)
        return result
      }
      const given = directiveInput(input)
      const { key, request } = requestOf(given, resolved)
      const made = index.made(key)
      // Made in this session: the same image, with this directive's alt.
      if (made) return { ...made, alt: ('params' in given ? given.params?.alt : undefined) ?? request.prompt }
      const result = await flux.image(given)
      remember(result)
      return result
    },
    async directivesIn(file) {
      return dev ? undefined : index.find(file)
    },
    async fieldDirective(value, path) {
      return (await index.field(value, path))?.directive ?? fieldDirective(value)
    },
    scan: () => index.scan(),
    async build() {
      // A build reads the project as it is now; the integration then looks images up in that scan.
      index.forget()
      // Variants only for what our markup shows wherever it is written; the rest on demand.
      const obtained = new Set<string>()
      const optimize = ({ key, directives }: { key: string; directives: readonly Directive[] }) => {
        obtained.add(key)
        return directives.some((d) => MARKUP_KINDS.has(d.kind))
      }
      const summary = await flux.generate({ optimize, onImage: remember, scan: index.scan })
      index.settle(afterRun(await index.scan(), summary, obtained))
      if (summary.failed.length > 0) throw buildError(summary.failed)
      logger.info(formatSummary(summary))
      return summary
    },
    prepare() {
      // Astro runs its dev hooks on the temporary server of every content sync (`astro build`,
      // `astro sync`, `astro check`): only a dev session generates in the background.
      if (paused || !written) return
      deciding = index.scan().then(
        (report) => {
          // Placeholders count as missing: the engine makes them real (a page may have shown one already).
          const missing = report.items.filter((item) => MISSING.has(item.status))
          if (missing.length > resolved.devThreshold && spends) {
            held = missing
            logger.warn(heldText(heldImages() as HeldImages, resolved.devThreshold, resolved.image.base))
            return
          }
          flux.generate({ optimize: true, signal: closing.signal, scan: index.scan }).then(
            (summary) => {
              for (const failure of summary.failed) logger.error(failure.toString())
            },
            (err) => logger.error(String(err)),
          )
        },
        (err) => logger.error(String(err)),
      )
    },
    middleware(req, res, next) {
      if (dev) dev.middleware(req, res, () => variants(req, res, next))
      else variants(req, res, next)
    },
    guard,
    studio,
    changed(file) {
      written?.changed(file)
    },
    async close() {
      closing.abort()
      await Promise.all([flux.close(), placeholders?.close()])
    },
  }
  return session
}

/** The run's scan with each item's status as the run left it: what pages now show. */
function afterRun(report: ScanReport, summary: GenerateSummary, obtained: Set<string>): ScanReport {
  const placeholders = new Set(summary.placeholderImages)
  const items = report.items.map((item) => {
    if (placeholders.has(item)) return { ...item, status: 'placeholder' as const }
    return obtained.has(item.key) ? { ...item, status: 'cached' as const } : item
  })
  return { ...report, items }
}

/** Whether a dev server's `host` setting keeps it on this machine (Vite's and Astro's defaults do). */
function listensLocally(serverHost: string | boolean | undefined): boolean {
  if (serverHost === undefined || serverHost === false) return true
  return serverHost !== true && isLoopback(serverHost)
}

/** The URL paths flux serves its files under in dev: with the host's `base`, and without (Astro strips it). */
function servedPaths(image: { base: string; publicPath: string }): string[] {
  if (!image.publicPath.startsWith('/')) return [] // A CDN's URL: nothing of it is served here.
  return [...new Set([publicUrl('', image), image.publicPath])]
}

const MISSING = new Set(['missing', 'placeholder', 'corrupt'])
/**
 * Directives whose image our own markup shows wherever they are written: a build makes their
 * variants before pages render. A frontmatter value or a `flux:` import may go to the host's own
 * pipeline as an original (Astro's `image()`, `<Image>`): its variants are made when markup asks
 * (`image()`), or are those an earlier build made, so an image only the host shows encodes none.
 */
const MARKUP_KINDS = new Set<DirectiveKind>(['markdown', 'html', 'component'])
// A pending image's URL names its key: `<publicPath>~<key>/<file>`.
const PENDING_URL = /~([0-9a-f]{24})\/[^/]*$/

function heldText(held: HeldImages, threshold: number, base: string): string {
  const list = held.items
    .map(
      ({ location, prompt }) =>
        `\n  ${location ? `${formatLocation(location)}: ` : ''}${shownPrompt(prompt)}`,
    )
    .join('')
  return `[flux] ${held.count} images are missing (est. $${held.cost.toFixed(3)}), more than devThreshold (${threshold}): the dev server generates none on its own, and pages show placeholders. To generate them, press "Generate" in the studio (${base}__flux/ on this server), or run flux-images generate.${list}`
}

/** Longest part of a prompt shown in a dev server's line. */
const SHOWN_PROMPT = 60
const shownPrompt = (prompt: string) =>
  JSON.stringify(prompt.length > SHOWN_PROMPT ? `${prompt.slice(0, SHOWN_PROMPT)}…` : prompt)

function generatingLine(request: CanonicalRequest, locations: readonly SourceLocation[]): string {
  const where = locations.length ? locations.map(formatLocation).join(', ') : 'no located directive'
  return `[flux] Generating ${shownPrompt(request.prompt)} (${request.model}, ${request.size}, ${request.quality}) for ${where}`
}

function refusedLine(input: ResolveInput, file: string | undefined, root: string): string {
  const prompt = 'request' in input ? input.request.prompt : input.prompt
  const location = 'location' in input ? input.location : undefined
  const where = location ? `${formatLocation(location)}: ` : file ? `${relative(root, file)}: ` : ''
  return `[flux] ${where}${shownPrompt(prompt)} is written in no file of the project, so the dev server shows its placeholder and pays for nothing (a page or a script may have made it up). Write the directive in a project file to have it generated; a build generates it too.`
}

/** The build's one error: every failure, located, in `errors`, and listed in the message. */
export function buildError(failed: readonly FluxError[]): AggregateError {
  const list = failed.map((e) => e.toString()).join('\n')
  return new AggregateError(failed, `[flux] ${failed.length} image(s) failed:\n${list}`)
}

/** The one summary line of a run, whichever entry point ran it. */
export function formatSummary(s: GenerateSummary): string {
  const failures = countBy(s.failed.map((e) => e.code))
  const failedText = s.failed.length ? ` (${[...failures].map(([c, n]) => `${c} ${n}`).join(', ')})` : ''
  const counts = [
    `${s.generated} generated`,
    `${s.cached} cached`,
    `${s.placeholders} placeholder(s)${s.placeholders && s.placeholderReason ? ` (${s.placeholderReason})` : ''}`,
    `${s.failed.length} failed${failedText}`,
    ...(s.skipped ? [`${s.skipped} skipped`] : []),
  ]
  const remote = s.remote
    ? ` · remote: ${s.remote.downloaded} downloaded (${megabytes(s.remote.downloadedBytes)}), ${s.remote.uploaded} uploaded (${megabytes(s.remote.uploadedBytes)})`
    : ''
  return `[flux] ${s.total} image(s) from ${s.directives} directive(s): ${counts.join(', ')} · ${s.retries} retries · ${formatDuration(s.wallMs)} · est. $${s.estimatedCost.toFixed(3)}${s.chargedCost === undefined ? '' : ` · charged $${s.chargedCost.toFixed(3)}`}${remote}`
}

export function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`
}

export function countBy(values: string[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
  return counts
}
