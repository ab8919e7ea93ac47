import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { XMLParser } from 'fast-xml-parser'
import type { Agent, Dispatcher } from 'undici'
import { FluxError, fluxError } from '../errors.js'
import { printable, quote, redact } from '../redact.js'
import { backoffDelay, statusText } from '../retry.js'
import type { RemoteConfig } from './remote-config.js'

export interface S3ClientOptions {
  /**
   * The bound on one attempt of one request, connection and body included: a remote that
   * accepts and never answers fails the attempt after this long.
   * @default 5000
   */
  timeoutMs?: number
  /**
   * Attempts per request: network errors, timeouts, 408, 429 and 5xx are tried again after a
   * short backoff (up to 400 ms). So a hanging remote fails an operation within
   * `attempts * timeoutMs + 400` ms: 10.4 s by default.
   * @default 2
   */
  attempts?: number
  /** A downloaded object larger than this is refused (cache originals are a few MB). @default 64 MiB */
  maxObjectBytes?: number
  /** An undici dispatcher to use instead of the client's own Agent (tests). Not closed by `close()`. */
  dispatcher?: Dispatcher | undefined
}

export const S3_CLIENT_DEFAULTS = {
  timeoutMs: 5000,
  attempts: 2,
  maxObjectBytes: 64 * 1024 * 1024,
} as const

// A first retry within 200 ms, a second within 400 ms: a remote that is down is left quickly.
const BACKOFF = { baseMs: 200, maxMs: 400 } as const

/** What HEAD (and a listing) tells of an object. Dates are on the server's clock. */
export interface ObjectInfo {
  /** The key under the configured prefix. */
  key: string
  size: number
  /** As the server sent it, quotes included: what `ifMatch` takes. */
  etag: string
  /** Milliseconds since the epoch; whole seconds from HEAD (HTTP dates). */
  lastModified: number
  /** The server's `Date` header of the answer, when it sent one (HEAD only). */
  serverTime?: number | undefined
}

export interface StoredObject extends ObjectInfo {
  body: Buffer
}

export interface PutOptions {
  /** `'*'`: create only; answers `undefined` when the key exists (412). */
  ifNoneMatch?: '*'
  /** Replace only this version; answers `undefined` when the object changed or is gone (412, 404). */
  ifMatch?: string
  contentType?: string
  signal?: AbortSignal | undefined
}

/** The object operations a remote cache needs, over S3's protocol. Keys are relative to the prefix. */
export interface S3Client {
  /** `s3://bucket/prefix`, for messages. */
  readonly location: string
  /**
   * The object, or undefined when it is absent. `maxBytes` caps this read below `maxObjectBytes`:
   * an object over it rejects with ObjectTooLarge, and its body is dropped unread on its length
   * header, or else at the first chunk that passes the cap.
   */
  get(
    key: string,
    opts?: { signal?: AbortSignal | undefined; maxBytes?: number | undefined },
  ): Promise<StoredObject | undefined>
  head(key: string, opts?: { signal?: AbortSignal | undefined }): Promise<ObjectInfo | undefined>
  /** The new ETag, or undefined when a condition failed (the write did not happen). */
  put(key: string, body: Uint8Array | string, opts?: PutOptions): Promise<{ etag: string } | undefined>
  /** False when `ifMatch` did not match (the object was kept). A missing key is deleted already. */
  delete(key: string, opts?: { ifMatch?: string; signal?: AbortSignal | undefined }): Promise<boolean>
  /**
   * Every object whose key starts with `prefix`, in key order, fetched a page at a time
   * (`pageSize` keys at most, 1000 by default: S3's own cap).
   */
  list(
    prefix?: string,
    opts?: { pageSize?: number; signal?: AbortSignal | undefined },
  ): AsyncGenerator<ObjectInfo>
  close(): Promise<void>
}

interface Answer {
  /** `[GET] "url"`, for messages. */
  where: string
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

interface Call {
  method: 'GET' | 'HEAD' | 'PUT' | 'DELETE'
  /** The full object key (prefix included), or undefined for the bucket itself. */
  objectKey?: string
  query?: Record<string, string>
  body?: Buffer
  headers?: Record<string, string>
  signal?: AbortSignal | undefined
  /** The caller's own cap: ObjectTooLarge reaches it as is, for it to judge the object. */
  capped?: boolean
}

const RETRYABLE = (status: number) => status === 408 || status === 429 || status >= 500
/** Set with the first request: `xml` is read only once an answer came back. */
let xml: XMLParser | undefined
// The HTTP client, the signer and the XML parser load with the first request: a process that
// never talks to a bucket loads none of them.
const libraries = () =>
  Promise.all([import('undici'), import('aws4fetch'), import('fast-xml-parser')]).then(
    ([undici, { AwsV4Signer }, { XMLParser }]) => {
      xml ??= new XMLParser({ parseTagValue: false, isArray: (name) => name === 'Contents' })
      return { ...undici, AwsV4Signer }
    },
  )

/** A client for one bucket and prefix. Signs with SigV4 (aws4fetch), sends with undici. */
export function createS3Client(config: RemoteConfig, options: S3ClientOptions = {}): S3Client {
  const o = {
    timeoutMs: options.timeoutMs ?? S3_CLIENT_DEFAULTS.timeoutMs,
    attempts: Math.max(1, options.attempts ?? S3_CLIENT_DEFAULTS.attempts),
    maxObjectBytes: options.maxObjectBytes ?? S3_CLIENT_DEFAULTS.maxObjectBytes,
  }
  const secrets = [config.credentials?.secretAccessKey, config.credentials?.sessionToken].filter(
    (s): s is string => s !== undefined,
  )
  // Every text that reaches an error: without the secret key or the session token, as plain text.
  const scrub = (text: string) => secrets.reduce((t, s) => redact(t, s), text)
  const clean = (text: string) => printable(scrub(text))
  const location = `s3://${config.bucket}/${config.prefix}`
  const endpoint = new URL(config.endpoint)
  const endpointPath = endpoint.pathname.replace(/\/+$/, '')

  let agent: Agent | undefined
  let connection:
    | Promise<{
        request: typeof import('undici').request
        dispatcher: Dispatcher
        AwsV4Signer: typeof import('aws4fetch').AwsV4Signer
      }>
    | undefined
  const connect = () =>
    (connection ??= libraries().then(({ Agent, request, AwsV4Signer }) => {
      if (options.dispatcher) return { request, dispatcher: options.dispatcher, AwsV4Signer }
      agent = new Agent({
        connectTimeout: o.timeoutMs,
        headersTimeout: o.timeoutMs,
        bodyTimeout: o.timeoutMs,
      })
      return { request, dispatcher: agent, AwsV4Signer }
    }))

  function urlOf(call: Call): URL {
    const keyPath = call.objectKey === undefined ? '' : `/${encodeKey(call.objectKey)}`
    const url =
      config.addressing === 'virtual'
        ? new URL(`${endpoint.protocol}//${config.bucket}.${endpoint.host}${endpointPath}${keyPath || '/'}`)
        : new URL(`${endpoint.origin}${endpointPath}/${config.bucket}${keyPath}`)
    for (const [k, v] of Object.entries(call.query ?? {})) url.searchParams.set(k, v)
    return url
  }

  async function attempt(
    call: Call,
    url: URL,
    signal: AbortSignal,
    maxBytes: number,
  ): Promise<Omit<Answer, 'where'>> {
    const { request, dispatcher, AwsV4Signer } = await connect()
    const body = call.body ?? Buffer.alloc(0)
    const unsigned: Record<string, string> = {
      'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
      ...call.headers,
    }
    const headers = config.credentials
      ? Object.fromEntries(
          (
            await new AwsV4Signer({
              method: call.method,
              url: url.href,
              headers: unsigned,
              accessKeyId: config.credentials.accessKeyId,
              secretAccessKey: config.credentials.secretAccessKey,
              sessionToken: config.credentials.sessionToken,
              service: 's3',
              region: config.region,
            }).sign()
          ).headers,
        )
      : unsigned
    const res = await request(url, {
      method: call.method,
      headers,
      body: call.body,
      dispatcher,
      signal,
    })
    const length = Number(res.headers['content-length'])
    if (call.method !== 'HEAD' && length > maxBytes) {
      res.body.destroy()
      throw new ObjectTooLarge(length, maxBytes)
    }
    const chunks: Buffer[] = []
    let total = 0
    for await (const chunk of res.body) {
      total += (chunk as Buffer).length
      if (total > maxBytes) {
        res.body.destroy()
        throw new ObjectTooLarge(total, maxBytes)
      }
      chunks.push(chunk as Buffer)
    }
    return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks, total) }
  }

  /** Sends `call`, trying again as `attempts` allows; throws FluxErrors only, free of secrets. */
  async function send(call: Call, maxBytes = 1024 * 1024): Promise<Answer> {
    const url = urlOf(call)
    const where = `[${call.method}] "${clean(url.href)}"`
    for (let n = 1; ; n++) {
      const deadline = AbortSignal.timeout(o.timeoutMs)
      const signal = call.signal ? AbortSignal.any([call.signal, deadline]) : deadline
      try {
        const answer = { where, ...(await attempt(call, url, signal, maxBytes)) }
        if (!RETRYABLE(answer.status) || n >= o.attempts) return located(answer, n)
      } catch (err) {
        if (call.signal?.aborted) throw fluxError('FLUX_INTERRUPTED', {})
        if (err instanceof ObjectTooLarge) {
          if (call.capped) throw err
          throw fluxError('FLUX_REMOTE_REJECTED', { request: where, detail: err.message })
        }
        if (FluxError.is(err)) throw err
        const failure =
          deadline.aborted || isTimeout(err) ? `no answer within ${o.timeoutMs} ms` : describeFailure(err)
        // The cause is left out on purpose: undici's errors may hold the request, headers and all.
        if (n >= o.attempts) {
          throw fluxError('FLUX_REMOTE_UNAVAILABLE', { request: where, attempts: n, detail: clean(failure) })
        }
      }
      await sleep(backoffDelay(n, BACKOFF.baseMs, BACKOFF.maxMs), undefined, { signal: call.signal }).catch(
        () => {
          throw fluxError('FLUX_INTERRUPTED', {})
        },
      )
    }
  }

  /** The answer when it is a success or one the caller reads (404, 409, 412); the FluxError otherwise. */
  function located(answer: Answer, attempts: number): Answer {
    const s = answer.status
    if ((s >= 200 && s < 300) || s === 404 || s === 409 || s === 412) return answer
    throw statusError(answer, attempts, scrub)
  }

  const rejected = (answer: Answer) =>
    fluxError('FLUX_REMOTE_REJECTED', { request: answer.where, detail: describeAnswer(answer, scrub) })

  /** 404 NoSuchBucket is a setting to fix, not an absent object (HEAD has no body to tell them apart). */
  const noBucket = (answer: Answer) => {
    if (answer.status === 404 && errorCode(answer) === 'NoSuchBucket') throw rejected(answer)
  }

  async function head(key: string, opts: { signal?: AbortSignal | undefined } = {}) {
    const answer = await send({ method: 'HEAD', objectKey: config.prefix + key, signal: opts.signal })
    if (answer.status === 404) return undefined
    return info(key, answer)
  }

  return {
    location,
    async get(key, opts = {}) {
      const capped = opts.maxBytes !== undefined && opts.maxBytes < o.maxObjectBytes
      const answer = await send(
        { method: 'GET', objectKey: config.prefix + key, signal: opts.signal, capped },
        capped ? (opts.maxBytes as number) : o.maxObjectBytes,
      )
      noBucket(answer)
      if (answer.status === 404) return undefined
      if (answer.status !== 200) throw rejected(answer)
      return { ...info(key, answer), size: answer.body.length, body: answer.body }
    },
    head,
    async put(key, body, opts = {}) {
      const headers: Record<string, string> = {
        'content-type': opts.contentType ?? 'application/octet-stream',
      }
      if (opts.ifNoneMatch) headers['if-none-match'] = opts.ifNoneMatch
      if (opts.ifMatch) headers['if-match'] = opts.ifMatch
      const answer = await send({
        method: 'PUT',
        objectKey: config.prefix + key,
        body: Buffer.from(body),
        headers,
        signal: opts.signal,
      })
      noBucket(answer)
      const conditional = opts.ifNoneMatch !== undefined || opts.ifMatch !== undefined
      // 409: a concurrent conditional write won (AWS); 404: the object `ifMatch` names is gone.
      if (conditional && (answer.status === 412 || answer.status === 409 || answer.status === 404))
        return undefined
      if (answer.status !== 200) throw rejected(answer)
      return { etag: header(answer, 'etag') ?? '' }
    },
    async delete(key, opts = {}) {
      const answer = await send({
        method: 'DELETE',
        objectKey: config.prefix + key,
        headers: opts.ifMatch ? { 'if-match': opts.ifMatch } : {},
        signal: opts.signal,
      })
      noBucket(answer)
      if (answer.status === 412) return false
      if (answer.status >= 300 && answer.status !== 404) throw rejected(answer)
      return true
    },
    async *list(prefix = '', opts = {}) {
      let token: string | undefined
      do {
        const query: Record<string, string> = { 'list-type': '2', prefix: config.prefix + prefix }
        if (opts.pageSize) query['max-keys'] = String(opts.pageSize)
        if (token) query['continuation-token'] = token
        // A page of 1000 keys is about 350 KB of XML.
        const answer = await send({ method: 'GET', query, signal: opts.signal }, 16 * 1024 * 1024)
        if (answer.status !== 200) throw rejected(answer)
        const page = xml?.parse(answer.body.toString('utf8'))?.ListBucketResult ?? {}
        for (const item of (page.Contents ?? []) as Array<Record<string, string>>) {
          yield {
            key: String(item.Key).slice(config.prefix.length),
            size: Number(item.Size),
            etag: String(item.ETag),
            lastModified: Date.parse(String(item.LastModified)),
          }
        }
        token = page.IsTruncated === 'true' ? page.NextContinuationToken : undefined
      } while (token)
    },
    async close() {
      await agent?.close()
    },
  }
}

function info(key: string, answer: Answer): ObjectInfo {
  const date = header(answer, 'date')
  return {
    key,
    size: Number(header(answer, 'content-length') ?? 0),
    etag: header(answer, 'etag') ?? '',
    lastModified: Date.parse(header(answer, 'last-modified') ?? ''),
    serverTime: date ? Date.parse(date) : undefined,
  }
}

function header(answer: Answer, name: string): string | undefined {
  const value = answer.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** The error for a refusal: the credentials (401, 403), the remote's health (408, 429, 5xx), else the request. */
function statusError(answer: Answer, attempts: number, scrub: (t: string) => string): FluxError {
  const { where } = answer
  const detail = describeAnswer(answer, scrub)
  if (answer.status === 401 || answer.status === 403)
    return fluxError('FLUX_REMOTE_DENIED', { request: where, detail })
  if (RETRYABLE(answer.status))
    return fluxError('FLUX_REMOTE_UNAVAILABLE', { request: where, attempts, detail })
  return fluxError('FLUX_REMOTE_REJECTED', { request: where, detail })
}

/** The `<Code>` and `<Message>` of S3's `<Error>` body, when it is one. */
function errorBody(answer: Answer): { code?: string; message?: string } {
  try {
    const error = xml?.parse(answer.body.toString('utf8'))?.Error
    return {
      ...(error?.Code === undefined ? {} : { code: String(error.Code) }),
      ...(error?.Message === undefined ? {} : { message: String(error.Message) }),
    }
  } catch {
    return {} // Not XML: the status says enough.
  }
}

function errorCode(answer: Answer): string | undefined {
  return errorBody(answer).code
}

/**
 * `503 Service Unavailable ("SlowDown: Please reduce your request rate.")`, from S3's `<Error>`
 * body: the server's words quoted and escaped (`quote`), so they cannot forge a log line.
 */
function describeAnswer(answer: Answer, scrub: (t: string) => string): string {
  const status = `${answer.status} ${statusText(answer.status) ?? ''}`.trim()
  const { code, message } = errorBody(answer)
  if (code === undefined) return status
  // Redacted before it is cut: a cut through a secret would leave a piece of it behind.
  return `${status} (${quote(scrub(message ? `${code}: ${message}` : code))})`
}

/** An object over the cap of a read: `size` is its length header, or the bytes read when the cap was passed. */
export class ObjectTooLarge extends Error {
  override readonly name = 'ObjectTooLarge'
  constructor(
    readonly size: number,
    readonly max: number,
  ) {
    super(`the object is larger than ${max} bytes (${size} bytes so far); see maxObjectBytes`)
  }
}

function isTimeout(err: unknown): boolean {
  const e = err as { name?: string; code?: string }
  return e?.name === 'TimeoutError' || /^UND_ERR_(HEADERS|BODY|CONNECT)_TIMEOUT$/.test(e?.code ?? '')
}

const NETWORK_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  UND_ERR_SOCKET: 'connection closed',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
}

/** `connection refused (ECONNREFUSED)`: the failure in words, with its code. */
function describeFailure(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string } }
  const code = e?.code ?? e?.cause?.code
  const words = code ? NETWORK_WORDS[code] : undefined
  return words ? `${words} (${code})` : `${code ? `${code}: ` : ''}${e?.message ?? String(err)}`
}

/** S3 object keys in a URL path: each segment percent-encoded, the slashes kept. */
function encodeKey(key: string): string {
  return key
    .split('/')
    .map((part) =>
      encodeURIComponent(part).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    )
    .join('/')
}
