import { inspect } from 'node:util'
import type { Dispatcher } from 'undici'
import { FluxError, fluxError } from '../errors.js'
import { GATEWAY_OPTIONS, type GatewayOptions } from '../options.js'
import { printable, redact as redactSecret } from '../redact.js'
import { AttemptFailure, parseRetryAfter, retry, retryOptions, statusText } from '../retry.js'
import { parseOptions } from '../schema.js'
import type { CanonicalRequest, GenerateContext, GeneratedImage, Logger, Provider } from '../types.js'
import { decodeAnswerImage } from './check-image.js'
import { createConnection } from './connection.js'
import { download } from './download.js'

/** Options of the gateway provider: see GATEWAY_OPTIONS, the schema they are checked against. */
export type OpenAIImagesProviderOptions = GatewayOptions

/** An answer's image before it is decoded: `format` and dimensions come from the decode check. */
type Answer = Pick<GeneratedImage, 'bytes' | 'created' | 'revisedPrompt'>

const QUOTA_TAG = /quota|billing|credit|insufficient|payment/i
const RATE_LIMIT_TAG = /rate.?limit|requests|tokens/i
// Only for answers whose code and type say nothing: OpenAI's plain rate-limit message mentions billing.
const QUOTA_MESSAGE = /quota|insufficient|credits/i
const MODERATION_CODES = new Set(['moderation_blocked', 'content_policy_violation'])
const RETRYABLE_STATUSES = new Set([408, 409, 425, 429])

/** The real provider: a FLUX gateway speaking the OpenAI Images API, over undici. */
export function createOpenAIImagesProvider(options: OpenAIImagesProviderOptions): Provider {
  const o = parseOptions(GATEWAY_OPTIONS, options)
  const endpoint = imagesEndpoint(options.baseURL)
  const where = `[POST] "${endpoint.origin}${endpoint.pathname}"`
  const authorization = `Bearer ${options.apiKey}`
  // Every text from the gateway (errors, revised prompts) without the key and as plain text.
  const redact = (text: string) => printable(redactSecret(text, options.apiKey))
  const { connect, close } = createConnection({
    timeoutMs: o.timeoutMs,
    dispatcher: options.dispatcher,
    allowPrivateDownloads: o.allowPrivateDownloads,
  })
  // A b64_json answer is 4/3 of the image, plus JSON around it.
  const maxAnswerBytes = Math.ceil((o.maxDownloadBytes * 4) / 3) + 64 * 1024

  async function attempt(req: CanonicalRequest, ctx: GenerateContext): Promise<Answer> {
    const deadline = AbortSignal.timeout(o.timeoutMs)
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, deadline]) : deadline
    const progress = { sent: false, downloading: false }
    try {
      return await attemptOnce(req, signal, progress)
    } catch (err) {
      if (ctx.signal?.aborted || err instanceof AttemptFailure || FluxError.is(err)) throw err
      const timedOut = deadline.aborted || isTimeout(err)
      const what = timedOut ? `no answer within ${o.timeoutMs} ms` : redact(describeNetworkError(err))
      if (progress.downloading) {
        const detail = `the download ${timedOut ? 'timed out' : `failed (${what})`}`
        throw new AttemptFailure('lost', `download failed: ${what}`, {
          final: fluxError('FLUX_DOWNLOAD', { detail }),
          cause: err,
        })
      }
      if (progress.sent) {
        throw new AttemptFailure('lost', `${where}: ${what} after the request was sent`, { cause: err })
      }
      throw new AttemptFailure('transient', `${where}: ${what}`, { cause: err })
    }
  }

  async function attemptOnce(
    req: CanonicalRequest,
    signal: AbortSignal,
    progress: { sent: boolean; downloading: boolean },
  ): Promise<Answer> {
    const body: Record<string, unknown> = {
      model: req.model,
      prompt: req.prompt,
      size: req.size,
      quality: req.quality,
      n: 1,
      response_format: o.responseFormat,
    }
    if (req.seed !== undefined) body.seed = req.seed
    const { request, api, download: downloadDispatcher } = await connect()
    const res = await request(endpoint, {
      method: 'POST',
      dispatcher: api.compose(trackSent(progress)),
      headers: { authorization, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal,
    })

    let text: string
    try {
      text = await readBodyCapped(res.body, maxAnswerBytes)
    } catch (err) {
      if (FluxError.is(err) || res.statusCode === 200 || signal.aborted) throw err
      text = ''
    }
    if (res.statusCode < 200 || res.statusCode >= 300) failFromStatus(res.statusCode, res.headers, text)

    let json: { created?: unknown; data?: unknown }
    try {
      json = JSON.parse(text) as typeof json
      if (typeof json !== 'object' || json === null || !Array.isArray(json.data))
        throw new Error('no `data` array')
    } catch (err) {
      const detail = `the gateway answered ${res.statusCode} with a malformed body (${(err as Error).message}): ${snippet(redact(text))}`
      throw new AttemptFailure('lost', `${where}: malformed ${res.statusCode} answer`, {
        final: fluxError('FLUX_BAD_IMAGE', { detail }),
      })
    }
    const item = json.data[0] as { b64_json?: unknown; url?: unknown; revised_prompt?: unknown } | undefined
    if (item === undefined) {
      throw fluxError('FLUX_MODERATED', {
        detail:
          'the gateway answered 200 with no image (empty `data`), which is how it reports a refused prompt',
      })
    }

    let bytes: Buffer
    if (typeof item.b64_json === 'string' && item.b64_json !== '') {
      bytes = Buffer.from(item.b64_json, 'base64')
    } else if (typeof item.url === 'string' && item.url !== '') {
      progress.downloading = true
      bytes = await download(item.url, {
        dispatcher: downloadDispatcher,
        apiOrigin: endpoint.origin,
        authorization,
        maxBytes: o.maxDownloadBytes,
        allowPrivate: o.allowPrivateDownloads,
        signal,
      })
    } else {
      throw fluxError('FLUX_BAD_IMAGE', { detail: 'the answer holds neither `b64_json` nor `url`' })
    }
    if (bytes.length > o.maxDownloadBytes) {
      throw fluxError('FLUX_DOWNLOAD', {
        detail: `the image is larger than the ${o.maxDownloadBytes}-byte cap (maxDownloadBytes)`,
      })
    }
    // The image is received and paid for: an odd field of the answer must not lose it.
    const created = answerTime(json.created, options.logger)
    return {
      bytes,
      created,
      // The cache stores it in committed metadata: the key must not travel with it.
      ...(typeof item.revised_prompt === 'string' && { revisedPrompt: redact(item.revised_prompt) }),
    }
  }

  /** The received answer, decoded by sharp: an undecodable image is fatal (retrying would pay again). */
  async function toImage(answer: Answer): Promise<GeneratedImage> {
    const image = await decodeAnswerImage(answer.bytes)
    return { ...answer, format: image.format, width: image.width, height: image.height }
  }

  function failFromStatus(status: number, headers: Dispatcher.ResponseData['headers'], text: string): never {
    const err = parseErrorBody(text, redact)
    const reason = statusText(status) ?? 'Unknown'
    const message = err.message || `${status} ${reason}`
    const detail = err.param ? `${message} (param: ${err.param})` : message
    const cause = new GatewayHttpError(`${where}: ${status} ${reason}`, status, err)
    const tag = `${err.code ?? ''} ${err.type ?? ''}`
    if (status === 401 || status === 403) throw fluxError('FLUX_AUTH', { status, detail }, { cause })
    if (status === 402 || (status === 429 && isQuota(tag, message)))
      throw fluxError('FLUX_QUOTA', { status, detail }, { cause })
    if (status === 400 && (MODERATION_CODES.has(err.code ?? '') || MODERATION_CODES.has(err.type ?? ''))) {
      throw fluxError('FLUX_MODERATED', { detail }, { cause })
    }
    if (RETRYABLE_STATUSES.has(status) || status >= 500) {
      throw new AttemptFailure('transient', `${where}: ${status} ${statusText}: ${message}`, {
        retryAfterMs: parseRetryAfterFrom(headers),
        cause,
      })
    }
    const hint =
      status >= 300 && status < 400
        ? 'The gateway redirected the API call: check FLUX_BASE_URL (scheme, host, path).'
        : status === 404
          ? 'Check FLUX_BASE_URL: the gateway has no images endpoint there, or does not know the model.'
          : undefined
    throw fluxError(
      'FLUX_BAD_REQUEST',
      { status, detail: `${where}: ${detail}` },
      hint ? { cause, hint } : { cause },
    )
  }

  return {
    name: 'openai-images',
    placeholder: false,
    // The OpenAI Images protocol has no reference images.
    maxReferences: 0,
    async generate(req, ctx = {}) {
      try {
        const answer = await retry((_n) => attempt(req, ctx), retryOptions(o, ctx, redact))
        // The network part is over: the decode check below needs no request slot.
        ctx.onReceived?.()
        return await toImage(answer)
      } catch (err) {
        throw sanitizeError(err, redact)
      }
    },
    close,
  }
}

/** How far ahead of this machine's clock an answer's `created` may be: clocks drift, not by a day. */
const MAX_CLOCK_AHEAD_S = 86_400

/**
 * The answer's `created` (Unix seconds) when it is a time up to now (give or take a drifting
 * clock), else now. An unusable value is warned about, never fatal: the image is already paid for.
 */
export function answerTime(created: unknown, logger?: Logger, nowMs = Date.now()): number {
  const now = Math.floor(nowMs / 1000)
  if (created === undefined || created === null) return now
  if (
    typeof created === 'number' &&
    Number.isFinite(created) &&
    created > 0 &&
    created <= now + MAX_CLOCK_AHEAD_S
  )
    return Math.floor(created)
  const shown =
    typeof created === 'string' ? JSON.stringify(created.slice(0, 40)) : String(created).slice(0, 40)
  logger?.warn(
    `[flux] The gateway's answer has \`created: ${shown}\`, which is not a time up to now; ` +
      'the image is kept and dated now.',
  )
  return now
}

/** `https://host`, `https://host/`, `https://host/v1`, `https://host/v1/` -> `https://host/v1/images/generations`. */
export function imagesEndpoint(baseURL: string): URL {
  const url = new URL(baseURL)
  const path = url.pathname.replace(/\/+$/, '')
  url.pathname = `${/\/v1$/.test(path) ? path : `${path}/v1`}/images/generations`
  url.search = ''
  url.hash = ''
  return url
}

/** An HTTP answer the gateway refused with, kept as the `cause` of the FluxError (redacted). */
export class GatewayHttpError extends Error {
  override readonly name = 'GatewayHttpError'
  constructor(
    message: string,
    readonly status: number,
    readonly body: GatewayErrorBody,
  ) {
    super(message)
  }
}

interface GatewayErrorBody {
  message: string
  type?: string | undefined
  code?: string | undefined
  param?: string | undefined
}

function parseErrorBody(text: string, redact: (t: string) => string): GatewayErrorBody {
  const str = (v: unknown) =>
    typeof v === 'string' && v !== '' ? redact(v) : typeof v === 'number' ? String(v) : undefined
  try {
    const json = JSON.parse(text) as { error?: unknown; message?: unknown }
    const e = json.error
    if (typeof e === 'object' && e !== null) {
      const r = e as Record<string, unknown>
      return { message: str(r.message) ?? '', type: str(r.type), code: str(r.code), param: str(r.param) }
    }
    const message = str(e) ?? str(json.message)
    if (message !== undefined) return { message }
  } catch {
    // Not JSON: a proxy's HTML page or plain text.
  }
  return { message: snippet(redact(text)) }
}

function isQuota(tag: string, message: string): boolean {
  if (QUOTA_TAG.test(tag)) return true
  if (RATE_LIMIT_TAG.test(tag)) return false
  return QUOTA_MESSAGE.test(message)
}

function parseRetryAfterFrom(headers: Dispatcher.ResponseData['headers']): number | undefined {
  return parseRetryAfter(headers as Record<string, string | string[] | undefined>)
}

/** Marks `progress.sent` once undici has written the whole request: from then on, the gateway may be working. */
function trackSent(progress: { sent: boolean }): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) =>
    dispatch(opts, {
      onRequestStart: (controller, context) => handler.onRequestStart?.(controller, context),
      onRequestUpgrade: (controller, status, headers, socket) =>
        handler.onRequestUpgrade?.(controller, status, headers, socket),
      onResponseStarted: () => handler.onResponseStarted?.(),
      onResponseStart: (controller, status, headers, statusMessage) =>
        handler.onResponseStart?.(controller, status, headers, statusMessage),
      onResponseData: (controller, chunk) => handler.onResponseData?.(controller, chunk),
      onResponseEnd: (controller, trailers) => handler.onResponseEnd?.(controller, trailers),
      onResponseError: (controller, error) => handler.onResponseError?.(controller, error),
      onBodySent: (chunk) => handler.onBodySent?.(chunk),
      onRequestSent: () => {
        progress.sent = true
        handler.onRequestSent?.()
      },
    })
}

async function readBodyCapped(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<string> {
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of body) {
    total += (chunk as Buffer).length
    if (total > maxBytes) {
      body.destroy()
      throw fluxError('FLUX_DOWNLOAD', {
        detail: `the gateway's answer is larger than ${maxBytes} bytes (see maxDownloadBytes)`,
      })
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks, total).toString('utf8')
}

/** True for undici's and AbortSignal.timeout's timeouts. */
export function isTimeout(err: unknown): boolean {
  const e = err as { name?: string; code?: string }
  return (
    e?.name === 'TimeoutError' || e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT'
  )
}

/** `CODE: message` of a network error, for a one-line reason. */
export function describeNetworkError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException }
  const code = e?.code ?? e?.cause?.code ?? e?.name ?? 'error'
  return `${code}: ${e?.message ?? String(err)}`
}

/** An answer's text on one line, cut at 300 characters, for a message. */
export function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  if (flat === '') return '(empty body)'
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat
}

/** The last line of defence: no error leaves the provider with the key in its text or cause. */
function sanitizeError(err: unknown, redact: (t: string) => string): unknown {
  if (!(err instanceof Error)) return err
  const causeText = err.cause === undefined ? '' : inspect(err.cause, { depth: 6 })
  const causeLeaks = redact(causeText) !== causeText
  const cause = causeLeaks ? new Error(redact(causeText)) : err.cause
  if (FluxError.is(err)) {
    if (!causeLeaks && redact(err.detail) === err.detail) return err
    return new FluxError(err.code, redact(err.detail), { hint: err.hint, location: err.location, cause })
  }
  if (!causeLeaks && redact(err.message) === err.message) return err
  return new Error(redact(err.message), { cause })
}
