import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { createImageMaker } from '../mock-gateway/images.js'

/**
 * A mock of Black Forest Labs' API over real HTTP on loopback: `POST /v1/<model>` answers
 * `{ id, polling_url, cost }`, `GET /v1/get_result?id=` answers `Pending` then `Ready` with a
 * signed image URL that expires. Fields are checked strictly (422 on unknown ones), as BFL does.
 *
 * Two servers: the API, and a sibling that serves images and, with `siblingPolls`, the polling
 * URLs (as `api.us1.bfl.ai` does for `api.bfl.ai`).
 */

/** The mock's own model table (not core's: a mock that shares the code under test proves nothing). */
const MODELS: Record<
  string,
  {
    sizing: 'pixels' | 'aspect'
    step: number
    refs: number
    pup: boolean
    credits: (w: number, h: number, inputs: number) => number
  }
> = {
  'flux-2-pro': { sizing: 'pixels', step: 16, refs: 8, pup: true, credits: mp(3, 1.5) },
  'flux-2-max': { sizing: 'pixels', step: 16, refs: 8, pup: true, credits: mp(7, 3) },
  'flux-2-flex': { sizing: 'pixels', step: 16, refs: 8, pup: false, credits: mp(5, 5) },
  'flux-2-klein-4b': { sizing: 'pixels', step: 16, refs: 4, pup: false, credits: mp(1.4, 0.1) },
  'flux-2-klein-9b': { sizing: 'pixels', step: 16, refs: 4, pup: false, credits: mp(1.5, 0.2) },
  'flux-pro-1.1': { sizing: 'pixels', step: 32, refs: 0, pup: false, credits: () => 4 },
  'flux-pro-1.1-ultra': { sizing: 'aspect', step: 0, refs: 0, pup: false, credits: () => 6 },
  'flux-pro': { sizing: 'pixels', step: 32, refs: 0, pup: false, credits: () => 5 },
  'flux-dev': { sizing: 'pixels', step: 32, refs: 0, pup: false, credits: () => 2.5 },
  'flux-kontext-pro': { sizing: 'aspect', step: 0, refs: 4, pup: false, credits: () => 4 },
  'flux-kontext-max': { sizing: 'aspect', step: 0, refs: 4, pup: false, credits: () => 8 },
}

/** Per megapixel: the first, then each further one (rounded up) and each input image's. */
function mp(first: number, further: number) {
  return (w: number, h: number, inputs: number) => {
    const extra = Math.max(0, Math.ceil((w * h) / 1_000_000) - 1)
    return Math.round((first + further * (extra + inputs)) * 100) / 100
  }
}

/** A misbehaviour for one submit (`at: 'submit'`) or for the job's polls (`at: 'poll'`). */
export type BflFault =
  | { at: 'submit'; type: 'payment' | 'auth' | 'moderated' | 'server-error' }
  | { at: 'submit'; type: 'rate-limit'; retryAfter: string }
  | { at: 'poll'; type: 'moderated' | 'error' | 'gone' | 'unknown-status' }
  /** The first `Ready` answer carries a URL that has already expired; later polls mint fresh ones. */
  | { at: 'poll'; type: 'expired-url' }
  /** Every `Ready` answer carries an expired URL. */
  | { at: 'poll'; type: 'always-expired-url' }
  /** The polling URL names another host (`127.0.0.2`). */
  | { at: 'submit'; type: 'foreign-polling-url' }
  /** The job is created (and charged), then the connection is destroyed before the answer. */
  | { at: 'submit'; type: 'reset-after-accept' }
  /** The first poll answers 503 (or 429 with `Retry-After: 0`), later ones normally. */
  | { at: 'poll'; type: 'server-error-once' | 'rate-limit-once' }

/** What one accepted-or-refused submit carried, recorded as the mock parsed it. */
export interface SubmitRecord {
  model: string
  prompt: string
  fields: Record<string, unknown>
  /** sha256 of each decoded `input_image`, `input_image_2`... in order. */
  inputImages: string[]
  /** Credits charged (0 when refused). */
  cost: number
  /** Whether an `x-key` was present and right. */
  authorized: boolean
}

export interface MockBfl {
  /** `http://127.0.0.1:<port>`: the API's base URL. */
  readonly url: string
  /** The sibling host's base URL (images, and polls with `siblingPolls`). */
  readonly siblingUrl: string
  /** Faults chosen per submit (1-based submit number, prompt). */
  fault: ((submit: { number: number; prompt: string; model: string }) => BflFault | undefined) | undefined
  /** Polls that answer `Pending` before `Ready`. @default 1 */
  pendingPolls: number
  /** Polling URLs on the sibling server. @default false */
  siblingPolls: boolean
  /** Signed image URLs stay valid this long. @default 600_000 */
  urlTtlMs: number
  /** Submits received (any outcome). */
  readonly submits: number
  readonly submitRecords: readonly SubmitRecord[]
  /** Polls received (any outcome), and those that carried no key or a wrong one. */
  readonly polls: number
  readonly pollsWithoutKey: number
  /** Image downloads, and those that carried an `x-key` or `authorization` header. */
  readonly downloads: number
  readonly downloadsWithKey: number
  /** Jobs accepted and not yet answered with a final status; the most at once. */
  readonly inFlight: number
  readonly maxInFlight: number
  /** Credits charged in all. */
  readonly charged: number
  /** Starts `maxInFlight` again from the jobs in flight now (a test measures its own). */
  resetMaxInFlight(): void
  /** Holds every poll from now on until `releasePolls()`. */
  holdPolls(): void
  releasePolls(): void
  /** Resolves once `count` polls are held at once. */
  whenPollsHeld(count: number): Promise<void>
  /** Forgets every job (their polls then answer `Task not found`). */
  forgetJobs(): void
  close(): Promise<void>
}

interface Job {
  id: string
  prompt: string
  width: number
  height: number
  seed: number
  polls: number
  fault: BflFault | undefined
  readies: number
  final: boolean
}

export async function createMockBfl(
  options: { apiKey?: string; pendingPolls?: number; siblingPolls?: boolean; urlTtlMs?: number } = {},
): Promise<MockBfl> {
  const apiKey = options.apiKey ?? 'bfl-test-key'
  const secret = randomBytes(16)
  const maker = createImageMaker()
  const jobs = new Map<string, Job>()
  const sockets = new Set<Socket>()
  const held: Array<() => void> = []
  const heldWatchers = new Set<{ count: number; resolve: () => void }>()
  let holding = false
  const counts = {
    submits: 0,
    polls: 0,
    pollsWithoutKey: 0,
    downloads: 0,
    downloadsWithKey: 0,
    inFlight: 0,
    maxInFlight: 0,
    charged: 0,
  }
  const records: SubmitRecord[] = []

  const listen = async (
    host: string,
    handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  ) => {
    const server = createServer((req, res) => {
      handler(req, res).catch((err: unknown) => {
        if (!res.headersSent) send(res, 500, { detail: `mock failure: ${String(err)}` })
        else res.destroy()
      })
    })
    server.on('connection', (socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, host, resolve)
    })
    return { server, url: `http://${host}:${(server.address() as AddressInfo).port}` }
  }

  const api = await listen('127.0.0.1', async (req, res) => {
    const url = new URL(req.url ?? '/', mock.url)
    if (req.method === 'GET' && url.pathname === '/v1/get_result') return poll(req, res, url)
    if (req.method === 'POST' && url.pathname.startsWith('/v1/'))
      return submit(req, res, url.pathname.slice(4))
    await readBody(req)
    send(res, 404, { detail: 'Not Found' })
  })
  const sibling = await listen('127.0.0.1', async (req, res) => {
    const url = new URL(req.url ?? '/', mock.siblingUrl)
    if (req.method === 'GET' && url.pathname === '/v1/get_result') return poll(req, res, url)
    if (req.method === 'GET' && url.pathname.startsWith('/files/')) return serveFile(req, res, url)
    send(res, 404, { detail: 'Not Found' })
  })

  async function submit(req: IncomingMessage, res: ServerResponse, model: string): Promise<void> {
    counts.submits++
    const number = counts.submits
    const raw = (await readBody(req)).toString('utf8')
    const authorized = req.headers['x-key'] === apiKey
    let body: Record<string, unknown> = {}
    try {
      body = JSON.parse(raw) as Record<string, unknown>
    } catch {
      // Recorded as empty; refused below.
    }
    const record: SubmitRecord = {
      model,
      prompt: String(body.prompt ?? ''),
      fields: {},
      inputImages: [],
      cost: 0,
      authorized,
    }
    records.push(record)
    for (const [name, value] of Object.entries(body)) {
      if (name.startsWith('input_image')) {
        record.inputImages[name === 'input_image' ? 0 : Number(name.slice('input_image_'.length)) - 1] =
          createHash('sha256')
            .update(Buffer.from(String(value), 'base64'))
            .digest('hex')
      } else record.fields[name] = value
    }
    if (!authorized) return send(res, 401, { detail: 'Not authenticated - Invalid Authentication' })
    const spec = MODELS[model]
    if (!spec) return send(res, 404, { detail: 'Not Found' })
    const problems = validate(body, spec)
    if (problems.length > 0) return send(res, 422, { detail: problems })

    const fault = mock.fault?.({ number, prompt: record.prompt, model })
    if (fault?.at === 'submit') {
      switch (fault.type) {
        case 'payment':
          return send(res, 402, {
            detail: 'Insufficient credits. Please add more credits at https://dashboard.bfl.ai',
          })
        case 'auth':
          return send(res, 403, { detail: 'Forbidden' })
        case 'moderated':
          return send(res, 400, { detail: 'Request Moderated: the prompt was flagged by the content filter' })
        case 'server-error':
          return send(res, 500, { detail: 'Internal Server Error' })
        case 'rate-limit':
          return send(res, 429, { detail: 'Too many active tasks' }, { 'retry-after': fault.retryAfter })
      }
    }
    const width = typeof body.width === 'number' ? body.width : 64
    const height =
      typeof body.height === 'number' ? body.height : aspectHeight(String(body.aspect_ratio ?? '1:1'))
    const cost = spec.credits(width, height, record.inputImages.length)
    record.cost = cost
    counts.charged = Math.round((counts.charged + cost) * 100) / 100
    const id = randomUUID()
    jobs.set(id, {
      id,
      prompt: record.prompt,
      width,
      height,
      seed: typeof body.seed === 'number' ? body.seed : Number.parseInt(id.slice(0, 6), 16),
      polls: 0,
      fault: fault?.at === 'poll' ? fault : undefined,
      readies: 0,
      final: false,
    })
    counts.inFlight++
    counts.maxInFlight = Math.max(counts.maxInFlight, counts.inFlight)
    const pollBase =
      fault?.type === 'foreign-polling-url'
        ? mock.url.replace('127.0.0.1', '127.0.0.2')
        : mock.siblingPolls
          ? mock.siblingUrl
          : mock.url
    if (fault?.type === 'reset-after-accept') {
      req.socket.destroy()
      return
    }
    send(res, 200, { id, polling_url: `${pollBase}/v1/get_result?id=${id}`, cost })
  }

  async function poll(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    counts.polls++
    if (req.headers['x-key'] !== apiKey) {
      counts.pollsWithoutKey++
      return send(res, 401, { detail: 'Not authenticated - Invalid Authentication' })
    }
    if (holding) {
      await new Promise<void>((resolve) => {
        held.push(resolve)
        for (const watcher of heldWatchers) {
          if (held.length < watcher.count) continue
          heldWatchers.delete(watcher)
          watcher.resolve()
        }
      })
    }
    const id = url.searchParams.get('id') ?? ''
    const job = jobs.get(id)
    if (!job) return send(res, 404, { id, status: 'Task not found', result: null })
    job.polls++
    const fault = job.fault
    if (job.polls === 1 && fault?.type === 'server-error-once') {
      job.polls--
      job.fault = undefined
      return send(res, 503, { detail: 'Service Unavailable' })
    }
    if (job.polls === 1 && fault?.type === 'rate-limit-once') {
      job.polls--
      job.fault = undefined
      return send(res, 429, { detail: 'Too many requests' }, { 'retry-after': '0' })
    }
    if (job.polls <= mock.pendingPolls)
      return send(res, 200, { id, status: 'Pending', result: null, progress: 0.5 })
    const finish = () => {
      if (job.final) return
      job.final = true
      counts.inFlight--
    }
    if (fault?.type === 'moderated') {
      finish()
      return send(res, 200, {
        id,
        status: 'Content Moderated',
        result: null,
        details: { 'Moderation Reasons': ['Derivative Works Filter'] },
      })
    }
    if (fault?.type === 'error') {
      finish()
      return send(res, 200, { id, status: 'Error', result: null, details: { error: 'generation failed' } })
    }
    if (fault?.type === 'unknown-status') return send(res, 200, { id, status: 'Queued', result: null })
    if (fault?.type === 'gone') {
      finish()
      jobs.delete(id)
      return send(res, 404, { id, status: 'Task not found', result: null })
    }
    finish()
    job.readies++
    const expired =
      fault?.type === 'always-expired-url' || (fault?.type === 'expired-url' && job.readies === 1)
    const sample = signedUrl(job, expired ? Date.now() - 1_000 : Date.now() + mock.urlTtlMs)
    send(res, 200, {
      id,
      status: 'Ready',
      result: { sample, seed: job.seed, prompt: job.prompt },
      progress: null,
    })
  }

  function signedUrl(job: Job, expires: number): string {
    const path = `/files/${job.id}/sample.png`
    const sig = createHmac('sha256', secret).update(`${path}:${expires}`).digest('hex')
    return `${mock.siblingUrl}${path}?exp=${expires}&sig=${sig}`
  }

  async function serveFile(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    counts.downloads++
    if (req.headers['x-key'] !== undefined || req.headers.authorization !== undefined)
      counts.downloadsWithKey++
    const expires = Number(url.searchParams.get('exp'))
    const sig = createHmac('sha256', secret).update(`${url.pathname}:${expires}`).digest('hex')
    const job = jobs.get(url.pathname.split('/')[2] ?? '')
    if (!job || sig !== url.searchParams.get('sig'))
      return send(res, 403, { detail: 'Signature does not match' })
    if (expires <= Date.now()) {
      res.writeHead(403, { 'content-type': 'application/xml' })
      res.end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>')
      return
    }
    const image = await maker.make({ prompt: job.prompt, size: `${job.width}x${job.height}`, seed: job.seed })
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': image.bytes.length })
    res.end(image.bytes)
  }

  const mock: MockBfl = {
    url: api.url,
    siblingUrl: sibling.url,
    fault: undefined,
    pendingPolls: options.pendingPolls ?? 1,
    siblingPolls: options.siblingPolls ?? false,
    urlTtlMs: options.urlTtlMs ?? 600_000,
    get submits() {
      return counts.submits
    },
    get submitRecords() {
      return records
    },
    get polls() {
      return counts.polls
    },
    get pollsWithoutKey() {
      return counts.pollsWithoutKey
    },
    get downloads() {
      return counts.downloads
    },
    get downloadsWithKey() {
      return counts.downloadsWithKey
    },
    get inFlight() {
      return counts.inFlight
    },
    get maxInFlight() {
      return counts.maxInFlight
    },
    get charged() {
      return counts.charged
    },
    resetMaxInFlight() {
      counts.maxInFlight = counts.inFlight
    },
    holdPolls() {
      holding = true
    },
    releasePolls() {
      holding = false
      for (const go of held.splice(0)) go()
    },
    whenPollsHeld(count) {
      if (held.length >= count) return Promise.resolve()
      return new Promise((resolve) => heldWatchers.add({ count, resolve }))
    },
    forgetJobs() {
      jobs.clear()
    },
    async close() {
      mock.releasePolls()
      const closed = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()))
      const both = Promise.all([closed(api.server), closed(sibling.server)])
      for (const socket of sockets) socket.destroy()
      maker.clear()
      await both
    },
  }
  return mock
}

/** Problems in FastAPI's shape (`{ loc, msg, type }`), as BFL reports them with 422. */
function validate(body: Record<string, unknown>, spec: (typeof MODELS)[string]): unknown[] {
  const allowed = new Set([
    'prompt',
    'seed',
    'safety_tolerance',
    'output_format',
    spec.pup ? 'disable_pup' : 'prompt_upsampling',
  ])
  if (spec.sizing === 'pixels') {
    allowed.add('width')
    allowed.add('height')
  } else allowed.add('aspect_ratio')
  for (let n = 1; n <= spec.refs; n++) allowed.add(n === 1 ? 'input_image' : `input_image_${n}`)
  const problems: unknown[] = []
  const problem = (loc: string, msg: string, type: string) => problems.push({ loc: ['body', loc], msg, type })
  for (const name of Object.keys(body))
    if (!allowed.has(name)) problem(name, 'Extra inputs are not permitted', 'extra_forbidden')
  if (typeof body.prompt !== 'string' || body.prompt === '') problem('prompt', 'Field required', 'missing')
  for (const side of ['width', 'height'] as const) {
    const value = body[side]
    if (value !== undefined && (typeof value !== 'number' || value % spec.step !== 0)) {
      problem(side, `Input should be a multiple of ${spec.step}`, 'multiple_of')
    }
  }
  if (body.aspect_ratio !== undefined && !/^\d+:\d+$/.test(String(body.aspect_ratio))) {
    problem('aspect_ratio', 'Invalid aspect ratio', 'value_error')
  }
  const tolerance = body.safety_tolerance
  if (tolerance !== undefined && (typeof tolerance !== 'number' || tolerance < 0 || tolerance > 6)) {
    problem('safety_tolerance', 'Input should be between 0 and 6', 'less_than_equal')
  }
  if (body.output_format !== undefined && !['jpeg', 'png', 'webp'].includes(String(body.output_format))) {
    problem('output_format', "Input should be 'jpeg' or 'png'", 'enum')
  }
  return problems
}

/** A small picture of the given ratio (the real API picks about a megapixel; a test needs no more than 64 px). */
function aspectHeight(ratio: string): number {
  const [w = 1, h = 1] = ratio.split(':').map(Number)
  return Math.max(16, Math.round((64 * h) / w / 16) * 16)
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function send(
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
