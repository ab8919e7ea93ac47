import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { errorBody, type Fault, type FaultContext, type GenerationBody } from './faults.js'
import { corrupt, createImageMaker, type ImageInput, type MockImage, truncate } from './images.js'
import { validateBody } from './validate.js'

export type { Fault, FaultContext, GenerationBody, OpenAIErrorBody } from './faults.js'
export type { ImageInput, MockImage } from './images.js'

export const DEFAULT_MODELS = ['flux-1.1-pro', 'flux-pro', 'flux-dev', 'flux-schnell'] as const
export const DEFAULT_SIZES = ['1024x1024', '1536x1024', '1024x1536', '1344x768', '768x1344'] as const

export interface MockGatewayOptions {
  /** The key the mock accepts as `Authorization: Bearer <key>`. @default 'test-key' */
  apiKey?: string
  /** Accepted models. @default DEFAULT_MODELS */
  models?: readonly string[]
  /** Accepted sizes. @default DEFAULT_SIZES */
  sizes?: readonly string[]
  /** Waited before answering every generation request. @default 0 */
  latencyMs?: number
  /** How long `url` responses stay downloadable. @default 60_000 */
  urlTtlMs?: number
  /** Chooses a misbehaviour per request; `undefined` answers normally. */
  fault?: FaultFunction | undefined
  /**
   * Where the pictures come from, instead of the built-in maker's cheap colour grids (benchmarks
   * serve realistic photos this way). Called for every image of every answer.
   * @default createImageMaker()
   */
  images?: { make(input: ImageInput): Promise<MockImage> } | undefined
  /** The clock that `url` lifetimes are counted on, in milliseconds. @default Date.now */
  now?: () => number
}

export type FaultFunction = (ctx: FaultContext) => Fault | undefined

/** A running mock FLUX gateway. Counters are reset by `reset()`; the key is never stored. */
export interface MockGateway {
  /** `http://127.0.0.1:<port>`, without `/v1`. */
  readonly url: string
  /** Replaceable between tests. */
  fault: FaultFunction | undefined
  latencyMs: number
  urlTtlMs: number
  /** Generation requests received (any outcome, auth failures included). */
  readonly requests: number
  /** Requests per prompt (those that passed auth and carried a prompt). */
  readonly requestsByPrompt: ReadonlyMap<string, number>
  /** What each valid generation request asked for, in order of arrival. */
  readonly bodies: readonly { prompt: string; model: string; size: string; quality?: string }[]
  /** Images generated (the work a real gateway bills) per prompt. */
  readonly generatedByPrompt: ReadonlyMap<string, number>
  /** Total images generated. */
  readonly generated: number
  /** Generation requests being handled now, and the most at once since the last reset. */
  readonly inFlight: number
  readonly maxInFlight: number
  /** `GET /files/...` requests, and how many of them carried an Authorization header. */
  readonly downloads: number
  readonly downloadsWithAuth: number
  /** Downloads held up by a `slow-url` fault that have started (their first half is sent). */
  readonly stalledDownloads: number
  /** `GET /r/...` redirect hops served. */
  readonly redirects: number
  /** Requests refused with 401 for a wrong or missing key. */
  readonly authFailures: number
  /** Generation requests held by `hold()` now, waiting for `release()`. */
  readonly held: number
  /**
   * Held generation requests whose client closed the connection while they were held: aborts the
   * gateway saw (requests dropped by `reset()` are not counted).
   */
  readonly abandoned: number
  /** Resolves once `abandoned` reaches `count`. */
  whenAbandoned(count: number): Promise<void>
  /**
   * Holds every generation request from now on, after it is counted (`requests`, `inFlight`) and
   * before it is answered, until `release()`: while held, no image exists, however slow the
   * machine, so "answered before the gateway" is a fact a test can assert rather than a race.
   */
  hold(): void
  /**
   * Lets `count` held requests go on (the oldest first) and keeps holding the later ones; without
   * `count`, lets every held request go and stops holding.
   */
  release(count?: number): void
  /** Resolves once `count` requests are held at the same time (at once if they already are). */
  whenHeld(count: number): Promise<void>
  /** Zeroes the counters, forgets issued URLs, drops held requests (closing their connections: they never count after the reset), and restores the fault, latency and URL lifetime given at creation. */
  reset(): void
  /** Stops the server, destroying open (even hanging) connections. */
  close(): Promise<void>
}

interface StoredFile {
  bytes: Buffer
  expiresAt: number
  chunked: boolean
  /** Wait between the first half and the rest. */
  stallMs: number
}

/** Starts a mock gateway on 127.0.0.1, on a free port. */
export async function createMockGateway(options: MockGatewayOptions = {}): Promise<MockGateway> {
  const apiKey = options.apiKey ?? 'test-key'
  const models = options.models ?? DEFAULT_MODELS
  const sizes = options.sizes ?? DEFAULT_SIZES
  const clock = options.now ?? Date.now
  const maker = createImageMaker()
  const images = options.images ?? maker
  const files = new Map<string, StoredFile>()
  const redirectTargets = new Map<string, string>()
  const sockets = new Set<Socket>()
  const closing = new AbortController()
  const counts = {
    requests: 0,
    byPrompt: new Map<string, number>(),
    bodies: [] as { prompt: string; model: string; size: string; quality?: string }[],
    generatedByPrompt: new Map<string, number>(),
    generated: 0,
    inFlight: 0,
    maxInFlight: 0,
    downloads: 0,
    downloadsWithAuth: 0,
    stalledDownloads: 0,
    redirects: 0,
    authFailures: 0,
    abandoned: 0,
  }
  const abandonedWatchers = new Set<{ count: number; resolve: () => void }>()
  let base = ''
  let holding = false
  const gate: Array<(go: boolean) => void> = []
  const heldWatchers = new Set<{ count: number; resolve: () => void }>()
  /** Resolves true when released, false when dropped by `reset()`. */
  const held = () =>
    new Promise<boolean>((resolve, reject) => {
      const abort = () => reject(closing.signal.reason)
      closing.signal.addEventListener('abort', abort, { once: true })
      gate.push((go) => {
        closing.signal.removeEventListener('abort', abort)
        resolve(go)
      })
      for (const watcher of heldWatchers) {
        if (gate.length < watcher.count) continue
        heldWatchers.delete(watcher)
        watcher.resolve()
      }
    })
  const release = (count = Number.POSITIVE_INFINITY) => {
    if (count === Number.POSITIVE_INFINITY) holding = false
    for (const go of gate.splice(0, count)) go(true)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (closing.signal.aborted) return
      if (!res.headersSent) sendJson(res, 500, errorBody(`mock failure: ${String(err)}`, 'server_error'))
      else res.destroy()
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', base).pathname
    if (req.method === 'GET' && path.startsWith('/files/'))
      return serveFile(req, res, path.slice('/files/'.length))
    if (req.method === 'GET' && path.startsWith('/r/')) return serveRedirect(res, path.slice('/r/'.length))
    if (req.method !== 'POST' || path !== '/v1/images/generations') {
      await readBody(req)
      return sendJson(res, 404, errorBody(`Invalid URL (${req.method} ${path})`))
    }

    counts.requests++
    const requestNumber = counts.requests
    const raw = await readBody(req)
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      counts.authFailures++
      const message = req.headers.authorization
        ? 'Incorrect API key provided. You can find your API key in your gateway dashboard.'
        : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
      return sendJson(res, 401, errorBody(message, 'invalid_request_error', null, 'invalid_api_key'))
    }

    let json: unknown
    try {
      json = JSON.parse(raw.toString('utf8'))
    } catch {
      return sendJson(
        res,
        400,
        errorBody(
          'We could not parse the JSON body of your request. (HINT: This likely means you aren’t using your HTTP library correctly.)',
        ),
      )
    }
    const prompt = (json as { prompt?: unknown } | null)?.prompt
    let promptCount = 0
    if (typeof prompt === 'string') {
      promptCount = (counts.byPrompt.get(prompt) ?? 0) + 1
      counts.byPrompt.set(prompt, promptCount)
    }
    const checked = validateBody(json, models, sizes)
    if ('error' in checked) return sendJson(res, 400, checked)
    const body = checked.body
    counts.bodies.push({ prompt: body.prompt, model: body.model, size: body.size, quality: body.quality })

    counts.inFlight++
    counts.maxInFlight = Math.max(counts.maxInFlight, counts.inFlight)
    // Over once the answer is written (or the connection is gone): a client can read a large
    // answer and send its next request before this busy loop gets to the response's 'close'.
    let over = false
    const end = () => {
      if (over) return
      over = true
      counts.inFlight--
    }
    res.once('close', end)

    if (holding) {
      let settled = false
      const abandoned = () => {
        if (settled) return
        counts.abandoned++
        for (const watcher of abandonedWatchers) {
          if (counts.abandoned < watcher.count) continue
          abandonedWatchers.delete(watcher)
          watcher.resolve()
        }
      }
      res.once('close', abandoned)
      const go = await held()
      settled = true
      res.off('close', abandoned)
      if (!go) {
        // Dropped by reset(): an earlier test's request, which must not count in the next one.
        req.socket.destroy()
        return
      }
    }
    const fault = gateway.fault?.({ requestNumber, promptCount, body }) ?? {}
    const wait = gateway.latencyMs + (fault.delayMs ?? 0)
    // A real gateway's latency includes making the picture: render it during the wait, not after.
    if (fault.type === undefined) {
      for (let index = 0; index < body.n; index++) {
        images.make({ prompt: body.prompt, size: body.size, seed: body.seed, index }).catch(() => {})
      }
    }
    if (wait > 0) await sleep(wait, undefined, { signal: closing.signal })
    await respond(req, res, body, fault)
    if (res.writableEnded) end()
  }

  async function respond(req: IncomingMessage, res: ServerResponse, body: GenerationBody, fault: Fault) {
    switch (fault.type) {
      case 'rate-limit': {
        const headers: Record<string, string> = {}
        if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds)
        if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter
        if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs)
        return sendJson(
          res,
          429,
          errorBody(
            'Rate limit reached for images per minute. Please try again later.',
            'requests',
            null,
            'rate_limit_exceeded',
          ),
          headers,
        )
      }
      case 'quota':
        return sendJson(
          res,
          429,
          errorBody(
            'You exceeded your current quota, please check your plan and billing details.',
            'insufficient_quota',
            null,
            'insufficient_quota',
          ),
        )
      case 'payment':
        return sendJson(
          res,
          402,
          errorBody(
            'Insufficient credits. Top up your balance to continue.',
            'billing_error',
            null,
            'insufficient_credits',
          ),
        )
      case 'server-error': {
        const headers: Record<string, string> =
          fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) }
        return sendJson(
          res,
          fault.status ?? 500,
          errorBody('The server had an error while processing your request.', 'server_error'),
          headers,
        )
      }
      case 'auth': {
        const status = fault.status ?? 401
        // Read from the request and sent back at once: the mock keeps no copy of any key.
        const echo = fault.echoKey ? ` (received Authorization: ${req.headers.authorization ?? 'none'})` : ''
        const message =
          status === 403 ? `This key may not use this model${echo}` : `Incorrect API key provided${echo}`
        return sendJson(
          res,
          status,
          errorBody(message, 'invalid_request_error', null, status === 403 ? 'forbidden' : 'invalid_api_key'),
        )
      }
      case 'moderation':
        return sendJson(
          res,
          400,
          errorBody(
            'Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed.',
            'image_generation_user_error',
            null,
            fault.code ?? 'content_policy_violation',
          ),
        )
      case 'error':
        return sendJson(
          res,
          fault.status,
          errorBody(
            fault.message ?? `Error ${fault.status}`,
            fault.errorType ?? 'invalid_request_error',
            fault.param ?? null,
            fault.code ?? null,
          ),
          fault.headers,
        )
      case 'empty-data':
        return sendJson(res, 200, { created: now(), data: [] })
      case 'hang':
        return
      case 'reset':
        if (fault.when === 'before-work') {
          req.socket.destroy()
          return
        }
    }

    const data = await generate(body, fault)
    if (fault.type === 'odd-answer') {
      const echo = fault.echoKey ? ` (received Authorization: ${req.headers.authorization ?? 'none'})` : ''
      for (const item of data) item.revised_prompt = `${fault.revisedPrompt ?? item.revised_prompt}${echo}`
    }
    const created = fault.type === 'odd-answer' && 'created' in fault ? fault.created : now()
    const text = JSON.stringify({ created, data })
    if (fault.type === 'reset') {
      if (fault.when === 'after-work') {
        req.socket.destroy()
        return
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
      res.write(text.slice(0, text.length >> 1), () => req.socket.destroy())
      return
    }
    if (fault.type === 'trickle') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
      const size = Math.ceil(text.length / fault.pieces)
      for (let start = 0; start < text.length; start += size) {
        await sleep(fault.everyMs, undefined, { signal: closing.signal })
        if (res.destroyed) return
        res.write(text.slice(start, start + size))
      }
      res.end()
      return
    }
    if (fault.type === 'malformed-json') {
      const garbled = `${text.slice(0, Math.min(text.length, 64))}<html>502 Bad Gateway</html>`
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(garbled) })
      res.end(garbled)
      return
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  }

  async function generate(body: GenerationBody, fault: Fault) {
    const data: Array<{ url?: string; b64_json?: string; revised_prompt: string }> = []
    for (let index = 0; index < body.n; index++) {
      const image = await images.make({ prompt: body.prompt, size: body.size, seed: body.seed, index })
      counts.generated++
      counts.generatedByPrompt.set(body.prompt, (counts.generatedByPrompt.get(body.prompt) ?? 0) + 1)
      let bytes = image.bytes
      if (fault.type === 'corrupt-image') bytes = corrupt(bytes)
      if (fault.type === 'truncated-image') bytes = truncate(bytes)
      const revised_prompt = body.prompt
      if (body.response_format === 'b64_json') {
        data.push({ b64_json: bytes.toString('base64'), revised_prompt })
        continue
      }
      data.push({ url: storeFile(bytes, fault), revised_prompt })
    }
    return data
  }

  function storeFile(bytes: Buffer, fault: Fault): string {
    const id = randomBytes(8).toString('hex')
    const fileUrl = `${base}/files/${id}.png`
    if (fault.type === 'custom-url') return fault.url
    if (fault.type === 'expired-url') return fileUrl
    files.set(id, {
      bytes,
      expiresAt: clock() + gateway.urlTtlMs,
      chunked: fault.type === 'chunked-url',
      stallMs: fault.type === 'slow-url' ? fault.stallMs : 0,
    })
    if (fault.type !== 'redirect-url') return fileUrl
    let target = fault.location ?? fileUrl
    for (let hop = 0; hop < (fault.hops ?? 1); hop++) {
      const token = randomBytes(8).toString('hex')
      redirectTargets.set(token, target)
      target = `${base}/r/${token}`
    }
    return target
  }

  async function serveFile(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    counts.downloads++
    if (req.headers.authorization !== undefined) counts.downloadsWithAuth++
    const file = files.get(name.replace(/\.png$/, ''))
    if (!file || file.expiresAt <= clock()) {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('Not Found: the URL has expired')
      return
    }
    if (file.chunked) {
      res.writeHead(200, { 'content-type': 'image/png' })
      const half = file.bytes.length >> 1
      res.write(file.bytes.subarray(0, half))
      res.end(file.bytes.subarray(half))
      return
    }
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': file.bytes.length })
    if (file.stallMs > 0) {
      counts.stalledDownloads++
      const half = file.bytes.length >> 1
      res.write(file.bytes.subarray(0, half))
      await sleep(file.stallMs, undefined, { signal: closing.signal })
      res.end(file.bytes.subarray(half))
      return
    }
    res.end(file.bytes)
  }

  function serveRedirect(res: ServerResponse, token: string): void {
    counts.redirects++
    const location = redirectTargets.get(token)
    if (location === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('Not Found')
      return
    }
    res.writeHead(302, { location })
    res.end()
  }

  const gateway: MockGateway = {
    url: base,
    fault: options.fault,
    latencyMs: options.latencyMs ?? 0,
    urlTtlMs: options.urlTtlMs ?? 60_000,
    get requests() {
      return counts.requests
    },
    get requestsByPrompt() {
      return counts.byPrompt
    },
    get bodies() {
      return counts.bodies
    },
    get generatedByPrompt() {
      return counts.generatedByPrompt
    },
    get generated() {
      return counts.generated
    },
    get inFlight() {
      return counts.inFlight
    },
    get maxInFlight() {
      return counts.maxInFlight
    },
    get downloads() {
      return counts.downloads
    },
    get downloadsWithAuth() {
      return counts.downloadsWithAuth
    },
    get stalledDownloads() {
      return counts.stalledDownloads
    },
    get redirects() {
      return counts.redirects
    },
    get authFailures() {
      return counts.authFailures
    },
    get held() {
      return gate.length
    },
    get abandoned() {
      return counts.abandoned
    },
    whenAbandoned(count) {
      if (counts.abandoned >= count) return Promise.resolve()
      return new Promise((resolve) => abandonedWatchers.add({ count, resolve }))
    },
    hold() {
      holding = true
    },
    release,
    whenHeld(count) {
      if (gate.length >= count) return Promise.resolve()
      return new Promise((resolve) => heldWatchers.add({ count, resolve }))
    },
    reset() {
      holding = false
      for (const drop of gate.splice(0)) drop(false)
      heldWatchers.clear()
      counts.requests = 0
      counts.byPrompt = new Map()
      counts.bodies = []
      counts.generatedByPrompt = new Map()
      counts.generated = 0
      counts.maxInFlight = counts.inFlight
      counts.downloads = 0
      counts.downloadsWithAuth = 0
      counts.stalledDownloads = 0
      counts.redirects = 0
      counts.authFailures = 0
      counts.abandoned = 0
      abandonedWatchers.clear()
      gateway.fault = options.fault
      gateway.latencyMs = options.latencyMs ?? 0
      gateway.urlTtlMs = options.urlTtlMs ?? 60_000
      files.clear()
      redirectTargets.clear()
    },
    async close() {
      closing.abort()
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const socket of sockets) socket.destroy()
      server.closeAllConnections()
      maker.clear()
      await closed
    },
  }
  return gateway
}

function now(): number {
  return Math.floor(Date.now() / 1000)
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}
