/**
 * Retries for paid requests. The policy, "never pay twice":
 *
 * - `transient`: the gateway said it did not do the work (408, 409, 425, 429, 5xx), or the
 *   request never left this machine (connection refused, DNS failure, connect timeout, a reset
 *   before the body was sent). Nothing was billed, so it is retried up to `maxRetries` times
 *   with capped exponential backoff and full jitter, or after the delay the gateway asked for
 *   (`retry-after-ms`, `Retry-After` in seconds or as an HTTP date), capped by `maxRetryAfterMs`.
 * - `lost`: the request was fully sent but its answer was lost (connection reset after sending,
 *   headers or body timeout, a malformed 200 body, a download URL that failed after a 200). The
 *   gateway may already have generated, and billed, the image. Such a failure is retried AT MOST
 *   ONCE per request (and only within `maxRetries`), and that retry is logged as a warning.
 *   "Sent" means undici wrote the whole request: a client cannot see whether the gateway read
 *   it, so a reset after that point counts as lost even if the gateway dropped it unread.
 * - `fatal`: retrying cannot help or would pay again for the same answer (401/403, quota,
 *   moderation, other 4xx, an undecodable image, a refused download): thrown at once.
 *
 * When retries run out, a `lost` or `transient` failure ends in its own final error when it has
 * one, else in FLUX_TRANSIENT naming the number of attempts.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { type FluxError, fluxError } from './errors.js'
import type { GenerateContext, Logger } from './types.js'

export type FailureKind = 'transient' | 'lost'

/**
 * The reason phrase of an HTTP status (`Too Many Requests`), or undefined. Read from `node:http`
 * when asked: importing it costs about 100 ms of start-up, and by the time a status is shown,
 * undici has loaded it anyway.
 */
export function statusText(status: number): string | undefined {
  return process.getBuiltinModule('node:http').STATUS_CODES[status]
}

/**
 * Thrown by an attempt to tell `retry` it may be retried. Fatal failures are thrown as the
 * FluxError itself. `reason` is short, for logs and `onRetry`, and already free of secrets.
 */
export class AttemptFailure extends Error {
  override readonly name = 'AttemptFailure'
  readonly kind: FailureKind
  /** The error to throw if this failure ends the request (FLUX_TRANSIENT is built otherwise). */
  readonly final: FluxError | undefined
  /** The delay the gateway asked for, in ms. */
  readonly retryAfterMs: number | undefined

  constructor(
    kind: FailureKind,
    reason: string,
    opts: { final?: FluxError; retryAfterMs?: number | undefined; cause?: unknown } = {},
  ) {
    super(reason, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.kind = kind
    this.final = opts.final
    this.retryAfterMs = opts.retryAfterMs
  }
}

export interface RetryOptions {
  /** Retries after the first attempt (so at most `maxRetries + 1` attempts). */
  maxRetries: number
  /** Backoff base: the first retry waits up to this long. */
  baseMs: number
  /** Backoff cap. */
  maxMs: number
  /** Cap on a delay the gateway asks for with Retry-After. */
  maxRetryAfterMs: number
  signal?: AbortSignal | undefined
  /** Called before each wait; `attempt` is the attempt that just failed (1 before the first retry). */
  onRetry?: GenerateContext['onRetry']
  logger?: Logger | undefined
  /** Applied to every text this module logs or reports. */
  redact?: (text: string) => string
  /** For tests: a number in [0, 1). */
  random?: () => number
}

/** The retry settings of a provider's options (the gateway's and BFL's are the same). */
export interface RetrySettings {
  maxRetries: number
  retryBaseMs: number
  retryMaxMs: number
  maxRetryAfterMs: number
  logger?: Logger | undefined
}

/** The options `retry` takes for one call of a provider's `generate`. */
export function retryOptions(
  o: RetrySettings,
  ctx: GenerateContext,
  redact: (text: string) => string,
): RetryOptions {
  return {
    maxRetries: o.maxRetries,
    baseMs: o.retryBaseMs,
    maxMs: o.retryMaxMs,
    maxRetryAfterMs: o.maxRetryAfterMs,
    signal: ctx.signal,
    onRetry: ctx.onRetry,
    logger: o.logger,
    redact,
  }
}

/**
 * Runs `attempt(n)` (n from 1) until it succeeds, throws anything but an AttemptFailure (which
 * is passed through), or the policy above says stop. An abort of `signal`, during an attempt
 * or a wait, ends with FLUX_INTERRUPTED.
 */
export async function retry<T>(attempt: (n: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const redact = options.redact ?? ((text: string) => text)
  let lostRetried = false
  for (let n = 1; ; n++) {
    throwIfAborted(options.signal)
    let failure: AttemptFailure
    try {
      return await attempt(n)
    } catch (err) {
      throwIfAborted(options.signal, err)
      if (!(err instanceof AttemptFailure)) throw err
      failure = err
    }
    const reason = redact(failure.message)
    if (n > options.maxRetries || (failure.kind === 'lost' && lostRetried)) {
      if (failure.final) throw failure.final
      throw fluxError('FLUX_TRANSIENT', { attempts: n, detail: reason }, { cause: failure.cause })
    }
    if (failure.kind === 'lost') {
      lostRetried = true
      options.logger?.warn(`[flux] ${reason}: answer lost; retrying once: the gateway may bill twice`)
    }
    const delayMs =
      failure.retryAfterMs === undefined
        ? backoffDelay(n, options.baseMs, options.maxMs, options.random)
        : Math.min(failure.retryAfterMs, options.maxRetryAfterMs)
    options.logger?.debug?.(`[flux] attempt ${n} failed (${reason}); retrying in ${delayMs} ms`)
    options.onRetry?.({ attempt: n, delayMs, reason })
    try {
      await sleep(delayMs, undefined, options.signal ? { signal: options.signal } : undefined)
    } catch (err) {
      throwIfAborted(options.signal, err)
      throw err
    }
  }
}

/** Full jitter: uniform in [0, min(maxMs, baseMs * 2^(retry-1))]. `retry` counts from 1. */
export function backoffDelay(
  retry: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(retry - 1, 30))
  return Math.round(random() * ceiling)
}

/**
 * The delay an answer asks for, in ms: `retry-after-ms` first (OpenAI's), then `Retry-After`
 * as seconds or as an HTTP date. Undefined when absent or unreadable; never negative.
 */
export function parseRetryAfter(
  headers: Record<string, string | string[] | undefined>,
  now: number = Date.now(),
): number | undefined {
  const first = (name: string) => {
    const value = headers[name]
    return (Array.isArray(value) ? value[0] : value)?.trim()
  }
  const ms = first('retry-after-ms')
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Math.round(Number(ms))
  const value = first('retry-after')
  if (!value) return undefined
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

function throwIfAborted(signal: AbortSignal | undefined, cause?: unknown): void {
  if (signal?.aborted) throw fluxError('FLUX_INTERRUPTED', {}, { cause: cause ?? signal.reason })
}
