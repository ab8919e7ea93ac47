import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Dispatcher } from 'undici'
import {
  BFL_MAX_IN_FLIGHT,
  BFL_MODEL_NAMES,
  BFL_MODELS,
  BFL_SAFETY_TOLERANCE,
  type BflModel,
  bflSizeFields,
} from '../bfl-models.js'
import { FluxError, fluxError } from '../errors.js'
import { GATEWAY_OPTIONS, type GatewayOptions } from '../options.js'
import { printable, redact as redactSecret } from '../redact.js'
import { AttemptFailure, parseRetryAfter, retry, retryOptions, statusText } from '../retry.js'
import { parseOptions } from '../schema.js'
import type { CanonicalRequest, GenerateContext, JobReceipt, Provider } from '../types.js'
import { type BflTicket, createBflPool } from './bfl-pool.js'
import { decodeAnswerImage } from './check-image.js'
import { createConnection } from './connection.js'
import { download } from './download.js'
import { describeNetworkError, isTimeout, snippet } from './openai-images.js'

/** Options of the BFL provider: the gateway's (key, base URL, timeouts, retries, downloads) and its own. */
export type BflProviderOptions = Omit<GatewayOptions, 'responseFormat'> & {
  /** The reference images a request may name, by the sha256 its key holds -> the file to send. */
  references?: ReadonlyMap<string, string>
  /** First wait between polls of a pending job, in ms; it grows by half each time. @default 500 */
  pollIntervalMs?: number
  /** Longest wait between polls, in ms. @default 5_000 */
  pollMaxMs?: number
  /**
   * Jobs in flight at once, submits and polls together (a polled task counts at BFL); halved on
   * a 429, grown back slowly. @default 24 (BFL's limit per account)
   */
  concurrency?: number
}

/** A finished job's answer: the signed image URL and the seed BFL used. */
interface JobResult {
  sample: string
  seed?: number
}

/** A BFL API host: `api.bfl.ai`, `api.eu.bfl.ai`, `api.us1.bfl.ai`... (polling URLs live on siblings). */
const BFL_HOST = /^api(?:\.[a-z0-9-]+)*\.bfl\.ai$/
const MODERATED = new Set(['Request Moderated', 'Content Moderated'])

/**
 * Black Forest Labs' own API (`provider: 'bfl'`): a submit (`POST /v1/<model>`, key in `x-key`)
 * returns a job; its `polling_url` is polled until a final status; the image behind
 * `result.sample` is fetched through the guarded download, without the key.
 *
 * Retries: 429 always (after `Retry-After`); a submit only when its connection never opened (a
 * submit that reached BFL may be billed); polls freely. The receipt of an accepted submit is
 * handed to `ctx.onSubmitted` before the first poll, and `ctx.receipt` resumes one: polled, never
 * submitted again.
 */
export function createBflProvider(options: BflProviderOptions): Provider {
  const {
    references = new Map(),
    pollIntervalMs = 500,
    pollMaxMs = 5_000,
    concurrency = BFL_MAX_IN_FLIGHT,
    ...gateway
  } = options
  const o = parseOptions(GATEWAY_OPTIONS, gateway)
  const pool = createBflPool(concurrency, (from, to) =>
    o.logger?.info(
      `[flux] BFL answered 429 Too Many Requests: at most ${to} jobs in flight now (was ${from}), growing back by one as each ${to} finish without one.`,
    ),
  )
  const base = new URL(o.baseURL)
  const apiRoot = `${base.origin}${base.pathname.replace(/\/+$/, '').replace(/\/v1$/, '')}/v1`
  const key = o.apiKey
  const redact = (text: string) => printable(redactSecret(text, key))
  const { connect, close } = createConnection({
    timeoutMs: o.timeoutMs,
    dispatcher: o.dispatcher,
    allowPrivateDownloads: o.allowPrivateDownloads,
  })
  const policy = (ctx: GenerateContext) => retryOptions(o, ctx, redact)

  /** The JSON body of a submit: every field explicit, so what BFL does is what the key says. */
  async function bodyOf(req: CanonicalRequest, model: BflModel): Promise<Record<string, unknown>> {
    const size = bflSizeFields(model, req.size)
    if ('problem' in size)
      throw fluxError('FLUX_SIZE_UNSUPPORTED', { size: printable(req.size), problem: size.problem })
    const body: Record<string, unknown> = { prompt: req.prompt, ...size }
    if (req.seed !== undefined) body.seed = req.seed
    body.safety_tolerance = req.safetyTolerance ?? BFL_SAFETY_TOLERANCE
    body.output_format = 'png'
    // Off either way: a rewritten prompt would make a picture the key does not describe.
    if (model.upsampling === 'disable_pup') body.disable_pup = true
    else body.prompt_upsampling = false
    const hashes = req.references ?? []
    if (hashes.length > model.maxReferences) {
      throw fluxError('FLUX_REFERENCES_UNSUPPORTED', {
        provider: `bfl (${model.name})`,
        count: hashes.length,
        max: model.maxReferences,
      })
    }
    for (const [index, sha256] of hashes.entries()) {
      body[index === 0 ? 'input_image' : `input_image_${index + 1}`] = await referenceBase64(sha256)
    }
    return body
  }

  async function referenceBase64(sha256: string): Promise<string> {
    const file = references.get(sha256)
    if (file === undefined) {
      throw fluxError('FLUX_READ_FAILED', {
        reason: `no reference image with sha256 ${sha256.slice(0, 12)}… is known (a preset's \`references\` or a directive's \`ref\`)`,
      })
    }
    const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
      throw fluxError('FLUX_READ_FAILED', {
        reason: `the reference image ${file}: ${err.code ?? err.message}`,
      })
    })
    // The key holds the bytes read at start-up: different bytes now would be another request.
    if (createHash('sha256').update(bytes).digest('hex') !== sha256) {
      throw fluxError('FLUX_READ_FAILED', {
        reason: `the reference image ${file} changed while the build ran; nothing was sent for it`,
      })
    }
    return bytes.toString('base64')
  }

  /** One submit attempt: the receipt, or a failure `retry` may repeat only when nothing reached BFL. */
  async function submitOnce(model: BflModel, body: string, signal: AbortSignal): Promise<JobReceipt> {
    const url = `${apiRoot}/${model.name}`
    const where = `[POST] "${url}"`
    const { request, api } = await connect()
    const progress = { opened: false }
    let res: Dispatcher.ResponseData
    try {
      res = await request(url, {
        method: 'POST',
        dispatcher: api.compose(trackOpened(progress)),
        headers: { 'x-key': key, 'content-type': 'application/json', accept: 'application/json' },
        body,
        signal,
      })
    } catch (err) {
      if (signal.aborted && !isTimeout(err)) throw err
      const what = redact(describeNetworkError(err))
      if (!progress.opened) throw new AttemptFailure('transient', `${where}: ${what}`, { cause: err })
      // It may have been accepted and billed: never sent twice.
      throw fluxError('FLUX_TRANSIENT', {
        attempts: 1,
        detail: `${where}: ${what} after the connection opened; not retried, as BFL may have accepted (and billed) it`,
      })
    }
    const text = await res.body.text().catch(() => '')
    if (res.statusCode !== 200) failFromStatus('submit', where, res.statusCode, res.headers, text)
    const json = parseJson(text) as { id?: unknown; polling_url?: unknown; cost?: unknown } | undefined
    if (typeof json?.id !== 'string' || typeof json.polling_url !== 'string') {
      throw fluxError('FLUX_BAD_REQUEST', {
        status: res.statusCode,
        detail: `${where}: the answer has no \`id\` and \`polling_url\`: ${snippet(redact(text))}`,
      })
    }
    const pollingUrl = checkPollingUrl(json.polling_url)
    return {
      id: redact(json.id).slice(0, 200),
      pollingUrl: pollingUrl.href,
      host: pollingUrl.host,
      model: model.name,
      ...(typeof json.cost === 'number' &&
        Number.isFinite(json.cost) &&
        json.cost >= 0 && { credits: json.cost }),
      submitted: new Date().toISOString(),
    }
  }

  /** https (or baseURL's own scheme), on a BFL host or baseURL's host: the key goes nowhere else. */
  function checkPollingUrl(given: string): URL {
    let url: URL
    try {
      url = new URL(given)
    } catch {
      throw fluxError('FLUX_POLL_URL', { url: snippet(redact(given)), reason: 'it is not a URL' })
    }
    const shown = `${url.protocol}//${url.host}${url.pathname}`
    if (url.username || url.password) {
      throw fluxError('FLUX_POLL_URL', { url: shown, reason: 'it carries credentials' })
    }
    // It is stored in the job's receipt: the key must not be in it.
    if (redact(given) !== given) {
      throw fluxError('FLUX_POLL_URL', { url: redact(shown), reason: 'it holds the API key' })
    }
    if (url.protocol !== 'https:' && !(url.protocol === base.protocol && url.protocol === 'http:')) {
      throw fluxError('FLUX_POLL_URL', { url: shown, reason: 'it is not https' })
    }
    if (!BFL_HOST.test(url.hostname) && url.hostname !== base.hostname) {
      throw fluxError('FLUX_POLL_URL', { url: shown, reason: `${url.hostname} is not a BFL host` })
    }
    return url
  }

  /** One poll: the job's status and result, or a failure `retry` repeats (polls are free). */
  async function pollOnce(
    receipt: JobReceipt,
    signal: AbortSignal,
  ): Promise<{ status: string; result?: JobResult; details: string }> {
    const url = checkPollingUrl(receipt.pollingUrl)
    const where = `[GET] "${url.protocol}//${url.host}${url.pathname}"`
    const { request, api } = await connect()
    let res: Dispatcher.ResponseData
    let text: string
    try {
      res = await request(url, {
        method: 'GET',
        dispatcher: api,
        headers: { 'x-key': key, accept: 'application/json' },
        signal,
      })
      text = await res.body.text()
    } catch (err) {
      if (signal.aborted && !isTimeout(err)) throw err
      throw new AttemptFailure('transient', `${where}: ${redact(describeNetworkError(err))}`, { cause: err })
    }
    const json = parseJson(text) as { status?: unknown; result?: unknown; details?: unknown } | undefined
    // BFL answers a forgotten task with its status, under 200 or 404.
    if (typeof json?.status === 'string' && (res.statusCode === 200 || json.status === 'Task not found')) {
      const r = json.result as { sample?: unknown; seed?: unknown } | null | undefined
      const result =
        typeof r?.sample === 'string'
          ? { sample: r.sample, ...(typeof r.seed === 'number' && { seed: r.seed }) }
          : undefined
      const details =
        json.details === undefined || json.details === null ? '' : redact(JSON.stringify(json.details))
      return { status: json.status, ...(result && { result }), details: snippet(details) }
    }
    if (res.statusCode === 200) {
      throw new AttemptFailure(
        'transient',
        `${where}: a 200 answer without a status: ${snippet(redact(text))}`,
      )
    }
    failFromStatus('poll', where, res.statusCode, res.headers, text)
  }

  /** Polls until the job is final: its result, or the FluxError its status means. */
  async function awaitResult(
    receipt: JobReceipt,
    ctx: GenerateContext,
    signal: AbortSignal,
    ticket: BflTicket,
  ): Promise<JobResult> {
    let wait = pollIntervalMs
    for (;;) {
      const { status, result, details } = await retry(
        () => pollOnce(receipt, signal).catch(noteRateLimit(ticket)),
        {
          ...policy(ctx),
          signal,
        },
      )
      if (status === 'Ready') {
        if (result) return result
        throw fluxError('FLUX_BAD_IMAGE', {
          detail: `the job ${receipt.id} is Ready without \`result.sample\``,
        })
      }
      if (status === 'Pending') {
        await sleep(wait, undefined, { signal }).catch((err) => {
          throw ctx.signal?.aborted
            ? fluxError('FLUX_INTERRUPTED', {}, { cause: err })
            : timeoutError(receipt, err)
        })
        wait = Math.min(pollMaxMs, Math.round(wait * 1.5))
        continue
      }
      if (MODERATED.has(status)) {
        throw fluxError('FLUX_MODERATED', {
          detail: `BFL answered "${status}"${details ? ` (${details})` : ''}`,
        })
      }
      if (status === 'Task not found') {
        throw fluxError('FLUX_JOB_LOST', {
          id: receipt.id,
          submitted: receipt.submitted,
          credits: receipt.credits === undefined ? 'cost unknown' : `${receipt.credits} credits`,
        })
      }
      const detail =
        status === 'Error'
          ? details || 'no details given'
          : `an unknown status${details ? ` (${details})` : ''}`
      throw fluxError('FLUX_JOB_FAILED', { id: receipt.id, status: printable(status).slice(0, 80), detail })
    }
  }

  function failFromStatus(
    step: 'submit' | 'poll',
    where: string,
    status: number,
    headers: Dispatcher.ResponseData['headers'],
    text: string,
  ): never {
    const message = errorMessage(text, redact) || `${status} ${statusText(status) ?? 'Unknown'}`
    if (status === 401 || status === 403)
      throw fluxError('FLUX_AUTH', { status, detail: `${where}: ${message}` })
    if (status === 402) {
      throw fluxError(
        'FLUX_QUOTA',
        { status, detail: `${where}: ${message}` },
        {
          hint: 'Add credits to your BFL account (1 credit = USD 0.01), then run the build again: finished images are cached.',
        },
      )
    }
    if (status === 429) {
      throw new RateLimited('transient', `${where}: 429 Too Many Requests: ${message}`, {
        retryAfterMs: parseRetryAfter(headers as Record<string, string | string[] | undefined>),
      })
    }
    if (step === 'poll' && (status >= 500 || status === 408)) {
      throw new AttemptFailure('transient', `${where}: ${status}: ${message}`, {
        retryAfterMs: parseRetryAfter(headers as Record<string, string | string[] | undefined>),
      })
    }
    if (step === 'submit' && status >= 500) {
      // BFL answered: the job may exist and be billed, so it is not submitted again.
      throw fluxError('FLUX_TRANSIENT', {
        attempts: 1,
        detail: `${where}: ${status}: ${message}; not retried, as BFL may have accepted it`,
      })
    }
    if (/moderat/i.test(message)) throw fluxError('FLUX_MODERATED', { detail: message })
    throw fluxError(
      'FLUX_BAD_REQUEST',
      { status, detail: `${where}: ${message}` },
      {
        hint: 'Check the directive (model, size, references) against the model table in the README.',
      },
    )
  }

  /** Downloads the result; an expired URL is polled once more for a fresh one, never resubmitted. */
  async function fetchImage(
    receipt: JobReceipt,
    first: JobResult,
    ctx: GenerateContext,
    signal: AbortSignal,
    ticket: BflTicket,
  ) {
    const { download: files } = await connect()
    const get = (url: string) =>
      download(url, {
        dispatcher: files,
        apiOrigin: base.origin,
        // The image host gets no key.
        authorization: undefined,
        maxBytes: o.maxDownloadBytes,
        allowPrivate: o.allowPrivateDownloads,
        signal,
      })
    try {
      return { bytes: await get(first.sample), result: first }
    } catch (err) {
      if (!(err instanceof AttemptFailure)) throw err
      const again = await awaitResult(receipt, ctx, signal, ticket)
      try {
        return { bytes: await get(again.sample), result: again }
      } catch (second) {
        if (second instanceof AttemptFailure)
          throw second.final ?? fluxError('FLUX_DOWNLOAD', { detail: second.message })
        throw second
      }
    }
  }

  return {
    name: 'bfl',
    placeholder: false,
    // The most any model takes; each model's own limit is checked when a directive is resolved.
    maxReferences: Math.max(...[...BFL_MODELS.values()].map((m) => m.maxReferences)),
    async generate(req, ctx = {}) {
      const deadline = AbortSignal.timeout(o.timeoutMs)
      const signal = ctx.signal ? AbortSignal.any([ctx.signal, deadline]) : deadline
      let receipt = ctx.receipt
      let ticket: BflTicket | undefined
      try {
        const model = BFL_MODELS.get(req.model)
        if (!model)
          throw fluxError('FLUX_UNKNOWN_MODEL', { model: printable(req.model), accepted: BFL_MODEL_NAMES })
        if (receipt) ticket = await pool.acquire(model, signal)
        else {
          const body = JSON.stringify(await bodyOf(req, model))
          // Each attempt takes its room in the pool anew: after a 429, a retry waits for the smaller bound.
          receipt = await retry(
            async () => {
              const attempt = await pool.acquire(model, signal)
              try {
                const accepted = await submitOnce(model, body, signal)
                ticket = attempt
                return accepted
              } catch (err) {
                if (err instanceof RateLimited) attempt.rateLimited()
                attempt.release()
                throw err
              }
            },
            { ...policy(ctx), signal },
          )
          await ctx.onSubmitted?.(receipt)
        }
        const held = ticket as BflTicket
        const result = await awaitResult(receipt, ctx, signal, held)
        const { bytes, result: used } = await fetchImage(receipt, result, ctx, signal, held)
        // The task is over at BFL: its room goes to the next job, and counts towards growing the bound back.
        held.release(true)
        ctx.onReceived?.()
        const image = await decodeAnswerImage(bytes)
        return {
          bytes,
          format: image.format,
          width: image.width,
          height: image.height,
          created: Math.floor(Date.now() / 1000),
          ...(used.seed !== undefined && { seed: used.seed }),
          ...(receipt.credits !== undefined && { credits: receipt.credits }),
          jobId: receipt.id,
        }
      } catch (err) {
        if (deadline.aborted && !ctx.signal?.aborted && !FluxError.is(err)) throw timeoutError(receipt, err)
        if (deadline.aborted && FluxError.is(err) && err.code === 'FLUX_INTERRUPTED' && !ctx.signal?.aborted)
          throw timeoutError(receipt, err)
        throw err
      } finally {
        ticket?.release()
      }
    },
    close,
  }

  function timeoutError(receipt: JobReceipt | undefined, cause: unknown): FluxError {
    return fluxError(
      'FLUX_TRANSIENT',
      {
        attempts: 1,
        detail: `no result within ${o.timeoutMs} ms (timeoutMs)${receipt ? `; the job ${receipt.id} is kept and polled by the next run` : ''}`,
      },
      { cause },
    )
  }
}

/** A 429: `retry` waits as for any transient failure, and the pool halves its bound. */
class RateLimited extends AttemptFailure {}

/** Tells the pool of a 429 to a job's poll, then lets `retry` handle it. */
function noteRateLimit(ticket: BflTicket): (err: unknown) => never {
  return (err) => {
    if (err instanceof RateLimited) ticket.rateLimited()
    throw err
  }
}

/** Marks `progress.opened` once undici hands the request to an open connection: from then on BFL may have it. */
function trackOpened(progress: { opened: boolean }): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) =>
    dispatch(opts, {
      ...bind(handler),
      onRequestStart: (controller, context) => {
        progress.opened = true
        handler.onRequestStart?.(controller, context)
      },
    })
}

function bind(handler: Dispatcher.DispatchHandler): Dispatcher.DispatchHandler {
  return {
    onRequestUpgrade: (c, s, h, socket) => handler.onRequestUpgrade?.(c, s, h, socket),
    onResponseStart: (c, s, h, m) => handler.onResponseStart?.(c, s, h, m),
    onResponseData: (c, chunk) => handler.onResponseData?.(c, chunk),
    onResponseEnd: (c, t) => handler.onResponseEnd?.(c, t),
    onResponseError: (c, e) => handler.onResponseError?.(c, e),
    onBodySent: (chunk) => handler.onBodySent?.(chunk),
    onRequestSent: () => handler.onRequestSent?.(),
    onResponseStarted: () => handler.onResponseStarted?.(),
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** BFL's error text: `detail` as a string, or FastAPI's list of `{ loc, msg }`. */
function errorMessage(text: string, redact: (t: string) => string): string {
  const json = parseJson(text) as { detail?: unknown; message?: unknown } | undefined
  const detail = json?.detail ?? json?.message
  if (typeof detail === 'string') return redact(detail)
  if (Array.isArray(detail)) {
    return redact(
      detail
        .map(
          (d: { loc?: unknown; msg?: unknown }) =>
            `${Array.isArray(d?.loc) ? d.loc.join('.') : '?'}: ${typeof d?.msg === 'string' ? d.msg : 'invalid'}`,
        )
        .join('; '),
    )
  }
  return text ? snippet(redact(text)) : ''
}
