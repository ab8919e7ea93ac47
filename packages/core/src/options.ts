import { isAbsolute, resolve } from 'node:path'
import { fluxError } from './errors.js'
import type { OptimizeOptions, ResolvedOptimizeOptions } from './optimize/index.js'
import { checkOptimizeOptions } from './optimize/resolve-optimize-options.js'
import {
  boolean,
  type Check,
  integer,
  isRecord,
  list,
  oneOf,
  record,
  show,
  text,
  unknownKeys,
} from './schema.js'
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

/** Node's timers take at most 2^31-1 ms: a longer delay overflows and fires after 1 ms. */
export const MAX_TIMEOUT_MS = 2_147_483_647
/** Each request slot holds a gateway connection and an image in memory; gateways rate-limit far below this. */
export const MAX_CONCURRENCY = 64
/** Backoff grows to its cap within a few retries; more retries only prolong an outage. */
export const MAX_RETRIES = 20

type Env = Readonly<Record<string, string | undefined>>

const SILENT: Logger = { info() {}, warn() {}, error() {} }

const size: Check<string> = (value, path, problems) => {
  if (typeof value === 'string' && /^\d{1,5}x\d{1,5}$/.test(value)) return value
  problems.push(`${path}: Expected a size written as WIDTHxHEIGHT (e.g. 1536x1024), got ${show(value)}`)
  return undefined
}

/** A glob under the root: an absolute or `..` glob would scan outside the project (and may crawl the disk). */
const globUnderRoot: Check<string> = (value, path, problems) => {
  const glob = text()(value, path, problems)
  if (glob === undefined) return undefined
  if (isAbsolute(glob) || /^[a-z]:/i.test(glob) || glob.split(/[\\/]/).includes('..')) {
    problems.push(
      `${path}: Expected a glob relative to the root, got ${show(glob)} (to scan another folder, set \`root\`)`,
    )
    return undefined
  }
  return glob
}

const price: Check<number> = (value, path, problems) => {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value
  problems.push(`${path}: Expected a price in USD from 0 and up, got ${show(value)}`)
  return undefined
}

const logger: Check<Logger> = (value, path, problems) => {
  const given = value as Partial<Record<keyof Logger, unknown>>
  if (isRecord(value) && (['info', 'warn', 'error'] as const).every((m) => typeof given[m] === 'function'))
    return value as unknown as Logger
  problems.push(`${path}: Expected a logger with info, warn and error functions, got ${show(value)}`)
  return undefined
}

/**
 * An http(s) URL without credentials, query or fragment. Credentials are refused, not used: the key
 * goes in the Authorization header, and a password in a URL ends up in logs. A value that is not a
 * URL is shown with anything before an `@` hidden.
 */
const baseURL: Check<string> = (value, path, problems) => {
  const expected = 'Expected an http(s) URL such as https://gateway.example or https://gateway.example/v1'
  if (typeof value !== 'string') {
    problems.push(`${path}: ${expected}, got a ${typeof value}`)
    return undefined
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    problems.push(`${path}: ${expected}, got ${show(hideCredentials(value))}`)
    return undefined
  }
  const before = problems.length
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    problems.push(`${path}: ${expected}, got a ${url.protocol} URL`)
  } else if (url.username || url.password) {
    problems.push(
      `${path}: Credentials in the URL (${url.protocol}//***@${url.host}) are not used: remove them and set FLUX_API_KEY, which is sent as a bearer token`,
    )
  } else if (url.search || url.hash) {
    problems.push(
      `${path}: A query or fragment (${url.search ? '?...' : '#...'}) is not sent to the gateway: remove it from ${url.protocol}//${url.host}${url.pathname}`,
    )
  }
  return problems.length === before ? value : undefined
}

/** `https://user:pass@host` -> `https://***@host`; also in a value that is not a valid URL. */
export function hideCredentials(value: string): string {
  return value.replace(
    /^([a-z][a-z0-9+.-]*:\/\/)?[^/?#]*@/i,
    (_, scheme: string | undefined) => `${scheme ?? ''}***@`,
  )
}

function isLoopbackHost(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname.endsWith('.localhost') ||
    hostname === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  )
}

/**
 * The options' schema: one check per option of FluxOptions (`satisfies` keeps the two in step), the
 * environment variable that may give it, its default. An option name not in here is reported.
 */
const SCHEMA = {
  root: { check: text() },
  cacheDir: { check: text() },
  apiKey: { check: text({ secret: true }), env: ENV.apiKey },
  baseURL: { check: baseURL, env: ENV.baseURL },
  mode: { check: oneOf(MODES), env: ENV.mode, default: DEFAULTS.mode },
  concurrency: { check: integer(1, MAX_CONCURRENCY), env: ENV.concurrency, default: DEFAULTS.concurrency },
  maxGenerations: { check: integer(0, 1_000_000), default: DEFAULTS.maxGenerations },
  model: { check: text(), default: DEFAULTS.model },
  size: { check: size, default: DEFAULTS.size },
  quality: { check: oneOf(QUALITIES), default: DEFAULTS.quality },
  models: { check: list(text(), 'a list of model names'), default: [] as string[] },
  sizes: { check: list(size, 'a list of sizes'), default: [] as string[] },
  include: { check: list(globUnderRoot, 'a list of globs'), default: DEFAULTS.include },
  exclude: { check: list(text(), 'a list of globs'), default: [] as string[] },
  prices: { check: record(price), default: {} as Record<string, number> },
  responseFormat: { check: oneOf(['b64_json', 'url'] as const), default: DEFAULTS.responseFormat },
  timeoutMs: { check: integer(1, MAX_TIMEOUT_MS), default: DEFAULTS.timeoutMs },
  maxRetries: { check: integer(0, MAX_RETRIES), default: DEFAULTS.maxRetries },
  allowPrivateDownloads: { check: boolean(), default: false },
  progress: { check: oneOf(PROGRESS_STYLES), default: DEFAULTS.progress },
  // Checked by resolveOptimizeOptions, with its own schema.
  image: { check: (value: unknown) => value as OptimizeOptions },
  logger: { check: logger, default: SILENT },
} satisfies { [K in keyof Required<FluxOptions>]: { check: Check<unknown>; env?: string; default?: unknown } }

type Schema = typeof SCHEMA
type Value<K extends keyof Schema> = Schema[K]['check'] extends Check<infer T> ? T : never

/** The option names, for messages and unknown-name checks. */
export const OPTION_NAMES = Object.keys(SCHEMA) as (keyof FluxOptions)[]

/**
 * Resolves every option as: the given value, then the environment, then the config file's value,
 * then the default. Validates once and throws FLUX_INVALID_OPTIONS listing every problem with its
 * path (and where a wrong value came from, when not from the given options), unknown names included.
 */
export function resolveOptions(
  options: FluxOptions = {},
  {
    env = process.env,
    fileConfig = {},
    fileName = 'the config file',
  }: { env?: Env; fileConfig?: FluxOptions /** For messages: `flux.config.mjs`. */; fileName?: string } = {},
): ResolvedOptions {
  const problems: string[] = []
  unknownKeys(options as Record<string, unknown>, OPTION_NAMES, (key) => key, problems)
  if (isRecord(fileConfig)) {
    unknownKeys(fileConfig, OPTION_NAMES, (key) => `${key} (in ${fileName})`, problems)
  }

  /** The first layer that gives `key` a value, checked; the default (or undefined) otherwise. */
  const read = <K extends keyof Schema>(key: K): Value<K> | undefined => {
    const field: { check: Check<unknown>; env?: string; default?: unknown } = SCHEMA[key]
    let value: unknown = options[key]
    let from = ''
    if (value === undefined && field.env) {
      value = env[field.env]?.trim() || undefined
      from = ` (from ${field.env})`
    }
    if (value === undefined) {
      value = fileConfig[key]
      from = ` (from ${fileName})`
    }
    if (value === undefined) return field.default as Value<K> | undefined
    const found: string[] = []
    const checked = field.check(value, key, found)
    problems.push(...found.map((p) => `${p}${from}`))
    return (checked ?? field.default) as Value<K> | undefined
  }

  // Read in the schema's order, so problems are listed in it.
  const root = resolve(read('root') ?? process.cwd())
  const cacheDirOption = read('cacheDir')
  const cacheDir = cacheDirOption ? resolve(root, cacheDirOption) : resolve(root, DEFAULTS.cacheDirName)
  const apiKey = options.apiKey === '' ? undefined : read('apiKey')
  const resolvedBaseURL = read('baseURL')
  const mode = read('mode') ?? DEFAULTS.mode
  const concurrency = read('concurrency') ?? DEFAULTS.concurrency
  const maxGenerations = read('maxGenerations') ?? DEFAULTS.maxGenerations
  const givenModel = read('model')
  const givenSize = read('size')
  const quality = read('quality') ?? DEFAULTS.quality
  const models = [...DEFAULT_MODELS, ...(read('models') ?? [])]
  const sizes = [...DEFAULT_SIZES, ...(read('sizes') ?? [])]
  const model = oneOf(models, 'add it with `models`')(givenModel, 'model', problems) ?? DEFAULTS.model
  const size = oneOf(sizes, 'add it with `sizes`')(givenSize, 'size', problems) ?? DEFAULTS.size
  const include = read('include') ?? DEFAULTS.include
  const exclude = read('exclude') ?? []
  const prices = { ...DEFAULT_PRICES, ...read('prices') }
  const responseFormat = read('responseFormat') ?? DEFAULTS.responseFormat
  const timeoutMs = read('timeoutMs') ?? DEFAULTS.timeoutMs
  const maxRetries = read('maxRetries') ?? DEFAULTS.maxRetries
  const allowPrivateDownloads = read('allowPrivateDownloads') ?? false
  const progress = read('progress') ?? DEFAULTS.progress
  let image: ResolvedOptimizeOptions | undefined
  if (fileConfig.image !== undefined && !isRecord(fileConfig.image)) {
    // The session spreads it into the merged `image`; a string would show as `image.0`, `image.1`...
    problems.push(`image: Expected an object, got ${show(fileConfig.image)} (from ${fileName})`)
  } else {
    image = checkOptimizeOptions(read('image'), 'image', problems)
  }
  const log = read('logger') ?? SILENT

  const resolved = {
    root,
    cacheDir,
    apiKey,
    baseURL: resolvedBaseURL,
    mode,
    concurrency,
    maxGenerations,
    model,
    size,
    quality,
    models,
    sizes,
    include,
    exclude: [...DEFAULTS.exclude, ...[cacheGlob(root, cacheDir) ?? []].flat(), ...exclude],
    prices,
    responseFormat,
    timeoutMs,
    maxRetries,
    allowPrivateDownloads,
    progress,
    logger: log,
  }
  if (problems.length > 0 || !image) throw fluxError('FLUX_INVALID_OPTIONS', { problems })

  if (apiKey && resolvedBaseURL) {
    const url = new URL(resolvedBaseURL)
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      log.warn(
        `[flux] baseURL ${url.protocol}//${url.host} is plain http on another machine: the API key and prompts would cross the network unencrypted. Use https://, or a gateway on this machine.`,
      )
    }
  }
  return { ...resolved, image }
}

function cacheGlob(root: string, dir: string): string | undefined {
  const rel = dir.startsWith(`${root}/`) ? dir.slice(root.length + 1) : undefined
  return rel ? `${rel}/**` : undefined
}
