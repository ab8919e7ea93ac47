import { isAbsolute, resolve } from 'node:path'
import { FluxError, fluxError } from './errors.js'
import {
  type OptimizeOptions,
  type ResolvedOptimizeOptions,
  resolveOptimizeOptions,
} from './optimize/index.js'
import type { Logger } from './types.js'

export type FluxMode = 'auto' | 'frozen' | 'placeholder'
export type ProgressStyle = 'auto' | 'live' | 'plain' | 'off'

/** Options of `createFlux()`, the CLI and both adapters. Each is resolved option -> environment -> config file -> default. */
export interface FluxOptions {
  /** Project root: where files are scanned and the cache lives. @default process.cwd() */
  root?: string
  /** Cache directory; originals in it are meant to be committed. @default '<root>/.flux-cache' */
  cacheDir?: string
  /**
   * API key of the FLUX gateway. Prefer the environment variable: it is never written anywhere.
   * Risk: with a key set, prompts are sent to a third-party API and each new image costs money.
   * @default process.env.FLUX_API_KEY
   */
  apiKey?: string
  /** Base URL of the gateway, with or without a trailing `/v1`. @default process.env.FLUX_BASE_URL */
  baseURL?: string
  /**
   * `auto`: generate missing images when a key is set, placeholders otherwise. `frozen`: never call the
   * API; a missing image is an error (for CI that must not spend). `placeholder`: local placeholders only.
   * @default process.env.FLUX_MODE ?? 'auto'
   */
  mode?: FluxMode
  /** Generation requests in flight at once, across the whole build. @default process.env.FLUX_CONCURRENCY ?? 4 */
  concurrency?: number
  /** Cap on new (paid) generations per run; exceeding it fails before anything is spent. @default 50 */
  maxGenerations?: number
  /** Model used when a directive names none. @default 'flux-1.1-pro' */
  model?: string
  /** Size used when a directive names none. @default '1024x1024' */
  size?: string
  /** Quality used when a directive names none. @default 'standard' */
  quality?: 'standard' | 'hd'
  /** Extra models your gateway accepts, added to the defaults. @default [] */
  models?: string[]
  /** Extra sizes (`WxH`) your gateway accepts, added to the defaults. @default [] */
  sizes?: string[]
  /** Globs (relative to root) of files scanned for directives. @default DEFAULTS.include */
  include?: string[]
  /** Globs never scanned, added to node_modules, dist, .git and the cache directory. @default [] */
  exclude?: string[]
  /** Estimated price in USD per image, by model, merged over DEFAULT_PRICES; used for estimates only. */
  prices?: Record<string, number>
  /** How the gateway returns images. `b64_json` avoids a second download and URL expiry. @default 'b64_json' */
  responseFormat?: 'b64_json' | 'url'
  /** Deadline of one request attempt, in ms. @default 180_000 */
  timeoutMs?: number
  /** Retries of a transient failure (429, 5xx, network). @default 4 */
  maxRetries?: number
  /** Allow image downloads from private or loopback addresses (a gateway on your own network). @default false */
  allowPrivateDownloads?: boolean
  /** Progress display: a live line on a terminal, plain periodic lines in CI. @default 'auto' */
  progress?: ProgressStyle
  /** Responsive variants: widths, formats, encoder settings, placeholder, public URL. */
  image?: OptimizeOptions
  /** Where messages go. @default a console logger in the CLI; the adapter's logger in Vite and Astro */
  logger?: Logger
}

export interface ResolvedOptions {
  root: string
  cacheDir: string
  apiKey: string | undefined
  baseURL: string | undefined
  mode: FluxMode
  concurrency: number
  maxGenerations: number
  model: string
  size: string
  quality: 'standard' | 'hd'
  models: readonly string[]
  sizes: readonly string[]
  include: readonly string[]
  exclude: readonly string[]
  prices: Readonly<Record<string, number>>
  responseFormat: 'b64_json' | 'url'
  timeoutMs: number
  maxRetries: number
  allowPrivateDownloads: boolean
  progress: ProgressStyle
  image: ResolvedOptimizeOptions
  logger: Logger
}

export const DEFAULT_MODELS = ['flux-1.1-pro', 'flux-pro', 'flux-dev', 'flux-schnell'] as const
export const DEFAULT_SIZES = ['1024x1024', '1536x1024', '1024x1536', '1344x768', '768x1344'] as const
export const QUALITIES = ['standard', 'hd'] as const
export const MODES = ['auto', 'frozen', 'placeholder'] as const
const PROGRESS_STYLES = ['auto', 'live', 'plain', 'off'] as const

/** Published list prices of the FLUX models in USD per image (estimates; gateways differ: override with `prices`). */
export const DEFAULT_PRICES: Readonly<Record<string, number>> = {
  'flux-1.1-pro': 0.04,
  'flux-pro': 0.05,
  'flux-dev': 0.025,
  'flux-schnell': 0.003,
}

export const DEFAULTS = {
  cacheDirName: '.flux-cache',
  mode: 'auto',
  concurrency: 4,
  maxGenerations: 50,
  model: 'flux-1.1-pro',
  size: '1024x1024',
  quality: 'standard',
  include: ['**/*.{md,markdown,mdx,html,htm,astro,js,jsx,mjs,ts,tsx,mts,vue,svelte}'],
  // Never scanned: dependencies, build output, VCS data (the cache directory is added at resolve time).
  exclude: ['**/node_modules/**', '**/dist/**', '**/.git/**', '**/.astro/**', '**/.tools/**'],
  responseFormat: 'b64_json',
  // The gateway's generation of one image can take a while on a busy queue.
  timeoutMs: 180_000,
  maxRetries: 4,
  progress: 'auto',
} as const

/** The environment variables read, by option. */
export const ENV = {
  apiKey: 'FLUX_API_KEY',
  baseURL: 'FLUX_BASE_URL',
  mode: 'FLUX_MODE',
  concurrency: 'FLUX_CONCURRENCY',
} as const

type Env = Readonly<Record<string, string | undefined>>

const SILENT: Logger = { info() {}, warn() {}, error() {} }

/**
 * Resolves every option as: the given value, then the environment, then the config file's value,
 * then the default. Validates once and throws FLUX_INVALID_OPTIONS listing every problem with its path.
 */
export function resolveOptions(
  options: FluxOptions = {},
  { env = process.env, fileConfig = {} }: { env?: Env; fileConfig?: FluxOptions } = {},
): ResolvedOptions {
  const problems: string[] = []
  const pick = <K extends keyof FluxOptions>(key: K): FluxOptions[K] =>
    options[key] !== undefined ? options[key] : fileConfig[key]
  const fromEnv = (key: keyof typeof ENV): string | undefined => {
    const value = env[ENV[key]]?.trim()
    return value ? value : undefined
  }
  const givenFirst = <K extends keyof typeof ENV>(key: K): FluxOptions[K] | string | undefined =>
    options[key] !== undefined ? options[key] : (fromEnv(key) ?? fileConfig[key])

  const root = resolve(pick('root') ?? process.cwd())
  const cacheDirOption = pick('cacheDir')
  const cacheDir = cacheDirOption
    ? isAbsolute(cacheDirOption)
      ? cacheDirOption
      : resolve(root, cacheDirOption)
    : resolve(root, DEFAULTS.cacheDirName)

  const mode = oneOf('mode', givenFirst('mode') ?? DEFAULTS.mode, MODES, problems)
  const concurrency = wholeNumber(
    'concurrency',
    givenFirst('concurrency') ?? DEFAULTS.concurrency,
    1,
    problems,
  )
  const maxGenerations = wholeNumber(
    'maxGenerations',
    pick('maxGenerations') ?? DEFAULTS.maxGenerations,
    0,
    problems,
  )
  const timeoutMs = wholeNumber('timeoutMs', pick('timeoutMs') ?? DEFAULTS.timeoutMs, 1, problems)
  const maxRetries = wholeNumber('maxRetries', pick('maxRetries') ?? DEFAULTS.maxRetries, 0, problems)

  const models = [...DEFAULT_MODELS, ...stringList('models', pick('models'), problems)]
  const sizes = [...DEFAULT_SIZES, ...stringList('sizes', pick('sizes'), problems)]
  for (const size of sizes) {
    if (!/^\d+x\d+$/.test(size))
      problems.push(`sizes: Expected sizes written as WIDTHxHEIGHT (e.g. 1536x1024), got "${size}"`)
  }
  const model = oneOf('model', pick('model') ?? DEFAULTS.model, models, problems, 'add it with `models`')
  const size = oneOf('size', pick('size') ?? DEFAULTS.size, sizes, problems, 'add it with `sizes`')
  const quality = oneOf('quality', pick('quality') ?? DEFAULTS.quality, QUALITIES, problems)
  const responseFormat = oneOf(
    'responseFormat',
    pick('responseFormat') ?? DEFAULTS.responseFormat,
    ['b64_json', 'url'] as const,
    problems,
  )
  const progress = oneOf('progress', pick('progress') ?? DEFAULTS.progress, PROGRESS_STYLES, problems)

  const prices: Record<string, number> = { ...DEFAULT_PRICES }
  for (const [name, price] of Object.entries(pick('prices') ?? {})) {
    if (typeof price !== 'number' || !(price >= 0)) {
      problems.push(`prices.${name}: Expected a price in USD from 0 and up, got ${JSON.stringify(price)}`)
    } else prices[name] = price
  }

  const baseURL = givenFirst('baseURL')
  if (baseURL !== undefined && !/^https?:\/\/[^/\s]+/i.test(String(baseURL))) {
    problems.push(
      `baseURL: Expected an http(s) URL such as https://gateway.example or https://gateway.example/v1, got "${baseURL}"`,
    )
  }

  let image: ResolvedOptimizeOptions | undefined
  try {
    image = resolveOptimizeOptions(pick('image'), { path: 'image' })
  } catch (err) {
    if (!FluxError.is(err, 'FLUX_INVALID_OPTIONS')) throw err
    problems.push(
      ...err.detail.split('\n').flatMap((line) => (line.startsWith('  - ') ? [line.slice(4)] : [])),
    )
  }

  if (problems.length > 0 || !image) throw fluxError('FLUX_INVALID_OPTIONS', { problems })

  const cacheGlob = relativeGlob(root, cacheDir)
  return {
    root,
    cacheDir,
    apiKey: (givenFirst('apiKey') as string | undefined) || undefined,
    baseURL: baseURL as string | undefined,
    mode,
    concurrency,
    maxGenerations,
    model,
    size,
    quality,
    models,
    sizes,
    include: pick('include') ?? DEFAULTS.include,
    exclude: [...DEFAULTS.exclude, ...(cacheGlob ? [cacheGlob] : []), ...(pick('exclude') ?? [])],
    prices,
    responseFormat,
    timeoutMs,
    maxRetries,
    allowPrivateDownloads: pick('allowPrivateDownloads') ?? false,
    progress,
    image,
    logger: pick('logger') ?? SILENT,
  }
}

function oneOf<T extends string>(
  path: string,
  value: unknown,
  accepted: readonly T[],
  problems: string[],
  extend?: string,
): T {
  if (typeof value === 'string' && (accepted as readonly string[]).includes(value)) return value as T
  problems.push(
    `${path}: Expected one of ${accepted.map((a) => `"${a}"`).join(', ')}, got ${JSON.stringify(value)}${extend ? ` (${extend})` : ''}`,
  )
  return accepted[0] as T
}

function wholeNumber(path: string, value: unknown, min: number, problems: string[]): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
  if (typeof n === 'number' && Number.isInteger(n) && n >= min) return n
  problems.push(`${path}: Expected a whole number from ${min} and up, got ${JSON.stringify(value)}`)
  return min
}

function stringList(path: string, value: unknown, problems: string[]): string[] {
  if (value === undefined) return []
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' && v.length > 0)) return value
  problems.push(`${path}: Expected a list of non-empty strings, got ${JSON.stringify(value)}`)
  return []
}

function relativeGlob(root: string, dir: string): string | undefined {
  const rel = dir.startsWith(`${root}/`) ? dir.slice(root.length + 1) : undefined
  return rel ? `${rel}/**` : undefined
}
