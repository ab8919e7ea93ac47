import { printable } from './redact.js'
import type { SourceLocation } from './types.js'

/**
 * The error catalog: every failure the product can report, with a stable code, a title,
 * a message built from its arguments, and a hint that says what to do next.
 */
export const ERRORS = {
  FLUX_INVALID_OPTIONS: {
    title: 'Invalid options',
    message: (a: { problems: string[] }) =>
      `Invalid flux-images options:\n${a.problems.map((p) => `  - ${p}`).join('\n')}`,
    hint: 'Fix the listed options in your flux-images configuration.',
  },
  FLUX_INVALID_DIRECTIVE: {
    title: 'Invalid directive',
    message: (a: { reason: string }) => a.reason,
    hint: 'Write directives as `flux:<prompt>?size=1536x1024&model=flux-schnell`.',
  },
  FLUX_EMPTY_PROMPT: {
    title: 'Empty prompt',
    message: (_: object) => 'The directive has an empty prompt.',
    hint: 'Write a prompt after `flux:`, or give the image alt text: `![A lighthouse at dawn](flux:)`.',
  },
  FLUX_UNKNOWN_MODEL: {
    title: 'Unknown model',
    message: (a: { model: string; accepted: readonly string[] }) =>
      `Unknown model "${a.model}". Accepted models: ${a.accepted.join(', ')}.`,
    hint: 'Use one of the accepted models, or add yours with the `models` option (e.g. `models: ["my-model"]`).',
  },
  FLUX_UNKNOWN_PRESET: {
    title: 'Unknown preset',
    message: (a: { preset: string; accepted: readonly string[] }) =>
      `Unknown preset "${a.preset}". ${a.accepted.length ? `Presets: ${a.accepted.join(', ')}, or none.` : 'No preset is defined (`presets`).'}`,
    hint: 'Use a preset defined in `presets` (flux.config.mjs), or `?preset=none` for none.',
  },
  FLUX_REFERENCES_UNSUPPORTED: {
    title: 'Reference images not supported',
    message: (a: { provider: string; count: number; own?: number; max?: number }) =>
      `${a.own ? `It sends ${a.count} reference image(s) (${a.own} its own \`ref\`)` : `Its preset sends ${a.count} style reference image(s)`}, and the provider "${a.provider}" takes ${a.max ? `at most ${a.max}` : 'none'}: nothing was sent.`,
    hint: 'Remove `references` from the preset or `ref` from the directive, use `?preset=none` on this directive, or use a model or provider that takes reference images.',
  },
  FLUX_UNKNOWN_SIZE: {
    title: 'Unknown size',
    message: (a: { size: string; accepted: readonly string[] }) =>
      `Unknown size "${a.size}". Accepted sizes: ${a.accepted.join(', ')}.`,
    hint: 'Use one of the accepted sizes, or add yours with the `sizes` option (e.g. `sizes: ["2048x2048"]`).',
  },
  FLUX_SIZE_UNSUPPORTED: {
    title: 'Size not supported by the model',
    message: (a: { size: string; problem: string }) => `The size "${a.size}" cannot be made: ${a.problem}.`,
    hint: "Choose a size that follows the model's rule (`?size=1024x768`), or another model (`?model=...`); nothing was sent.",
  },
  FLUX_INVALID_OPTION_VALUE: {
    title: 'Invalid option value',
    message: (a: { key: string; value: string; expected: string }) =>
      `Invalid ${a.key} "${a.value}": expected ${a.expected}.`,
    hint: 'Correct the value in the directive.',
  },
  FLUX_FRONTMATTER: {
    title: 'Malformed frontmatter',
    message: (a: { reason: string }) => `The frontmatter could not be parsed: ${a.reason}`,
    hint: 'Fix the YAML between the `---` lines; directives in this file were skipped.',
  },
  FLUX_READ_FAILED: {
    title: 'Unreadable file',
    message: (a: { reason: string }) => `The file could not be read: ${a.reason}`,
    hint: 'Check the file permissions, or exclude the file with the `exclude` option.',
  },
  FLUX_NO_API_KEY: {
    title: 'No API key',
    message: (_: object) => 'No API key is set, so images cannot be generated.',
    hint: 'Set FLUX_API_KEY in the environment, or use `--mode placeholder` to build with local placeholder images.',
  },
  FLUX_NO_BASE_URL: {
    title: 'No gateway URL',
    message: (_: object) => 'An API key is set but no gateway base URL is configured.',
    hint: 'Set FLUX_BASE_URL (e.g. https://your-gateway.example) or the `baseURL` option.',
  },
  FLUX_AUTH: {
    title: 'Authentication failed',
    message: (a: { status: number; detail: string }) =>
      `The gateway refused the API key (${a.status}): ${a.detail}`,
    hint: 'Check FLUX_API_KEY; the run stopped so no further requests are refused.',
  },
  FLUX_QUOTA: {
    title: 'Quota exhausted',
    message: (a: { status: number; detail: string }) =>
      `The gateway reports no credits or quota left (${a.status}): ${a.detail}`,
    hint: 'Add credits or raise the quota with your gateway, then run the build again: finished images are cached.',
  },
  FLUX_MODERATED: {
    title: 'Prompt refused',
    message: (a: { detail: string }) => `The gateway refused this prompt (moderation): ${a.detail}`,
    hint: 'Rephrase the prompt. The refusal is remembered so the next build does not pay again; use `--force` to retry as is.',
  },
  FLUX_BAD_REQUEST: {
    title: 'Request rejected',
    message: (a: { status: number; detail: string }) =>
      `The gateway rejected the request (${a.status}): ${a.detail}`,
    hint: 'Check the directive options (model, size, quality) against what your gateway accepts.',
  },
  FLUX_TRANSIENT: {
    title: 'Gateway unavailable',
    message: (a: { attempts: number; detail: string }) =>
      `The request failed after ${a.attempts} attempt(s): ${a.detail}`,
    hint: 'The gateway is overloaded or unreachable; run the build again later: finished images are cached.',
  },
  FLUX_JOB_FAILED: {
    title: 'Generation failed',
    message: (a: { id: string; status: string; detail: string }) =>
      `The API's job ${a.id} ended with status "${a.status}": ${a.detail}`,
    hint: 'Run the build again to submit it anew (it is paid again); if it persists, try another prompt, size or model.',
  },
  FLUX_JOB_LOST: {
    title: 'Submitted job gone',
    message: (a: { id: string; submitted: string; credits: string }) =>
      `The job ${a.id} submitted at ${a.submitted} (${a.credits}) is no longer known to the API ("Task not found"): its image cannot be fetched.`,
    hint: 'Its receipt was removed: run the build again to submit it anew (paid again). Results live for a limited time, so resume an interrupted build soon.',
  },
  FLUX_POLL_URL: {
    title: 'Polling URL refused',
    message: (a: { url: string; reason: string }) =>
      `The API answered with the polling URL ${a.url}, which was not followed: ${a.reason}.`,
    hint: "The key is sent only to BFL hosts (api*.bfl.ai) and to baseURL's host; check FLUX_BASE_URL. Nothing else was paid for after the submit.",
  },
  FLUX_BAD_IMAGE: {
    title: 'Bad image',
    message: (a: { detail: string }) =>
      `The gateway returned something that is not a usable image: ${a.detail}`,
    hint: 'Run the build again; if it persists, report it to your gateway.',
  },
  FLUX_DOWNLOAD: {
    title: 'Download failed',
    message: (a: { detail: string }) => `The generated image could not be downloaded: ${a.detail}`,
    hint: 'Run the build again; image URLs expire quickly, so they are fetched at once.',
  },
  FLUX_MISSING_FROZEN: {
    title: 'Missing images in frozen mode',
    message: (a: { list: string[] }) =>
      `${a.list.length} image(s) are not cached and frozen mode forbids generating them:\n${a.list.map((l) => `  - ${l}`).join('\n')}`,
    hint: 'Generate them locally (`flux-images generate`) and commit the cache, or run with FLUX_MODE=auto.',
  },
  FLUX_REQUIRE_REAL: {
    title: 'Placeholders in a build that requires real images',
    message: (a: { images: number; reason: string; list: string[] }) =>
      `${a.images} image(s) would be served as local placeholders (${a.reason}), and requireReal forbids any:\n${a.list.map((l) => `  - ${l}`).join('\n')}`,
    hint: 'Give this build its FLUX_API_KEY and FLUX_BASE_URL (a CI job without its secrets?), or generate the images and commit .flux-cache/originals; to allow placeholders, unset FLUX_REQUIRE_REAL (or `requireReal`).',
  },
  FLUX_UNKNOWN_OPTION: {
    title: 'Unknown directive option',
    message: (a: {
      names: readonly string[]
      nearest: readonly (string | undefined)[]
      known: readonly string[]
    }) =>
      `Unknown option${a.names.length === 1 ? '' : 's'} ${a.names.map((n, i) => `\`${n}\`${a.nearest[i] ? ` (did you mean \`${a.nearest[i]}\`?)` : ''}`).join(', ')}. Known options: ${a.known.join(', ')}. Nothing was generated for this directive.`,
    hint: "Fix the option's name. If the `?` belongs to the prompt, escape it: `\\?` (`\\\\?` in Markdown, where a backslash escapes punctuation), or `%3F`.",
  },
  FLUX_BUDGET: {
    title: 'Generation cap exceeded',
    message: (a: { needed: number; max: number }) =>
      `${a.needed} new image(s) would be generated, over the cap of ${a.max} per run. Nothing was generated.`,
    hint: 'Raise the cap with `--max N` (or the `maxGenerations` option), or generate in smaller steps.',
  },
  FLUX_SPEND: {
    title: 'Spending cap reached',
    message: (a: { next: number; spent: number; images: number; max: number }) =>
      `The next image (estimated $${a.next.toFixed(3)}) would take this run past maxSpend $${a.max.toFixed(2)}: ${a.images} image(s) requested for $${a.spent.toFixed(3)}, and nothing more is.`,
    hint: 'Raise `maxSpend` (or FLUX_MAX_SPEND), or run again later: finished images are cached, so the next run pays only for the rest.',
  },
  FLUX_CACHE_CORRUPT: {
    title: 'Corrupt cache entry',
    message: (a: { key: string; reason: string }) => `Cache entry ${a.key} is corrupt: ${a.reason}`,
    hint: 'It will be regenerated by the next `flux-images generate`.',
  },
  FLUX_CACHE_WRITE: {
    title: 'Cache write failed',
    message: (a: { dir: string; reason: string }) =>
      `Could not write to the cache directory ${a.dir}: ${a.reason}`,
    hint: 'Check that the cache directory is writable and the disk has room.',
  },
  FLUX_BAD_ORIGINAL: {
    title: 'Undecodable original',
    message: (a: { key: string; path: string; reason: string }) =>
      `The cached original of ${a.key} (${a.path}) could not be decoded, so no variants were made: ${a.reason}`,
    hint: 'Delete the file and the .json next to it; the next build generates the image again.',
  },
  FLUX_BAD_CARD_INPUT: {
    title: 'Unusable social card image',
    message: (a: { path: string; reason: string }) =>
      `The social card's image ${a.path} was not decoded, so no card was made: ${a.reason}`,
    hint: 'Give socialCard() a PNG, JPEG or WebP image of at most 3072x3072 pixels (9.4 MP): convert the file (its name does not change what it holds), then build again.',
  },
  FLUX_OPTIMIZE_FAILED: {
    title: 'Optimization failed',
    message: (a: { key: string; variant: string; reason: string }) =>
      `The ${a.variant} variant of ${a.key} could not be encoded: ${a.reason}`,
    hint: 'Check the image options (widths, formats, quality, effort); run the build again if the machine ran out of memory.',
  },
  FLUX_INTERRUPTED: {
    title: 'Interrupted',
    message: (_: object) => 'The run was interrupted before this image was generated.',
    hint: 'Run again: finished images are cached and only the missing ones are generated.',
  },
  FLUX_REPORT_WRITE: {
    title: 'Report write failed',
    message: (a: { path: string; reason: string }) => `Could not write the report to ${a.path}: ${a.reason}`,
    hint: 'Choose another file with `--out FILE`, or check that its folder is writable.',
  },
  FLUX_INVALID_PROMPT: {
    title: 'Invalid prompt',
    message: (a: { reason: string }) => `The prompt ${a.reason}, which a gateway would receive as it is.`,
    hint: 'Remove the character from the prompt; if the file is not UTF-8, save it as UTF-8.',
  },
  FLUX_PROMPT_TOO_LONG: {
    title: 'Prompt too long',
    message: (a: { length: number; max: number }) =>
      `The prompt has ${a.length} characters; at most ${a.max} are sent to a gateway.`,
    hint: 'Shorten the prompt to 4000 characters or fewer (the OpenAI Images API refuses longer ones for dall-e-3; FLUX models read only the first ~500 tokens).',
  },
  FLUX_REMOTE_CONFIG: {
    title: 'Invalid remote cache settings',
    message: (a: { problems: string[] }) =>
      `Invalid remote cache settings:\n${a.problems.map((p) => `  - ${p}`).join('\n')}`,
    hint: 'Fix the listed settings in the `remote` option or the FLUX_REMOTE_* / AWS_* environment variables.',
  },
  FLUX_REMOTE_UNAVAILABLE: {
    title: 'Remote cache unavailable',
    message: (a: { request: string; attempts: number; detail: string }) =>
      `The remote cache failed ${a.request} after ${a.attempts} attempt(s): ${a.detail}`,
    hint: 'Check the endpoint and the network; the local cache still serves what it holds.',
  },
  FLUX_REMOTE_DENIED: {
    title: 'Remote cache refused the credentials',
    message: (a: { request: string; detail: string }) => `The remote cache refused ${a.request}: ${a.detail}`,
    hint: 'Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or FLUX_REMOTE_*), and that they may read and write under the bucket prefix.',
  },
  FLUX_REMOTE_REJECTED: {
    title: 'Remote cache rejected a request',
    message: (a: { request: string; detail: string }) =>
      `The remote cache rejected ${a.request}: ${a.detail}`,
    hint: 'Check the bucket name, the region and the endpoint of the `remote` option.',
  },
  FLUX_REMOTE_LEASE_LOST: {
    title: 'Lease lost',
    message: (a: { key: string; reason: string }) => `The lease on ${a.key} was lost: ${a.reason}`,
    hint: 'It was not renewed within the stale time (a paused or overloaded machine?), so another build may pay for the same image; raise `staleMs` if renewals are slow.',
  },
  FLUX_REMOTE_LEASE_WAIT: {
    title: 'Lease held too long',
    /** `letGo`: the lease was taken and let go again and again, never with a result. */
    message: (a: { key: string; holder: string; waitedMs: number; letGo?: boolean }) =>
      a.letGo
        ? `Waited ${Math.round(a.waitedMs / 1000)} s for ${a.key}: its lease was taken and let go again and again, and no image or refusal was stored (last seen held by ${a.holder}). Nothing was generated for it.`
        : `Waited ${Math.round(a.waitedMs / 1000)} s for ${a.holder} to finish ${a.key}; its lease is still renewed.`,
    hint: 'Another build is still generating this image, or something else writes to `leases/` in the bucket: check what does, run again once it has stopped, or raise `maxWaitMs`.',
  },
  FLUX_HOST_VERSION: {
    title: 'Unsupported host version',
    message: (a: { adapter: string; host: string; version: string; range: string }) =>
      `${a.adapter} supports ${a.host} ${a.range}; this project runs ${a.host} ${a.version}.`,
    hint: 'Install a version of the host in the supported range; nothing was generated.',
  },
  FLUX_UNRESOLVED_OUTPUT: {
    title: 'Unresolved image in the output',
    message: (a: { page: string; where: string; directive: string; source: string }) =>
      `${a.page}: ${a.where} holds ${JSON.stringify(a.directive)}, which no browser can load: nothing resolved it (${a.source}).`,
    hint: "A field typed with Astro's image() passes a flux: value through as text: wrap the collection's schema in fluxSchema() (`schema: fluxSchema(({ image }) => z.object({ ... }))`, from '@flux-images/astro/schema'), or type the field with fluxImage() and render it with <FluxImage image={...} />.",
  },
} as const

export type FluxErrorCode = keyof typeof ERRORS
type ArgsOf<C extends FluxErrorCode> = Parameters<(typeof ERRORS)[C]['message']>[0]

const FLUX_ERROR = Symbol.for('flux-images.error')

/**
 * The one error class. `code` is stable; `location` names the directive (file:line:column)
 * when there is one; `hint` says what to do. `FluxError.is()` works across package copies.
 */
export class FluxError extends Error {
  readonly [FLUX_ERROR] = true
  override readonly name = 'FluxError'
  readonly code: FluxErrorCode
  readonly title: string
  readonly hint: string
  readonly location: SourceLocation | undefined
  readonly detail: string

  constructor(
    code: FluxErrorCode,
    detail: string,
    opts: { hint?: string; location?: SourceLocation | undefined; cause?: unknown } = {},
  ) {
    const where = opts.location ? `${formatLocation(opts.location)}: ` : ''
    super(`[flux] ${where}${detail}`, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.code = code
    this.title = ERRORS[code].title
    this.hint = opts.hint ?? ERRORS[code].hint
    this.location = opts.location
    this.detail = detail
  }

  /** True for any FluxError, even one thrown by another copy of this package. */
  static is(value: unknown, code?: FluxErrorCode): value is FluxError {
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as Record<symbol, unknown>)[FLUX_ERROR] === true &&
      (code === undefined || (value as FluxError).code === code)
    )
  }

  /** The same error, located at a directive. */
  at(location: SourceLocation): FluxError {
    return new FluxError(this.code, this.detail, { hint: this.hint, location, cause: this.cause })
  }

  /** The message and the hint, for a log or a terminal. */
  override toString(): string {
    return `${this.message}\n  hint: ${this.hint}`
  }
}

/** Builds a catalogued error from its arguments. */
export function fluxError<C extends FluxErrorCode>(
  code: C,
  args: ArgsOf<C>,
  opts: { location?: SourceLocation | undefined; cause?: unknown; hint?: string } = {},
): FluxError {
  const message = ERRORS[code].message as (a: ArgsOf<C>) => string
  return new FluxError(code, message(args), opts)
}

export function formatLocation(loc: SourceLocation): string {
  // A file name reaches terminals too: its control characters are written out.
  return `${printable(loc.file)}:${loc.line}:${loc.column}`
}
