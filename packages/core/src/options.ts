import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import type { Dispatcher } from 'undici'
import * as v from 'valibot'
import { BFL_DEFAULT_MODEL, BFL_MODEL_NAMES } from './bfl-models.js'
import { OPTIMIZE_OPTIONS } from './optimize/resolve-optimize-options.js'
import {
  LEASE_STALE_MS,
  REMOTE_MODES,
  type RemoteConfig,
  resolveRemoteConfig,
} from './remote/remote-config.js'
import {
  boolean,
  custom,
  isRecord,
  list,
  logger,
  oneOf,
  optionsObject,
  type Problem,
  parseOptions,
  quoteAll,
  record,
  show,
  text,
  wholeNumber,
} from './schema.js'
import { type Logger, QUALITIES } from './types.js'

export const DEFAULT_MODELS = ['flux-1.1-pro', 'flux-pro', 'flux-dev', 'flux-schnell'] as const
export const DEFAULT_SIZES = ['1024x1024', '1536x1024', '1024x1536', '1344x768', '768x1344'] as const
export const MODES = ['auto', 'frozen', 'placeholder'] as const
const PROGRESS_STYLES = ['auto', 'live', 'plain', 'off'] as const
const RESPONSE_FORMATS = ['b64_json', 'url'] as const
/** The protocols spoken: a FLUX gateway's OpenAI Images API, or Black Forest Labs' own. */
export const PROVIDERS = ['openai-images', 'bfl'] as const
/** BFL's regional hosts, for keeping requests (and data) in one region. */
export const BFL_REGIONS = ['eu', 'us'] as const
/** BFL's host, by `region` (none: the global one). */
export const BFL_BASE_URLS = {
  global: 'https://api.bfl.ai',
  eu: 'https://api.eu.bfl.ai',
  us: 'https://api.us.bfl.ai',
} as const

export type FluxMode = (typeof MODES)[number]
export type ProgressStyle = (typeof PROGRESS_STYLES)[number]
export type ProviderName = (typeof PROVIDERS)[number]

/**
 * A model's estimated price in USD: per image (`0.04`), or per megapixel of the image asked for
 * (`{ perMegapixel: 0.015, first: 0.03 }`: the first megapixel at `first`, each further one at
 * `perMegapixel`; `first` defaults to `perMegapixel`), as the FLUX.2 models are priced.
 */
export type Price = number | { readonly perMegapixel: number; readonly first?: number }

/** Published list prices of the FLUX models in USD per image (estimates; gateways differ: override with `prices`). */
export const DEFAULT_PRICES: Readonly<Record<string, Price>> = {
  'flux-1.1-pro': 0.04,
  'flux-pro': 0.05,
  'flux-dev': 0.025,
  'flux-schnell': 0.003,
}

/** The defaults of FLUX_OPTIONS, stated once. */
export const DEFAULTS = {
  cacheDirName: '.flux-cache',
  mode: 'auto',
  provider: 'openai-images',
  concurrency: 4,
  // BFL runs 24 tasks at once per account (a task being polled counts): more would only queue.
  bflConcurrency: 24,
  maxGenerations: 50,
  model: 'flux-1.1-pro',
  size: '1024x1024',
  quality: 'standard',
  include: ['**/*.{md,markdown,svx,mdx,html,htm,astro,js,jsx,mjs,ts,tsx,mts,vue,svelte}'],
  // Never scanned: dependencies, build output, VCS data (the cache directory is added at resolve time).
  exclude: [
    '**/node_modules/**',
    '**/dist/**',
    '**/.git/**',
    '**/.astro/**',
    '**/.tools/**',
    '**/.svelte-kit/**',
    '**/.vitepress/cache/**',
  ],
  responseFormat: 'b64_json',
  // The gateway's generation of one image can take a while on a busy queue.
  timeoutMs: 180_000,
  maxRetries: 4,
  allowPrivateDownloads: false,
  allowNetworkDev: false,
  // A morning of re-rolls, not a month's bill: past it each studio action asks again.
  devBudget: 20,
  // More missing images than this at dev start: the dev server waits for the author's go.
  devThreshold: 10,
  requireReal: false,
  progress: 'auto',
} as const

/** The environment variables read, by option. */
export const ENV = {
  apiKey: 'FLUX_API_KEY',
  baseURL: 'FLUX_BASE_URL',
  mode: 'FLUX_MODE',
  concurrency: 'FLUX_CONCURRENCY',
  requireReal: 'FLUX_REQUIRE_REAL',
  maxSpend: 'FLUX_MAX_SPEND',
  provider: 'FLUX_PROVIDER',
  region: 'FLUX_REGION',
} as const

/** Options that are flags: their variable reads `1`/`true` and `0`/`false` (anything else is shown as invalid). */
const ENV_FLAGS: ReadonlySet<string> = new Set(['requireReal'])
const FLAG_WORDS: Readonly<Record<string, boolean>> = { '1': true, true: true, '0': false, false: false }

/** The key variable BFL's own SDK reads: with `provider: 'bfl'` it is read before FLUX_API_KEY. */
export const BFL_KEY_ENV = 'BFL_API_KEY'

/** Node's timers take at most 2^31-1 ms: a longer delay overflows and fires after 1 ms. */
export const MAX_TIMEOUT_MS = 2_147_483_647
/** Each request slot holds a gateway connection and an image in memory; gateways rate-limit far below this. */
export const MAX_CONCURRENCY = 64
/** Backoff grows to its cap within a few retries; more retries only prolong an outage. */
export const MAX_RETRIES = 20

const SILENT: Logger = { info() {}, warn() {}, error() {} }

/** Where a directive's prompt goes in a preset's `prompt`. */
export const PROMPT_SLOT = '{prompt}'
/** The preset name that turns the default preset off for one directive. */
export const NO_PRESET = 'none'

// The fields that more than one options object has (FluxOptions, the gateway provider's).

/** The key goes into an HTTP header: a newline pasted along with it cannot. Never shown. */
const apiKey = v.pipe(
  text({ secret: true }),
  v.check(
    (key) => /^[\x21-\x7e]+$/.test(key),
    'Expected a key of visible ASCII characters only, got one with spaces, control or non-ASCII characters (a trailing newline?)',
  ),
)

const EXPECTED_URL = 'Expected an http(s) URL such as https://gateway.example or https://gateway.example/v1'
const EXPECTED_SIZE = 'Expected a size written as WIDTHxHEIGHT (e.g. 1536x1024)'

/**
 * An http(s) URL without credentials, query or fragment. Credentials are refused, not used: the key
 * goes in the Authorization header, and a password in a URL ends up in logs. A value that is not a
 * URL is shown with anything before an `@` hidden.
 */
const baseURL = v.pipe(
  v.string((issue) => `${EXPECTED_URL}, got a ${typeof issue.input}`),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return
    const value = dataset.value
    let url: URL
    try {
      url = new URL(value)
    } catch {
      addIssue({ message: `${EXPECTED_URL}, got ${show(hideCredentials(value))}` })
      return
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      addIssue({ message: `${EXPECTED_URL}, got a ${url.protocol} URL` })
    } else if (url.username || url.password) {
      addIssue({
        message: `Credentials in the URL (${url.protocol}//***@${url.host}) are not used: remove them and set FLUX_API_KEY, which is sent as a bearer token`,
      })
    } else if (url.search || url.hash) {
      addIssue({
        message: `A query or fragment (${url.search ? '?...' : '#...'}) is not sent to the gateway: remove it from ${url.protocol}//${url.host}${url.pathname}`,
      })
    }
  }),
)

const responseFormat = v.optional(oneOf(RESPONSE_FORMATS), DEFAULTS.responseFormat)
const timeoutMs = v.optional(wholeNumber(1, MAX_TIMEOUT_MS), DEFAULTS.timeoutMs)
const maxRetries = v.optional(wholeNumber(0, MAX_RETRIES), DEFAULTS.maxRetries)
const allowPrivateDownloads = v.optional(boolean(), DEFAULTS.allowPrivateDownloads)

const size = v.pipe(
  v.string((issue) => `${EXPECTED_SIZE}, got ${show(issue.input)}`),
  v.regex(/^\d{1,5}x\d{1,5}$/, (issue) => `${EXPECTED_SIZE}, got ${show(issue.input)}`),
)
/** A house style: the prompt sent around the directive's, and what it sets unless the directive does. */
const preset = optionsObject({
  /** A template with exactly one `{prompt}`: `'{prompt}, flat vector illustration, no text'`. */
  prompt: v.pipe(
    text(),
    v.check(
      (template) => template.split(PROMPT_SLOT).length === 2,
      'Expected a template with exactly one {prompt}, such as "{prompt}, flat vector illustration"',
    ),
  ),
  model: v.optional(text()),
  size: v.optional(size),
  quality: v.optional(oneOf(QUALITIES)),
  /** Style reference images (paths from the root); they enter the key by content. */
  references: v.optional(list(text(), 'a list of image files')),
})

/** A glob under the root: an absolute or `..` glob would scan outside the project (and may crawl the disk). */
const globUnderRoot = v.pipe(
  text(),
  v.check(
    (glob) => !(isAbsolute(glob) || /^[a-z]:/i.test(glob) || glob.split(/[\\/]/).includes('..')),
    (issue) =>
      `Expected a glob relative to the root, got ${show(issue.input)} (to scan another folder, set \`root\`)`,
  ),
)

const usd = (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value >= 0
/** An amount in USD from 0 and up: a number, or its text (`"2.50"`, from the environment). */
const dollars = v.pipe(
  custom<number | string>(
    (value) =>
      usd(typeof value === 'string' && /^\d{1,9}(?:\.\d{1,6})?$/.test(value) ? Number(value) : value),
    'an amount in USD from 0 and up (e.g. 2.50)',
  ),
  v.transform((value) => Number(value)),
)
/** `0.04` (per image), or `{ perMegapixel: 0.015, first: 0.03 }` (see `Price`). */
const price = custom<Price>(
  (value) =>
    usd(value) ||
    (isRecord(value) &&
      usd(value.perMegapixel) &&
      (value.first === undefined || usd(value.first)) &&
      Object.keys(value).every((key) => key === 'perMegapixel' || key === 'first')),
  'a price in USD from 0 and up per image, or { perMegapixel, first? } in USD',
)

/**
 * Options of `createFlux()`, the CLI and both adapters: their input is `FluxOptions`, their output
 * `ResolvedOptions`. Each is resolved option -> environment -> config file -> default (see
 * `resolveOptions`).
 */
export const FLUX_OPTIONS = v.pipe(
  optionsObject({
    /** Project root: where files are scanned and the cache lives. @default process.cwd() */
    root: v.optional(text(), () => process.cwd()),
    /** Cache directory; originals in it are meant to be committed. @default '<root>/.flux-cache' */
    cacheDir: v.optional(text()),
    /**
     * API key of the FLUX gateway. Prefer the environment variable: it is never written anywhere.
     * Risk: with a key set, prompts are sent to a third-party API and each new image costs money.
     * An empty string means no key, whatever the environment says.
     * @default process.env.FLUX_API_KEY
     */
    apiKey: v.optional(apiKey),
    /**
     * Base URL of the gateway, with or without a trailing `/v1`; with `provider: 'bfl'`, BFL's host.
     * @default process.env.FLUX_BASE_URL (bfl: https://api.bfl.ai, or the `region`'s host)
     */
    baseURL: v.optional(baseURL),
    /**
     * The API spoken: `openai-images` (a FLUX gateway) or `bfl` (Black Forest Labs' own API, its
     * models by endpoint name: `flux-2-pro`, `flux-pro-1.1`...; key from BFL_API_KEY or FLUX_API_KEY).
     * @default process.env.FLUX_PROVIDER ?? 'openai-images'
     */
    provider: v.optional(oneOf(PROVIDERS), DEFAULTS.provider),
    /** BFL's regional host (`api.eu.bfl.ai`, `api.us.bfl.ai`) when `baseURL` is not set. @default global (FLUX_REGION) */
    region: v.optional(oneOf(BFL_REGIONS)),
    /**
     * `auto`: generate missing images when a key is set, placeholders otherwise. `frozen`: never call the
     * API; a missing image is an error (for CI that must not spend). `placeholder`: local placeholders only.
     * @default process.env.FLUX_MODE ?? 'auto'
     */
    mode: v.optional(oneOf(MODES), DEFAULTS.mode),
    /**
     * Generation requests in flight at once, across the whole build (with bfl: jobs, from submit
     * to download). @default process.env.FLUX_CONCURRENCY ?? 4 (bfl: 24, BFL's limit per account)
     */
    concurrency: v.optional(wholeNumber(1, MAX_CONCURRENCY)),
    /** Cap on new (paid) generations per run; exceeding it fails before anything is spent. @default 50 */
    maxGenerations: v.optional(wholeNumber(0, 1_000_000), DEFAULTS.maxGenerations),
    /**
     * Cap on what one run spends, in USD: an image is requested only when its estimate (`prices`,
     * or BFL's table) fits beside what is already spent (each image's real cost, once the API
     * reports it); the run then stops, saying so. @default none (FLUX_MAX_SPEND)
     */
    maxSpend: v.optional(dollars),
    /**
     * Model used when a directive names none; one of DEFAULT_MODELS or `models` (bfl: one of BFL_MODELS).
     * @default 'flux-1.1-pro' (bfl: 'flux-2-pro')
     */
    model: v.optional(text()),
    /** Size used when a directive names none; one of DEFAULT_SIZES or `sizes`. @default '1024x1024' */
    size: v.optional(size, DEFAULTS.size),
    /** Quality used when a directive names none. @default 'standard' */
    quality: v.optional(oneOf(QUALITIES), DEFAULTS.quality),
    /**
     * House styles by name: `{ house: { prompt: '{prompt}, flat vector illustration', size: '1536x1024' } }`.
     * A directive picks one with `?preset=house` (`none` for none). The key is made from what is
     * sent, so renaming a preset costs nothing and editing its text re-keys exactly its images.
     * @default {}
     */
    presets: v.optional(record(preset), () => ({})),
    /** The preset of every directive that names none. @default none */
    preset: v.optional(text()),
    /** Extra models your gateway accepts, added to the defaults. @default [] */
    models: v.optional(list(text(), 'a list of model names'), () => []),
    /** Extra sizes (`WxH`) your gateway accepts, added to the defaults. @default [] */
    sizes: v.optional(list(size, 'a list of sizes'), () => []),
    /** Globs (relative to root) of files scanned for directives. @default DEFAULTS.include */
    include: v.optional(list(globUnderRoot, 'a list of globs'), () => [...DEFAULTS.include]),
    /** Globs never scanned, added to node_modules, dist, .git and the cache directory. @default [] */
    exclude: v.optional(list(text(), 'a list of globs'), () => []),
    /**
     * Estimated prices by model, merged over DEFAULT_PRICES; used for estimates only. Per image in
     * USD (`'flux-1.1-pro': 0.04`), or per megapixel (`'flux-2-pro': { first: 0.03, perMegapixel:
     * 0.015 }`: the first megapixel, then each further one begun; 1024x1024 is 1 MP).
     */
    prices: v.optional(record(price), () => ({})),
    /** How the gateway returns images. `b64_json` avoids a second download and URL expiry. @default 'b64_json' */
    responseFormat,
    /** Deadline of one request attempt, in ms. @default 180_000 */
    timeoutMs,
    /** Retries of a transient failure (429, 5xx, network). @default 4 */
    maxRetries,
    /** Allow image downloads from private or loopback addresses (a gateway on your own network). @default false */
    allowPrivateDownloads,
    /**
     * Let a dev server that listens beyond this machine (`vite --host`, `astro dev --host`) generate
     * images. Risk: anyone who can reach it on the network could then make you pay for images.
     * @default false (such a dev server shows placeholders for missing images and pays for nothing)
     */
    allowNetworkDev: v.optional(boolean(), DEFAULTS.allowNetworkDev),
    /**
     * Dev: generations a dev session may spend (the studio's re-rolls included) before each studio
     * action asks again; the studio shows what is spent. @default 20
     */
    devBudget: v.optional(wholeNumber(0, 1_000_000), DEFAULTS.devBudget),
    /**
     * Dev: when more images than this are missing at start, the dev server generates none on its
     * own: pages show placeholders, and the studio and the terminal list them with their cost and
     * one action to generate them. @default 10
     */
    devThreshold: v.optional(wholeNumber(0, 1_000_000), DEFAULTS.devThreshold),
    /**
     * Fail a build (or `flux-images generate`) that would serve any local placeholder instead of a
     * real image (no key, placeholder mode), listing each at its file:line. For the CI builds that
     * deploy: a job without its secrets fails rather than ship placeholder art. `astro sync`,
     * `astro check` and dev servers are not builds: they never fail for it.
     * @default process.env.FLUX_REQUIRE_REAL === '1' (or 'true'), else false
     */
    requireReal: v.optional(boolean(), DEFAULTS.requireReal),
    /** Progress display: a live line on a terminal, plain periodic lines in CI. @default 'auto' */
    progress: v.optional(oneOf(PROGRESS_STYLES), DEFAULTS.progress),
    /** Responsive variants: widths, formats, encoder settings, placeholder, public URL. */
    image: v.optional(OPTIMIZE_OPTIONS, {}),
    /**
     * A cache shared through an S3-compatible bucket (AWS S3, R2, MinIO...): originals read through
     * and written back, one generation per image across a fleet. Every field may come from the
     * environment instead (`FLUX_REMOTE_*`, `AWS_*`); see `remote/remote-config.ts`.
     * @default none (FLUX_REMOTE_URL)
     */
    remote: v.optional(
      optionsObject({
        url: v.optional(text()),
        endpoint: v.optional(text()),
        region: v.optional(text()),
        addressing: v.optional(oneOf(['path', 'virtual'] as const)),
        accessKeyId: v.optional(text()),
        secretAccessKey: v.optional(text({ secret: true })),
        sessionToken: v.optional(text({ secret: true })),
        mode: v.optional(oneOf(REMOTE_MODES)),
        leaseStaleMs: v.optional(wholeNumber(LEASE_STALE_MS.min, LEASE_STALE_MS.max)),
      }),
    ),
    /** Where messages go. @default a console logger in the CLI; the adapter's logger in Vite and Astro */
    logger: v.optional(logger, SILENT),
  }),
  listed('model', DEFAULT_MODELS),
  listed('size', DEFAULT_SIZES),
  presetNamed(),
  v.transform(
    ({ root, cacheDir, apiKey, baseURL, models, sizes, exclude, prices, model, concurrency, ...rest }) => {
      const bfl = rest.provider === 'bfl'
      const absoluteRoot = resolve(root)
      const absoluteCacheDir = resolve(absoluteRoot, cacheDir ?? DEFAULTS.cacheDirName)
      const inRoot = absoluteCacheDir.startsWith(`${absoluteRoot}/`)
      return {
        ...rest,
        root: absoluteRoot,
        cacheDir: absoluteCacheDir,
        apiKey: apiKey as string | undefined,
        baseURL: (baseURL ?? (bfl ? BFL_BASE_URLS[rest.region ?? 'global'] : undefined)) as
          | string
          | undefined,
        model: model ?? (bfl ? BFL_DEFAULT_MODEL : DEFAULTS.model),
        concurrency: concurrency ?? (bfl ? DEFAULTS.bflConcurrency : DEFAULTS.concurrency),
        // BFL's models are its endpoints, each with its own rules: a name outside the table has none.
        models: (bfl ? BFL_MODEL_NAMES : [...DEFAULT_MODELS, ...models]) as readonly string[],
        sizes: [...DEFAULT_SIZES, ...sizes] as readonly string[],
        exclude: [
          ...DEFAULTS.exclude,
          ...(inRoot ? [`${absoluteCacheDir.slice(absoluteRoot.length + 1)}/**`] : []),
          ...exclude,
        ] as readonly string[],
        prices: { ...DEFAULT_PRICES, ...prices } as Readonly<Record<string, Price>>,
      }
    },
  ),
  v.rawTransform(({ dataset, addIssue }) => {
    // Each preset's references, read once: they enter the key by content.
    const o = dataset.value
    const presets: Record<string, ResolvedPreset> = {}
    const referenceFiles = new Map<string, string>()
    for (const [name, given] of Object.entries(o.presets)) {
      const references = (given.references ?? []).flatMap((path, index) => {
        const file = resolve(o.root, path)
        try {
          const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex')
          referenceFiles.set(sha256, file)
          return [{ file, sha256 }]
        } catch (err) {
          const reason = (err as NodeJS.ErrnoException).code ?? String(err)
          addIssue({
            message: `Could not read the reference image ${show(path)} (${reason}); paths are relative to the root`,
            path: pathTo(
              ['presets', o.presets],
              [name, given],
              ['references', given.references],
              [index, path],
            ),
          })
          return []
        }
      })
      presets[name] = { ...given, references }
    }
    return { ...o, presets, referenceFiles: referenceFiles as ReferenceFiles }
  }),
)

/**
 * The files behind the reference hashes keys hold (sha256 -> file): the presets', read with the
 * options, and each directive's own `?ref=`, added as it is resolved. The provider reads them
 * from here, checking the bytes still hash the same.
 */
export type ReferenceFiles = Map<string, string>

/** A preset as resolved: its references read, each by file and content hash. */
export interface ResolvedPreset {
  prompt: string
  model?: string
  size?: string
  quality?: (typeof QUALITIES)[number]
  references: readonly { file: string; sha256: string }[]
}

type PathItem = v.ObjectPathItem | v.ArrayPathItem

/** A valibot issue path through objects and lists: [key or index, the value there] from the top. */
function pathTo(...steps: [string | number, unknown][]): [PathItem, ...PathItem[]] {
  const items = steps.map(([key, value], i): PathItem => {
    const input = i === 0 ? {} : steps[i - 1]?.[1]
    return typeof key === 'number'
      ? { type: 'array', origin: 'value', input: input as unknown[], key, value }
      : { type: 'object', origin: 'value', input: input as Record<string, unknown>, key, value }
  })
  return items as [PathItem, ...PathItem[]]
}

/** The default preset must be one of `presets` (or `none`), and no preset may be called `none`. */
function presetNamed<T>(): v.RawCheckAction<T> {
  return v.rawCheck<T>(({ dataset, addIssue }) => {
    const o: unknown = dataset.value
    if (!isRecord(o) || !isRecord(o.presets)) return
    const names = Object.keys(o.presets)
    if (names.includes(NO_PRESET)) {
      addIssue({
        message: `"${NO_PRESET}" is kept to turn presets off on a directive (?preset=${NO_PRESET}): choose another name`,
        path: pathTo(['presets', o.presets], [NO_PRESET, o.presets[NO_PRESET]]),
      })
    }
    if (typeof o.preset !== 'string' || o.preset === NO_PRESET || names.includes(o.preset)) return
    addIssue({
      message: `Expected the name of a preset (${quoteAll(names) || 'none defined in `presets`'}) or "${NO_PRESET}", got ${show(o.preset)}`,
      path: pathTo(['preset', o.preset]),
    })
  })
}

/**
 * `model` (`size`) must be a default or listed in `models` (`sizes`); checked against the defaults
 * alone when the list itself is wrong, so both problems are reported at once.
 */
function listed<T>(name: 'model' | 'size', defaults: readonly string[]): v.RawCheckAction<T> {
  return v.rawCheck<T>(({ dataset, addIssue }) => {
    const o: unknown = dataset.value
    const failed = (key: string) => dataset.issues?.some((issue) => issue.path?.[0]?.key === key)
    if (!isRecord(o)) return
    if (o.provider === 'bfl') {
      const extra = o[`${name}s`]
      if (Array.isArray(extra) && extra.length > 0) {
        addIssue({
          message: `Not used with provider "bfl": its models and their sizes are BFL's (see the model table); remove \`${name}s\``,
          path: [{ type: 'object', origin: 'value', input: o, key: `${name}s`, value: extra }],
        })
      }
    }
    if (typeof o[name] !== 'string' || failed(name)) return
    if (o.provider === 'bfl') {
      // Sizes are checked per model when a directive is resolved (bfl-models.ts).
      if (name === 'size' || BFL_MODEL_NAMES.includes(o[name])) return
      addIssue({
        message: `Expected one of BFL's models ${quoteAll(BFL_MODEL_NAMES)}, got ${show(o[name])}`,
        path: [{ type: 'object', origin: 'value', input: o, key: name, value: o[name] }],
      })
      return
    }
    const extra = o[`${name}s`]
    const accepted = [...defaults, ...(Array.isArray(extra) && !failed(`${name}s`) ? extra : [])]
    if (accepted.includes(o[name])) return
    addIssue({
      message: `Expected one of ${quoteAll(accepted)}, got ${show(o[name])} (add it with \`${name}s\`)`,
      path: [{ type: 'object', origin: 'value', input: o, key: name, value: o[name] }],
    })
  })
}

/** Options of `createFlux()`, the CLI and both adapters, as given. */
export type FluxOptions = v.InferInput<typeof FLUX_OPTIONS>
/** The options as the engine uses them: every layer read, every default filled in, paths absolute. */
export type ResolvedOptions = Omit<v.InferOutput<typeof FLUX_OPTIONS>, 'remote'> & {
  /** The shared bucket, resolved with the environment; undefined when none is set. */
  remote: RemoteConfig | undefined
}

/** The defaults of GATEWAY_OPTIONS that FluxOptions does not have. */
export const GATEWAY_DEFAULTS = {
  retryBaseMs: 1_000,
  retryMaxMs: 30_000,
  maxRetryAfterMs: 60_000,
  // Generated PNGs are a few MB; 50 MiB leaves room without letting a bad answer fill memory.
  maxDownloadBytes: 50 * 1024 * 1024,
} as const

/** Options of the OpenAI-Images gateway provider (`createOpenAIImagesProvider`). */
export const GATEWAY_OPTIONS = optionsObject({
  /**
   * The gateway's API key, sent as `Authorization: Bearer <key>` to the API origin only. It is
   * redacted from every error and log line, even when the gateway echoes it back.
   */
  apiKey,
  /**
   * The gateway's base URL, with or without a trailing `/v1` or slash: `https://host` and
   * `https://host/v1/` both post to `https://host/v1/images/generations`. Prompts are sent there.
   */
  baseURL,
  /**
   * How the gateway hands the image back. `b64_json` puts it in the answer itself: no second
   * request, no URL that expires before it is fetched, no third-party host to trust. `url`
   * suits gateways that cannot inline images.
   * @default 'b64_json'
   */
  responseFormat,
  /** Deadline of one attempt (request, answer and download), in ms. @default 180_000 */
  timeoutMs,
  /** Retries after the first attempt (see retry.ts for which failures are retried). @default 4 */
  maxRetries,
  /** Backoff base: the first retry waits a random time up to this. @default 1_000 */
  retryBaseMs: v.optional(wholeNumber(0, MAX_TIMEOUT_MS), GATEWAY_DEFAULTS.retryBaseMs),
  /** Backoff cap: no jittered wait exceeds this. @default 30_000 */
  retryMaxMs: v.optional(wholeNumber(0, MAX_TIMEOUT_MS), GATEWAY_DEFAULTS.retryMaxMs),
  /** Cap on a wait the gateway asks for with `Retry-After` / `retry-after-ms`. @default 60_000 */
  maxRetryAfterMs: v.optional(wholeNumber(0, MAX_TIMEOUT_MS), GATEWAY_DEFAULTS.maxRetryAfterMs),
  /** Largest image accepted (downloaded, or decoded from `b64_json`), in bytes. @default 52_428_800 (50 MiB) */
  maxDownloadBytes: v.optional(wholeNumber(1), GATEWAY_DEFAULTS.maxDownloadBytes),
  /**
   * Lets `url` downloads reach private, loopback, link-local and unique-local addresses. Risk:
   * a gateway (or whoever controls its answers) could then make the build fetch from your
   * network. Only for a gateway on your own network, or tests.
   * @default false
   */
  allowPrivateDownloads,
  /** Receives retries (debug) and retries that may bill twice (warn). */
  logger: v.optional(logger),
  /** An undici dispatcher to use instead of the provider's own Agents (tests). Not closed by `close()`. */
  dispatcher: v.optional(
    custom<Dispatcher>(
      (value) => isRecord(value) && typeof value.dispatch === 'function',
      'an undici Dispatcher',
    ),
  ),
})

/** Options of `createOpenAIImagesProvider`, as given. */
export type GatewayOptions = v.InferInput<typeof GATEWAY_OPTIONS>

type Env = Readonly<Record<string, string | undefined>>

/** Where the value at a path came from, for messages: '' (given), `FLUX_MODE`, `flux.config.mjs`. */
type Sources = Map<string, string>

/**
 * Resolves every option as: the given value, then the environment, then the config file's value,
 * then the host's defaults, then the built-in default; `image` member by member. Validates once and
 * throws FLUX_INVALID_OPTIONS listing every problem with its path, unknown names included, and
 * where a wrong value came from when it was not given (`(from FLUX_CONCURRENCY)`,
 * `(from flux.config.mjs)`).
 */
export function resolveOptions(
  given: FluxOptions = {},
  {
    env = process.env,
    envFromFiles = new Map(),
    fileConfig = {},
    fileName = 'the config file',
    hostDefaults = {},
  }: {
    env?: Env
    /**
     * The variables of `env` that only a `.env` file set, with that file's name (`loadEnv`): a
     * secret of the real environment is sent where one of them points only with a warning.
     */
    envFromFiles?: ReadonlyMap<string, string>
    fileConfig?: FluxOptions
    /** For messages: `flux.config.mjs`. */
    fileName?: string
    /** What the host (Vite, Astro) sets under the file's settings: its logger, its `base`. */
    hostDefaults?: Pick<FluxOptions, 'logger' | 'image'>
  } = {},
): ResolvedOptions {
  const fromEnv: Record<string, string | boolean> = {}
  for (const [name, variable] of Object.entries(ENV)) {
    const value = env[variable]?.trim()
    if (value) fromEnv[name] = ENV_FLAGS.has(name) ? (FLAG_WORDS[value.toLowerCase()] ?? value) : value
  }
  const bflKey = env[BFL_KEY_ENV]?.trim()
  const provider =
    given.provider ?? fromEnv.provider ?? (isRecord(fileConfig) ? fileConfig.provider : undefined)
  if (provider === 'bfl' && bflKey) fromEnv.apiKey = bflKey
  const { merged, sources } = mergeLayers([
    [given, ''],
    // An empty apiKey given means no key: the environment's is not read.
    [
      given.apiKey === '' ? { ...fromEnv, apiKey: undefined } : fromEnv,
      (key) => (key === 'apiKey' && fromEnv.apiKey === bflKey ? BFL_KEY_ENV : ENV[key as keyof typeof ENV]),
    ],
    [isRecord(fileConfig) ? fileConfig : {}, fileName],
    [hostDefaults, ''],
  ])
  if (merged.apiKey === '') delete merged.apiKey

  const parsed = parseOptions(FLUX_OPTIONS, merged, { from: (keys) => sourceOf(sources, keys) })
  const resolved = { ...parsed, remote: resolveRemoteConfig(parsed.remote, env) }
  if (resolved.apiKey && resolved.baseURL) {
    const url = new URL(resolved.baseURL)
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      resolved.logger.warn(
        `[flux] baseURL ${url.protocol}//${url.host} is plain http on another machine: the API key and prompts would cross the network unencrypted. Use https://, or a gateway on this machine.`,
      )
    }
  }
  const { remote } = resolved
  if (remote?.credentials) {
    const url = new URL(remote.endpoint)
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      resolved.logger.warn(
        `[flux] remote.endpoint ${url.protocol}//${url.host} is plain http on another machine: the bucket's session token, signed requests and images would cross the network unencrypted. Use https://, or a store on this machine.`,
      )
    }
  }
  for (const warning of envFileWarnings(resolved, sources, envFromFiles)) resolved.logger.warn(warning)
  return resolved
}

/**
 * A warning for each secret of the real environment that would be sent to a place only a `.env`
 * file chose (a pull request can add one): the API key to its FLUX_BASE_URL, the bucket's
 * credentials to its FLUX_REMOTE_ENDPOINT. Names the variables, never their values.
 */
function envFileWarnings(
  resolved: ResolvedOptions,
  sources: Sources,
  envFromFiles: ReadonlyMap<string, string>,
): string[] {
  const fromReal = (name: string | undefined) =>
    name !== undefined && !name.includes('.') && !envFromFiles.has(name)
  const pair = (where: string, secrets: readonly string[], what: string, fix: string) => {
    const file = envFromFiles.get(where)
    return (
      `[flux] ${where} is set by ${file} only, while the environment gives ${secrets.join(', ')}: ${what} an address that a file of the checkout chose.\n` +
      `  hint: If ${file} is yours, set ${where} in the environment too (or ${fix} in the config file). If a pull request added it, run this build without ${secrets.join(', ')}.`
    )
  }
  const warnings: string[] = []
  if (resolved.apiKey && sources.get('baseURL') === ENV.baseURL && envFromFiles.has(ENV.baseURL)) {
    if (sources.get('apiKey') === ENV.apiKey && fromReal(ENV.apiKey))
      warnings.push(pair(ENV.baseURL, [ENV.apiKey], 'the API key would be sent to', 'baseURL'))
  }
  const remote = resolved.remote
  const endpoint = remote?.from.endpoint
  if (endpoint && envFromFiles.has(endpoint) && remote?.credentials) {
    const real = remote.from.credentials.filter(fromReal)
    if (real.length > 0)
      warnings.push(pair(endpoint, real, 'requests signed with them would go to', 'remote.endpoint'))
  }
  return warnings
}

/**
 * The first layer's value of each option wins; `image`, when every layer gives an object, is
 * merged member by member. Unknown names are kept, for the schema to report. `sources` says, for
 * each option and `image` member, which layer gave it.
 */
function mergeLayers(layers: [Record<string, unknown>, string | ((key: string) => string)][]): {
  merged: Record<string, unknown>
  sources: Sources
} {
  const merged: Record<string, unknown> = {}
  const sources: Sources = new Map()
  for (const [values, from] of layers) {
    const source = (key: string) => (typeof from === 'string' ? from : from(key))
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) continue
      const held = merged[key]
      if (held === undefined) {
        merged[key] = key === 'image' && isRecord(value) ? { ...value } : value
        sources.set(key, source(key))
        if (key === 'image' && isRecord(value))
          for (const m of Object.keys(value)) sources.set(`image.${m}`, source(key))
      } else if (key === 'image' && isRecord(held) && isRecord(value)) {
        for (const [member, memberValue] of Object.entries(value)) {
          if (memberValue === undefined || held[member] !== undefined) continue
          held[member] = memberValue
          sources.set(`image.${member}`, source(key))
        }
      } else if (key === 'image' && isRecord(held)) {
        // A layer's `image` that is not an object would otherwise be dropped unseen from the merge.
        merged.image = value
        sources.set(key, source(key))
      }
    }
  }
  return { merged, sources }
}

/** The layer that gave the value at `keys`: its `image` member's, else its option's. */
function sourceOf(sources: Sources, keys: Problem['keys']): string | undefined {
  const [name, member] = keys
  if (name === 'image' && member !== undefined) {
    const source = sources.get(`image.${member}`)
    if (source !== undefined) return source
  }
  return name === undefined ? undefined : sources.get(String(name))
}

/** `https://user:pass@host` -> `https://***@host`; also in a value that is not a valid URL. */
function hideCredentials(value: string): string {
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
