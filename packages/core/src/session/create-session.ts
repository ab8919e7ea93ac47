import type { IncomingMessage, ServerResponse } from 'node:http'
import { basename, join, resolve } from 'node:path'
import {
  createEngine,
  directiveInput,
  type Flux,
  type GenerateSummary,
  type ImageInput,
} from '../create-flux.js'
import { formatDuration } from '../engine/index.js'
import type { FluxError } from '../errors.js'
import { type ImageResult, type OptimizeOptions, serveVariants } from '../optimize/index.js'
import { type FluxOptions, type ResolvedOptions, resolveOptions } from '../options.js'
import { redactingLogger } from '../redact.js'
import type { Logger, Provider } from '../types.js'
import { devImages } from './dev-images.js'
import { CONFIG_FILES, loadConfig } from './load-config.js'
import { envFiles, loadEnv } from './load-env.js'

type Env = Readonly<Record<string, string | undefined>>

/** What the host (the CLI, Vite, Astro, a script) tells the session about itself. */
export interface SessionHost {
  /** `dev` turns on the dev policy (placeholders while images are pending). @default 'build' */
  command?: 'build' | 'dev' | 'cli'
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
   * Generates and optimizes every directive of the project in one bounded pool, then logs the
   * summary line. Throws one error holding every located failure (`errors`), for the host to show.
   */
  build(): Promise<GenerateSummary>
  /**
   * Dev: generates what the project misses in the background, while pages render (sharing the
   * generations they wait for); each failure is logged, located.
   */
  prepare(): void
  /** Dev servers' middleware: pending images and the variants handed out. */
  middleware(req: IncomingMessage, res: ServerResponse, next: () => void): void
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
  const flux = createEngine({ ...resolved, logger }, host.provider ? { provider: host.provider } : {})
  const files = new Map<string, string>()
  const remember = (image: ImageResult) => {
    for (const { url, path } of image.files) files.set(url, path)
  }
  // Closing stops the background run: a dev server restarting must not keep paying for a stale config.
  const closing = new AbortController()
  let placeholders: Flux | undefined

  const dev =
    command === 'dev'
      ? devImages(flux, {
          placeholders: () => {
            // Its "placeholder mode" warning would be wrong: real images are on their way.
            placeholders ??= createEngine(
              { ...resolved, mode: 'placeholder', logger: { ...logger, warn() {} } },
              { cache: flux.cache },
            )
            return placeholders
          },
          refresh: (changed) => host.onRefresh?.(changed),
          onError: (err) => logger.error(err.toString()),
        })
      : undefined
  const variants = serveVariants(files, { base: resolved.image.base })

  return {
    flux,
    options: flux.options,
    watchFiles: [...CONFIG_FILES.map((name) => join(root, name)), ...envFiles(root, envMode)],
    files,
    async image(input, file) {
      const result = dev ? await dev.image(directiveInput(input), file) : await flux.image(input)
      remember(result)
      return result
    },
    async build() {
      const summary = await flux.generate({ optimize: true, onImage: remember })
      if (summary.failed.length > 0) throw buildError(summary.failed)
      logger.info(formatSummary(summary))
      return summary
    },
    prepare() {
      flux.generate({ optimize: true, signal: closing.signal }).then(
        (summary) => {
          for (const failure of summary.failed) logger.error(failure.toString())
        },
        (err) => logger.error(String(err)),
      )
    },
    middleware(req, res, next) {
      if (dev) dev.middleware(req, res, () => variants(req, res, next))
      else variants(req, res, next)
    },
    async close() {
      closing.abort()
      await Promise.all([flux.close(), placeholders?.close()])
    },
  }
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
    `${s.placeholders} placeholder(s)`,
    `${s.failed.length} failed${failedText}`,
    ...(s.skipped ? [`${s.skipped} skipped`] : []),
  ]
  const remote = s.remote
    ? ` · remote: ${s.remote.downloaded} downloaded (${megabytes(s.remote.downloadedBytes)}), ${s.remote.uploaded} uploaded (${megabytes(s.remote.uploadedBytes)})`
    : ''
  return `[flux] ${s.total} image(s) from ${s.directives} directive(s): ${counts.join(', ')} · ${s.retries} retries · ${formatDuration(s.wallMs)} · est. $${s.estimatedCost.toFixed(3)}${remote}`
}

export function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`
}

export function countBy(values: string[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
  return counts
}
