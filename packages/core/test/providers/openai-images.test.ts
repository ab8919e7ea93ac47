import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { inspect } from 'node:util'
import sharp from 'sharp'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMockGateway, DEFAULT_SIZES, type MockGateway } from '../../../../test/mock-gateway/index.js'
import { FluxError } from '../../src/errors.js'
import {
  createOpenAIImagesProvider,
  imagesEndpoint,
  type OpenAIImagesProviderOptions,
} from '../../src/providers/openai-images.js'
import type { CanonicalRequest, GenerateContext, Logger, Provider } from '../../src/types.js'

const KEY = 'sk-fake-0123456789abcdef-secret'
const SMALL = '64x48'

let mock: MockGateway
let providers: Provider[] = []
let logLines: string[] = []
let retries: Array<{ attempt: number; delayMs: number; reason: string }> = []
let promptNumber = 0

const logger: Logger = {
  info: (m) => logLines.push(`info ${m}`),
  warn: (m) => logLines.push(`warn ${m}`),
  error: (m) => logLines.push(`error ${m}`),
  debug: (m) => logLines.push(`debug ${m}`),
}

beforeAll(async () => {
  mock = await createMockGateway({ apiKey: KEY, sizes: [...DEFAULT_SIZES, SMALL] })
})
afterAll(() => mock.close())
beforeEach(() => {
  mock.reset()
  logLines = []
  retries = []
})
afterEach(async () => {
  await Promise.all(providers.map((p) => p.close?.()))
  providers = []
})

function make(overrides: Partial<OpenAIImagesProviderOptions> = {}): Provider {
  const provider = createOpenAIImagesProvider({
    apiKey: KEY,
    baseURL: mock.url,
    retryBaseMs: 1,
    retryMaxMs: 5,
    maxRetries: 3,
    timeoutMs: 2_000,
    allowPrivateDownloads: true,
    logger,
    ...overrides,
  })
  providers.push(provider)
  return provider
}

/** A fresh prompt per call, so per-prompt counters start at zero. */
function req(overrides: Partial<CanonicalRequest> = {}): CanonicalRequest {
  promptNumber++
  return {
    model: 'flux-schnell',
    prompt: `prompt ${promptNumber}`,
    size: SMALL,
    quality: 'standard',
    ...overrides,
  }
}

const ctx = (extra: GenerateContext = {}): GenerateContext => ({
  onRetry: (info) => retries.push(info),
  ...extra,
})

async function failure(promise: Promise<unknown>): Promise<FluxError> {
  const err = await promise.then(
    () => new Error('expected the generation to fail'),
    (e: unknown) => e,
  )
  if (!FluxError.is(err)) throw err
  return err
}

const warnings = () => logLines.filter((l) => l.startsWith('warn'))

describe('base URL', () => {
  it.each(['', '/', '/v1', '/v1/'])(
    'posts to /v1/images/generations when the base URL ends with "%s"',
    async (suffix) => {
      const image = await make({ baseURL: mock.url + suffix }).generate(req())
      expect(image.format).toBe('png')
      expect(mock.requests).toBe(1)
    },
  )

  it('keeps a path prefix', () => {
    expect(imagesEndpoint('https://gw.example/openai').href).toBe(
      'https://gw.example/openai/v1/images/generations',
    )
    expect(imagesEndpoint('https://gw.example/openai/v1//').href).toBe(
      'https://gw.example/openai/v1/images/generations',
    )
  })
})

describe('response formats', () => {
  it('b64_json (default): decodes the image and reports its real dimensions', async () => {
    let seen: unknown
    mock.fault = ({ body }) => {
      seen = body
      return undefined
    }
    const r = req({ size: '1536x1024', quality: 'hd', seed: 42 })
    const before = Math.floor(Date.now() / 1000)
    const image = await make().generate(r)
    const after = Math.ceil(Date.now() / 1000)
    expect(seen).toEqual({ ...r, n: 1, response_format: 'b64_json' })
    expect([image.format, image.width, image.height]).toEqual(['png', 1536, 1024])
    expect(image.revisedPrompt).toBe(r.prompt)
    // The gateway's time, taken while the request was out: between the two readings, however long it took.
    expect(image.created).toBeGreaterThanOrEqual(before)
    expect(image.created).toBeLessThanOrEqual(after)
    const meta = await sharp(image.bytes).metadata()
    expect([meta.width, meta.height]).toEqual([1536, 1024])
    expect(mock.downloads).toBe(0)
  })

  it('sends no seed when the request has none', async () => {
    let seen: Record<string, unknown> = {}
    mock.fault = ({ body }) => {
      seen = { ...body }
      return undefined
    }
    await make().generate(req())
    expect('seed' in seen).toBe(false)
  })

  it('url: downloads at once, with the key since the file is on the API origin', async () => {
    const image = await make({ responseFormat: 'url' }).generate(req({ size: '768x1344' }))
    expect([image.width, image.height]).toEqual([768, 1344])
    expect([mock.requests, mock.downloads, mock.downloadsWithAuth]).toEqual([1, 1, 1])
  })
})

describe('failures, with the exact number of requests the gateway received', () => {
  it('429 twice then success: 3 requests, 2 retries', async () => {
    mock.fault = ({ promptCount }) => (promptCount <= 2 ? { type: 'rate-limit' } : undefined)
    const image = await make().generate(req(), ctx())
    expect(image.width).toBe(64)
    expect(mock.requests).toBe(3)
    expect(retries.map((r) => r.attempt)).toEqual([1, 2])
    expect(retries[0]?.reason).toContain('429')
    expect(warnings()).toEqual([])
  })

  it.each([
    [{ type: 'auth' as const }, 'FLUX_AUTH'],
    [{ type: 'auth' as const, status: 403 as const }, 'FLUX_AUTH'],
    [{ type: 'payment' as const }, 'FLUX_QUOTA'],
    [{ type: 'quota' as const }, 'FLUX_QUOTA'],
    [{ type: 'moderation' as const, code: 'content_policy_violation' as const }, 'FLUX_MODERATED'],
    [{ type: 'moderation' as const, code: 'moderation_blocked' as const }, 'FLUX_MODERATED'],
    [{ type: 'empty-data' as const }, 'FLUX_MODERATED'],
    [{ type: 'error' as const, status: 422, message: 'Unprocessable prompt' }, 'FLUX_BAD_REQUEST'],
    [{ type: 'error' as const, status: 404, message: 'The model does not exist' }, 'FLUX_BAD_REQUEST'],
    [{ type: 'corrupt-image' as const }, 'FLUX_BAD_IMAGE'],
    [{ type: 'truncated-image' as const }, 'FLUX_BAD_IMAGE'],
  ])('%j -> %s after 1 request, no retry', async (fault, code) => {
    mock.fault = () => fault
    const err = await failure(make().generate(req(), ctx()))
    expect(err.code).toBe(code)
    expect(err.location).toBeUndefined()
    expect(mock.requests).toBe(1)
    expect(retries).toEqual([])
  })

  it('a real 401 (wrong key) is FLUX_AUTH after 1 request', async () => {
    const err = await failure(make({ apiKey: 'sk-another-wrong-key' }).generate(req()))
    expect(err.code).toBe('FLUX_AUTH')
    expect(err.message).toContain('401')
    expect([mock.requests, mock.authFailures]).toEqual([1, 1])
  })

  it('a 400 the gateway explains is FLUX_BAD_REQUEST with its message and param', async () => {
    const err = await failure(make().generate(req({ size: '640x640' })))
    expect(err.code).toBe('FLUX_BAD_REQUEST')
    expect(err.message).toContain("Invalid value for 'size'")
    expect(err.message).toContain('(param: size)')
    expect(mock.requests).toBe(1)
  })

  it('a 500 storm: maxRetries + 1 requests, then FLUX_TRANSIENT', async () => {
    mock.fault = () => ({ type: 'server-error', status: 503 })
    const err = await failure(make({ maxRetries: 3 }).generate(req(), ctx()))
    expect(err.code).toBe('FLUX_TRANSIENT')
    expect(err.message).toContain('after 4 attempt(s)')
    expect(err.message).toContain('503')
    expect(mock.requests).toBe(4)
    expect(retries).toHaveLength(3)
  })

  it('one 500 then success: 2 requests', async () => {
    mock.fault = ({ promptCount }) => (promptCount === 1 ? { type: 'server-error' } : undefined)
    await make().generate(req())
    expect(mock.requests).toBe(2)
  })

  it('connection refused is retried maxRetries times: nothing was sent', async () => {
    const closed = await createMockGateway({ apiKey: KEY })
    const url = closed.url
    await closed.close()
    const err = await failure(make({ baseURL: url, maxRetries: 2 }).generate(req(), ctx()))
    expect(err.code).toBe('FLUX_TRANSIENT')
    expect(err.message).toContain('after 3 attempt(s)')
    expect(err.message).toContain('ECONNREFUSED')
    expect(retries).toHaveLength(2)
    expect(warnings()).toEqual([])
  })
})

describe('never pay twice: an answer lost after sending is retried at most once', () => {
  it.each(['before-work', 'after-work', 'mid-body'] as const)(
    'reset %s on every request: 2 requests, then FLUX_TRANSIENT',
    async (when) => {
      mock.fault = () => ({ type: 'reset', when })
      const err = await failure(make({ maxRetries: 4 }).generate(req(), ctx()))
      expect(err.code).toBe('FLUX_TRANSIENT')
      expect(err.message).toContain('after 2 attempt(s)')
      expect(mock.requests).toBe(2)
      expect(retries).toHaveLength(1)
      expect(warnings()).toHaveLength(1)
      expect(warnings()[0]).toContain('answer lost; retrying once: the gateway may bill twice')
    },
  )

  it('one reset after work, then success: 2 requests, both billed, one warning', async () => {
    const r = req()
    mock.fault = ({ promptCount }) => (promptCount === 1 ? { type: 'reset', when: 'after-work' } : undefined)
    await make().generate(r)
    expect(mock.requests).toBe(2)
    expect(mock.generatedByPrompt.get(r.prompt)).toBe(2)
    expect(warnings()).toHaveLength(1)
  })

  it('lost, then 429, then lost again: the second loss is final (3 requests)', async () => {
    const faults = [
      { type: 'reset', when: 'after-work' },
      { type: 'rate-limit' },
      { type: 'reset', when: 'after-work' },
    ] as const
    mock.fault = ({ promptCount }) => faults[promptCount - 1]
    const err = await failure(make({ maxRetries: 5 }).generate(req(), ctx()))
    expect(err.code).toBe('FLUX_TRANSIENT')
    expect(mock.requests).toBe(3)
    expect(retries).toHaveLength(2)
  })

  it('a malformed 200 body twice: 2 requests, then FLUX_BAD_IMAGE', async () => {
    mock.fault = () => ({ type: 'malformed-json' })
    const err = await failure(make().generate(req()))
    expect(err.code).toBe('FLUX_BAD_IMAGE')
    expect(err.message).toContain('malformed')
    expect(mock.requests).toBe(2)
  })

  it('a gateway that hangs: 2 requests, each cut at timeoutMs, then FLUX_TRANSIENT', async () => {
    mock.fault = () => ({ type: 'hang' })
    const err = await failure(make({ timeoutMs: 150 }).generate(req(), ctx()))
    expect(err.code).toBe('FLUX_TRANSIENT')
    expect(err.message).toContain('no answer within 150 ms')
    expect([mock.requests, mock.generated]).toEqual([2, 0])
    expect(warnings()).toHaveLength(1)
  })

  it('an expired URL after a 200: 2 requests, 2 downloads, then FLUX_DOWNLOAD', async () => {
    mock.fault = () => ({ type: 'expired-url' })
    const err = await failure(make({ responseFormat: 'url' }).generate(req()))
    expect(err.code).toBe('FLUX_DOWNLOAD')
    expect(err.message).toContain('404')
    expect([mock.requests, mock.downloads]).toEqual([2, 2])
    expect(warnings()).toHaveLength(1)
  })

  it('an expired URL once, then a good one: 2 requests', async () => {
    mock.fault = ({ promptCount }) => (promptCount === 1 ? { type: 'expired-url' } : undefined)
    const image = await make({ responseFormat: 'url' }).generate(req())
    expect(image.format).toBe('png')
    expect(mock.requests).toBe(2)
  })
})

// Each attempt's deadline is pinned from both sides without timing the test: an answer that comes
// at half of timeoutMs is received, and an answer still arriving at 1.5 x timeoutMs (in pieces, so
// no idle timeout can be what cuts it) never is. The gateway's timers and the client's run on one
// event loop, so a busy machine delays both alike and cannot swap their order.
describe('the per-attempt deadline is timeoutMs', () => {
  const T = 1_000

  it('an answer at timeoutMs / 2 is received: 1 request, no retry', async () => {
    mock.fault = () => ({ delayMs: T / 2 })
    const image = await make({ timeoutMs: T }).generate(req(), ctx())
    expect(image.format).toBe('png')
    expect([mock.requests, mock.generated]).toEqual([1, 1])
    expect(retries).toEqual([])
  })

  // Closer to the deadline: a deadline shorter than timeoutMs (0.7 x, say) cuts this one. A first
  // generation loads undici and opens the connection, so the answer's 15 % margin (600 ms) is
  // spent on nothing but the exchange.
  it('an answer at 0.85 x timeoutMs is received: 1 request, no retry', async () => {
    const slow = 4 * T
    const provider = make({ timeoutMs: slow })
    await provider.generate(req(), ctx())
    mock.reset()
    mock.fault = () => ({ delayMs: 0.85 * slow })
    const image = await provider.generate(req(), ctx())
    expect(image.format).toBe('png')
    expect([mock.requests, mock.generated]).toEqual([1, 1])
    expect(retries).toEqual([])
  })

  it('an answer that trickles until 1.5 x timeoutMs is cut at timeoutMs: 2 requests, both billed, then FLUX_TRANSIENT', async () => {
    mock.fault = () => ({ type: 'trickle', pieces: 6, everyMs: T / 4 })
    const err = await failure(make({ timeoutMs: T }).generate(req(), ctx()))
    expect(err.code).toBe('FLUX_TRANSIENT')
    expect(err.message).toContain(`no answer within ${T} ms`)
    expect([mock.requests, mock.generated]).toEqual([2, 2])
    expect(retries).toHaveLength(1)
    expect(warnings()).toHaveLength(1)
  })

  it('a trickle that ends before timeoutMs is received whole', async () => {
    mock.fault = () => ({ type: 'trickle', pieces: 3, everyMs: T / 8 })
    const image = await make({ timeoutMs: T }).generate(req(), ctx())
    expect(image.format).toBe('png')
    expect(mock.requests).toBe(1)
  })
})

describe('Retry-After', () => {
  it('honours retry-after-ms exactly', async () => {
    mock.fault = ({ promptCount }) =>
      promptCount === 1 ? { type: 'rate-limit', retryAfterMs: 40 } : undefined
    await make().generate(req(), ctx())
    expect(retries.map((r) => r.delayMs)).toEqual([40])
  })

  it('honours Retry-After in seconds', async () => {
    mock.fault = ({ promptCount }) =>
      promptCount === 1 ? { type: 'rate-limit', retryAfterSeconds: 1 } : undefined
    await make().generate(req(), ctx())
    expect(retries.map((r) => r.delayMs)).toEqual([1000])
  })

  it('caps a long Retry-After at maxRetryAfterMs', async () => {
    mock.fault = ({ promptCount }) =>
      promptCount === 1 ? { type: 'server-error', retryAfterSeconds: 3600 } : undefined
    await make({ maxRetryAfterMs: 25 }).generate(req(), ctx())
    expect(retries.map((r) => r.delayMs)).toEqual([25])
  })

  it('caps Retry-After at 60 s by default', async () => {
    mock.fault = () => ({ type: 'rate-limit', retryAfterSeconds: 3600 })
    const controller = new AbortController()
    // The wait is recorded, then cut short: the test does not sit through a minute.
    const err = await failure(
      make().generate(
        req(),
        ctx({
          signal: controller.signal,
          onRetry: (info) => {
            retries.push(info)
            controller.abort()
          },
        }),
      ),
    )
    expect(err.code).toBe('FLUX_INTERRUPTED')
    expect(retries.map((r) => r.delayMs)).toEqual([60_000])
    expect(mock.requests).toBe(1)
  })

  it('uses capped jittered backoff when there is no header', async () => {
    mock.fault = ({ promptCount }) => (promptCount <= 4 ? { type: 'rate-limit' } : undefined)
    // Full jitter at its top: each wait is its ceiling, doubling from retryBaseMs up to retryMaxMs.
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.9999)
    try {
      await make({ retryBaseMs: 4, retryMaxMs: 10, maxRetries: 4 }).generate(req(), ctx())
    } finally {
      random.mockRestore()
    }
    expect(retries.map((r) => r.delayMs)).toEqual([4, 8, 10, 10])
    expect(mock.requests).toBe(5)
  })

  it('jitters the backoff: half-way draws wait half the ceiling', async () => {
    mock.fault = ({ promptCount }) => (promptCount <= 2 ? { type: 'server-error' } : undefined)
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.5)
    try {
      await make({ retryBaseMs: 20, retryMaxMs: 1_000 }).generate(req(), ctx())
    } finally {
      random.mockRestore()
    }
    expect(retries.map((r) => r.delayMs)).toEqual([10, 20])
  })
})

describe('downloads', () => {
  it('follows a redirect to the mock only when private downloads are allowed', async () => {
    mock.fault = () => ({ type: 'redirect-url' })
    const image = await make({ responseFormat: 'url' }).generate(req())
    expect(image.format).toBe('png')
    expect([mock.redirects, mock.downloads]).toEqual([1, 1])

    mock.reset()
    mock.fault = () => ({ type: 'redirect-url' })
    const err = await failure(make({ responseFormat: 'url', allowPrivateDownloads: false }).generate(req()))
    expect(err.code).toBe('FLUX_DOWNLOAD')
    expect(err.message).toContain('private address 127.0.0.1')
    expect([mock.requests, mock.redirects, mock.downloads]).toEqual([1, 0, 0])
  })

  it('follows 3 redirects, refuses a 4th', async () => {
    mock.fault = () => ({ type: 'redirect-url', hops: 3 })
    await make({ responseFormat: 'url' }).generate(req())
    mock.reset()
    mock.fault = () => ({ type: 'redirect-url', hops: 4 })
    const err = await failure(make({ responseFormat: 'url' }).generate(req()))
    expect(err.code).toBe('FLUX_DOWNLOAD')
    expect(err.message).toContain('more than 3 redirects')
    expect([mock.requests, mock.redirects, mock.downloads]).toEqual([1, 4, 0])
  })

  it.each(['file:///etc/passwd', 'ftp://127.0.0.1/a.png', 'data:image/png;base64,AAAA'])(
    'refuses the scheme of %s after 1 request',
    async (url) => {
      mock.fault = () => ({ type: 'custom-url', url })
      const err = await failure(make({ responseFormat: 'url' }).generate(req()))
      expect(err.code).toBe('FLUX_DOWNLOAD')
      expect(err.message).toContain('only http and https')
      expect(mock.requests).toBe(1)
    },
  )

  it.each([
    ['url', undefined],
    ['url', 'chunked-url'],
    ['b64_json', undefined],
  ] as const)('stops at maxDownloadBytes (%s %s) without retrying', async (responseFormat, type) => {
    mock.fault = () => (type ? { type } : undefined)
    const err = await failure(
      make({ responseFormat, maxDownloadBytes: 300 }).generate(req({ size: '1024x1024' })),
    )
    expect(err.code).toBe('FLUX_DOWNLOAD')
    expect(err.message).toMatch(/larger than (the )?\d+/)
    expect(mock.requests).toBe(1)
  })

  it.each(['corrupt-image', 'truncated-image'] as const)(
    'a %s behind a url is FLUX_BAD_IMAGE after 1 request',
    async (type) => {
      mock.fault = () => ({ type })
      const err = await failure(make({ responseFormat: 'url' }).generate(req({ size: '1024x1024' })))
      expect(err.code).toBe('FLUX_BAD_IMAGE')
      expect([mock.requests, mock.downloads]).toEqual([1, 1])
    },
  )

  describe('the default maxDownloadBytes is 50 MiB', () => {
    const CAP = 50 * 1024 * 1024
    // Moving 50 MiB takes a while on a busy machine: no deadline may end these tests.
    const LONG = 10 * 60_000
    let host: Server
    let hostUrl = ''
    const served: string[] = []
    beforeAll(async () => {
      const png = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#654321' } })
        .png()
        .toBuffer()
      // A real PNG, then zeros after its end (decoders stop at IEND): CAP + 1 bytes in all.
      const over = Buffer.concat([png, Buffer.alloc(CAP + 1 - png.length)])
      host = createServer((request, res) => {
        served.push(request.url ?? '')
        const body = request.url?.startsWith('/exact') ? over.subarray(0, CAP) : over
        const size = body.length
        if (request.url?.startsWith('/streamed')) {
          res.writeHead(200, { 'content-type': 'image/png' })
          // No Content-Length: only counting the bytes as they come can stop it.
          res.write(body.subarray(0, size >> 1))
          res.end(body.subarray(size >> 1))
          return
        }
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': size })
        res.end(body)
      })
      host.listen(0, '127.0.0.1')
      await once(host, 'listening')
      hostUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}`
    })
    afterAll(() => new Promise<void>((resolve) => host.close(() => resolve())))
    beforeEach(() => {
      served.length = 0
    })

    it('accepts an image of exactly 50 MiB', async () => {
      mock.fault = () => ({ type: 'custom-url', url: `${hostUrl}/exact.png` })
      const image = await make({ responseFormat: 'url', timeoutMs: LONG }).generate(req())
      expect([image.width, image.height, image.bytes.length]).toEqual([8, 6, CAP])
      expect([mock.requests, served.length]).toEqual([1, 1])
    })

    it.each(['declared', 'streamed'])(
      'refuses one byte more (%s), after 1 request and 1 download, without retrying',
      async (how) => {
        mock.fault = () => ({ type: 'custom-url', url: `${hostUrl}/${how}.png` })
        const err = await failure(make({ responseFormat: 'url', timeoutMs: LONG }).generate(req(), ctx()))
        expect(err.code).toBe('FLUX_DOWNLOAD')
        expect(err.message).toContain(`larger than the ${CAP}-byte cap`)
        expect([mock.requests, served.length, retries.length]).toEqual([1, 1, 0])
      },
    )
  })

  describe('the key and other origins', () => {
    let imageHost: Server
    let imageHostUrl = ''
    const seen: Array<string | undefined> = []
    beforeAll(async () => {
      const png = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#123456' } })
        .png()
        .toBuffer()
      imageHost = createServer((request, res) => {
        seen.push(request.headers.authorization)
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length })
        res.end(png)
      })
      imageHost.listen(0, '127.0.0.1')
      await once(imageHost, 'listening')
      imageHostUrl = `http://127.0.0.1:${(imageHost.address() as AddressInfo).port}/image.png`
    })
    afterAll(() => new Promise<void>((resolve) => imageHost.close(() => resolve())))
    beforeEach(() => {
      seen.length = 0
    })

    it('never sends the key to another host', async () => {
      mock.fault = () => ({ type: 'custom-url', url: imageHostUrl })
      const image = await make({ responseFormat: 'url' }).generate(req())
      expect([image.width, image.height]).toEqual([8, 6])
      expect(seen).toEqual([undefined])
    })

    it('drops the key when the API origin redirects to another host', async () => {
      mock.fault = () => ({ type: 'redirect-url', location: imageHostUrl })
      await make({ responseFormat: 'url' }).generate(req())
      expect(mock.redirects).toBe(1)
      expect(seen).toEqual([undefined])
    })
  })
})

describe('secrets', () => {
  const leaks = (text: string) => text.includes(KEY) || /Bearer (?!\[redacted\])/.test(text)

  it('redacts a key the gateway echoes in a 401', async () => {
    mock.fault = () => ({ type: 'auth', echoKey: true })
    const err = await failure(make().generate(req()))
    expect(err.code).toBe('FLUX_AUTH')
    expect(err.message).toContain('[redacted]')
    for (const text of [
      String(err),
      err.message,
      err.detail,
      inspect(err, { depth: 8 }),
      JSON.stringify(err.cause),
      inspect(err.cause, { depth: 8 }),
    ]) {
      expect(leaks(text)).toBe(false)
    }
  })

  it('redacts it from retried failures, onRetry reasons and logs', async () => {
    mock.fault = ({ promptCount }) =>
      promptCount === 1
        ? { type: 'reset', when: 'after-work' }
        : {
            type: 'error',
            status: 500,
            message: `backend rejected Authorization: Bearer ${KEY} (key ${KEY})`,
          }
    const err = await failure(make({ maxRetries: 2 }).generate(req(), ctx()))
    expect(err.code).toBe('FLUX_TRANSIENT')
    expect(mock.requests).toBe(3)
    const texts = [
      String(err),
      inspect(err, { depth: 8 }),
      JSON.stringify(err.cause) ?? '',
      ...logLines,
      ...retries.map((r) => r.reason),
    ]
    expect(texts.join('\n')).toContain('[redacted]')
    for (const text of texts) expect(leaks(text)).toBe(false)
  })

  // Regression (issue 16, item 4): the echoed key was stored in clear in committed metadata.
  it('redacts a key the gateway echoes in revised_prompt: 1 request, the image kept', async () => {
    mock.fault = () => ({ type: 'odd-answer', revisedPrompt: 'a lighthouse', echoKey: true })
    const image = await make().generate(req())
    expect(mock.requests).toBe(1)
    expect(image.revisedPrompt).toMatch(/^a lighthouse \(received Authorization: Bearer \[redacted\]/)
    expect(leaks(image.revisedPrompt ?? '')).toBe(false)
  })

  // Regression (issue 16, item 10): a gateway's text reached the terminal with its escape sequences.
  it("writes out control characters in the gateway's error text", async () => {
    mock.fault = () => ({
      type: 'error',
      status: 400,
      message: 'bad \u001b[2J\u009b31m prompt',
      code: '\u001b]0;x',
    })
    const err = await failure(make().generate(req()))
    expect(err.code).toBe('FLUX_BAD_REQUEST')
    expect(err.message).toContain('bad \\x1b[2J\\x9b31m prompt')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its purpose.
    expect(String(err)).not.toMatch(/[\u001b\u009b]/)
  })

  it.each([
    [{ apiKey: KEY, baseURL: 'not a url' }, 'baseURL'],
    [{ apiKey: `${KEY}\n`, baseURL: 'https://gw.example' }, 'trailing newline'],
    [{ apiKey: KEY, baseURL: 'https://gw.example', maxRetries: -1 }, 'maxRetries'],
  ])('never puts the key in an options error (%#)', (opts, problem) => {
    let err: unknown
    try {
      createOpenAIImagesProvider(opts)
    } catch (e) {
      err = e
    }
    expect(FluxError.is(err, 'FLUX_INVALID_OPTIONS')).toBe(true)
    expect(String(err)).toContain(problem)
    expect(String(err)).not.toContain(KEY)
  })
})

// Regression (issue 16, item 8): `created: 1e20` threw after the image was received, and the paid
// image was thrown away as "gateway overloaded".
describe("an answer's created time", () => {
  it.each([
    [1e20, 'created: 100000000000000000000'],
    [-5, 'created: -5'],
    ['yesterday', 'created: "yesterday"'],
    [Number.MAX_VALUE, 'created: 1.7976931348623157e+308'],
  ])(
    '%s keeps the image (1 request, 1 image generated), dated now, with one warning',
    async (created, shown) => {
      mock.fault = () => ({ type: 'odd-answer', created })
      const before = Math.floor(Date.now() / 1000)
      const image = await make().generate(req(), ctx())
      const after = Math.floor(Date.now() / 1000)
      expect(mock.requests).toBe(1)
      expect(mock.generated).toBe(1)
      expect(retries).toEqual([])
      expect(image.width).toBe(64)
      expect(image.created).toBeGreaterThanOrEqual(before)
      expect(image.created).toBeLessThanOrEqual(after)
      expect(warnings()).toHaveLength(1)
      expect(warnings()[0]).toContain(shown)
      expect(warnings()[0]).toContain('the image is kept')
    },
  )

  it('a time in the past is kept as sent, without a warning', async () => {
    mock.fault = () => ({ type: 'odd-answer', created: 1_700_000_000.7 })
    const image = await make().generate(req())
    expect(image.created).toBe(1_700_000_000)
    expect(warnings()).toEqual([])
  })
})

describe('cancellation', () => {
  it('an abort during a request that never ends ends it with FLUX_INTERRUPTED', async () => {
    // Held and then hanging, with a request timeout longer than the test's: only the abort can end it.
    mock.hold()
    mock.fault = () => ({ type: 'hang' })
    const controller = new AbortController()
    const pending = failure(
      make({ timeoutMs: 10 * 60_000 }).generate(req(), ctx({ signal: controller.signal })),
    )
    await mock.whenHeld(1)
    controller.abort()
    const err = await pending
    expect(err.code).toBe('FLUX_INTERRUPTED')
    expect(mock.requests).toBe(1)
  })

  it('an abort during a Retry-After wait ends it', async () => {
    mock.fault = () => ({ type: 'rate-limit', retryAfterSeconds: 30 })
    const controller = new AbortController()
    const err = await failure(
      make().generate(
        req(),
        ctx({ signal: controller.signal, onRetry: () => setTimeout(() => controller.abort(), 20) }),
      ),
    )
    expect(err.code).toBe('FLUX_INTERRUPTED')
    expect(mock.requests).toBe(1)
  })
})
