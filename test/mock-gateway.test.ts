import sharp from 'sharp'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

const KEY = 'test-key-mock'

let mock: MockGateway
const ready = createMockGateway({ apiKey: KEY }).then((m) => {
  mock = m
})
afterAll(async () => {
  await ready
  await mock.close()
})
beforeEach(async () => {
  await ready
  mock.reset()
  mock.latencyMs = 0
  mock.urlTtlMs = 60_000
})

function post(body: unknown, key: string | null = KEY, path = '/v1/images/generations') {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (key !== null) headers.authorization = `Bearer ${key}`
  return fetch(mock.url + path, { method: 'POST', headers, body: JSON.stringify(body) })
}

interface Success {
  created: number
  data: Array<{ url?: string; b64_json?: string; revised_prompt?: string }>
}

const ok = {
  model: 'flux-schnell',
  prompt: 'a lighthouse at dawn',
  size: '1344x768',
  response_format: 'b64_json',
}

describe('generations', () => {
  it('answers b64_json with a real PNG of the requested size', async () => {
    const res = await post(ok)
    expect(res.status).toBe(200)
    const json = (await res.json()) as Success
    expect(json.created).toBeGreaterThan(1_600_000_000)
    expect(json.data).toHaveLength(1)
    expect(json.data[0]?.revised_prompt).toBe(ok.prompt)
    const bytes = Buffer.from(json.data[0]?.b64_json ?? '', 'base64')
    const stats = await sharp(bytes, { failOn: 'truncated' }).stats()
    const meta = await sharp(bytes).metadata()
    expect([meta.format, meta.width, meta.height, stats.channels.length]).toEqual(['png', 1344, 768, 3])
    expect(mock.requestsByPrompt.get(ok.prompt)).toBe(1)
    expect(mock.generatedByPrompt.get(ok.prompt)).toBe(1)
  })

  it('is deterministic per (prompt, size, seed)', async () => {
    const image = async (body: object) =>
      ((await (await post({ ...ok, ...body })).json()) as Success).data[0]?.b64_json
    const a = await image({ seed: 7 })
    expect(await image({ seed: 7 })).toBe(a)
    expect(await image({ seed: 8 })).not.toBe(a)
    expect(await image({ seed: 7, prompt: 'another prompt' })).not.toBe(a)
  })

  it('answers url with a same-server file that expires', async () => {
    // The mock's own clock: an expiry a slow machine cannot reach early or late.
    let now = 1_000_000
    const timed = await createMockGateway({ apiKey: KEY, urlTtlMs: 150, now: () => now })
    try {
      const res = await fetch(`${timed.url}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ ...ok, response_format: 'url', size: '768x1344' }),
      })
      const url = ((await res.json()) as Success).data[0]?.url ?? ''
      expect(url.startsWith(`${timed.url}/files/`)).toBe(true)
      now += 149
      const file = await fetch(url)
      expect(file.headers.get('content-type')).toBe('image/png')
      const meta = await sharp(Buffer.from(await file.arrayBuffer())).metadata()
      expect([meta.width, meta.height]).toEqual([768, 1344])
      now += 1
      expect((await fetch(url)).status).toBe(404)
      expect(timed.downloads).toBe(2)
      expect(timed.downloadsWithAuth).toBe(0)
    } finally {
      await timed.close()
    }
  })
})

describe('auth and validation', () => {
  it('refuses a missing or wrong key with 401 in OpenAI shape, without echoing it', async () => {
    for (const key of [null, 'wrong-key']) {
      const res = await post(ok, key)
      expect(res.status).toBe(401)
      const text = await res.text()
      expect(text).not.toContain('wrong-key')
      const json = JSON.parse(text) as { error: Record<string, unknown> }
      expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type'])
    }
    expect(mock.authFailures).toBe(2)
    expect(mock.requests).toBe(2)
    expect(mock.generated).toBe(0)
  })

  it.each([
    [{ ...ok, size: '512x512' }, 'size'],
    [{ ...ok, model: 'dall-e-3' }, 'model'],
    [{ ...ok, quality: 'ultra' }, 'quality'],
    [{ ...ok, response_format: 'png' }, 'response_format'],
    [{ ...ok, n: 0 }, 'n'],
    [{ ...ok, seed: 'x' }, 'seed'],
    [{ model: 'flux-dev' }, 'prompt'],
    [{ ...ok, style: 'vivid' }, 'style'],
  ])('rejects %j with 400 naming param %s', async (body, param) => {
    const res = await post(body)
    expect(res.status).toBe(400)
    const json = (await res.json()) as { error: { param: string; message: string } }
    expect(json.error.param).toBe(param)
    expect(mock.generated).toBe(0)
  })

  it('accepts models and sizes a gateway adds', async () => {
    const custom = await createMockGateway({ apiKey: KEY, models: ['my-model'], sizes: ['64x32'] })
    try {
      const res = await fetch(`${custom.url}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...ok, model: 'my-model', size: '64x32' }),
      })
      expect(res.status).toBe(200)
    } finally {
      await custom.close()
    }
  })

  it('serves only /v1/images/generations', async () => {
    const res = await post(ok, KEY, '/images/generations')
    expect(res.status).toBe(404)
    expect(mock.requests).toBe(0)
  })
})

describe('faults and counters', () => {
  it('sends the configured Retry-After headers', async () => {
    mock.fault = ({ requestNumber }) =>
      requestNumber === 1 ? { type: 'rate-limit', retryAfterSeconds: 2, retryAfterMs: 1500 } : undefined
    const first = await post(ok)
    expect([first.status, first.headers.get('retry-after'), first.headers.get('retry-after-ms')]).toEqual([
      429,
      '2',
      '1500',
    ])
    expect((await post(ok)).status).toBe(200)
    expect(mock.requestsByPrompt.get(ok.prompt)).toBe(2)
    expect(mock.generatedByPrompt.get(ok.prompt)).toBe(1)
  })

  it('tracks in-flight generations', async () => {
    mock.hold()
    const answers = Promise.all([1, 2, 3].map((i) => post({ ...ok, prompt: `p${i}` })))
    await mock.whenHeld(3)
    expect([mock.inFlight, mock.generated]).toEqual([3, 0])
    mock.release()
    expect((await answers).map((res) => res.status)).toEqual([200, 200, 200])
    expect(mock.maxInFlight).toBe(3)
    expect(mock.inFlight).toBe(0)
  })

  it('holds requests until released, one by one or all at once', async () => {
    mock.hold()
    const statuses: number[] = []
    const answers = [1, 2, 3].map((i) =>
      post({ ...ok, prompt: `held ${i}` }).then((res) => statuses.push(res.status)),
    )
    await mock.whenHeld(3)
    expect([mock.requests, mock.held, mock.generated]).toEqual([3, 3, 0])
    mock.release(1)
    await Promise.race(answers)
    expect([statuses, mock.held, mock.generated]).toEqual([[200], 2, 1])
    // Still holding: a new request waits with the two left.
    const fourth = post({ ...ok, prompt: 'held 4' })
    await mock.whenHeld(3)
    mock.release()
    await Promise.all([...answers, fourth])
    expect([mock.held, mock.generated]).toEqual([0, 4])
    // Released for good: the next request is answered at once.
    expect((await post({ ...ok, prompt: 'not held' })).status).toBe(200)
    expect(mock.requests).toBe(5)
  })

  it('reset() drops held requests: they never count after it', async () => {
    mock.hold()
    const answer = post(ok)
    await mock.whenHeld(1)
    mock.reset()
    await expect(answer).rejects.toThrow()
    expect([mock.requests, mock.generated, mock.held]).toEqual([0, 0, 0])
    expect((await post(ok)).status).toBe(200)
    expect([mock.requests, mock.generated]).toEqual([1, 1])
  })

  it('counts held requests whose client went away, not those reset() drops', async () => {
    mock.hold()
    const controller = new AbortController()
    const aborted = fetch(`${mock.url}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify(ok),
      signal: controller.signal,
    })
    const dropped = post({ ...ok, prompt: 'dropped by reset' })
    await mock.whenHeld(2)
    controller.abort()
    await expect(aborted).rejects.toThrow()
    await mock.whenAbandoned(1)
    expect([mock.abandoned, mock.generated]).toEqual([1, 0])
    mock.reset()
    await expect(dropped).rejects.toThrow()
    expect(mock.abandoned).toBe(0)
  })

  it('trickles an answer in pieces', async () => {
    mock.fault = () => ({ type: 'trickle', pieces: 4, everyMs: 10 })
    const res = await post(ok)
    expect(res.status).toBe(200)
    const body = (await res.json()) as Success
    expect(body.data).toHaveLength(1)
    expect(mock.generated).toBe(1)
  })

  it('resets the connection and counts work done after it', async () => {
    mock.fault = ({ promptCount }) => ({
      type: 'reset',
      when: promptCount === 1 ? 'before-work' : 'after-work',
    })
    await expect(post(ok)).rejects.toThrow()
    await expect(post(ok)).rejects.toThrow()
    expect(mock.requestsByPrompt.get(ok.prompt)).toBe(2)
    expect(mock.generatedByPrompt.get(ok.prompt)).toBe(1)
  })

  it('redirects a url through the given hops', async () => {
    mock.fault = () => ({ type: 'redirect-url', hops: 2 })
    const url = (((await (await post({ ...ok, response_format: 'url' })).json()) as Success).data[0]?.url ??
      '') as string
    expect(url).toContain('/r/')
    const file = await fetch(url)
    expect(file.status).toBe(200)
    expect(mock.redirects).toBe(2)
    expect(mock.downloads).toBe(1)
  })

  it('close() ends a hanging request', async () => {
    const hanging = await createMockGateway({ apiKey: KEY, fault: () => ({ type: 'hang' }) })
    const pending = fetch(`${hanging.url}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}` },
      body: JSON.stringify(ok),
    })
    // A hang guard, not a time limit: the request reaches the mock whenever the machine gets to it.
    await expect.poll(() => hanging.inFlight, { timeout: 10_000, interval: 10 }).toBe(1)
    await hanging.close()
    await expect(pending).rejects.toThrow()
  })
})
