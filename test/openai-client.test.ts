import OpenAI from 'openai'
import sharp from 'sharp'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createMockGateway, type MockGateway } from './mock-gateway/index.js'

// Proof that the mock is faithful: the official client talks to it unchanged.
const KEY = 'sk-fake-openai-client-key'

let mock: MockGateway
let client: OpenAI
beforeAll(async () => {
  mock = await createMockGateway({ apiKey: KEY })
  client = new OpenAI({ apiKey: KEY, baseURL: `${mock.url}/v1`, maxRetries: 0 })
})
afterAll(() => mock.close())
beforeEach(() => mock.reset())

describe('the official openai client against the mock', () => {
  it('generates with response_format b64_json', async () => {
    const res = await client.images.generate({
      model: 'flux-1.1-pro',
      prompt: 'A lighthouse at dawn, watercolor',
      size: '1536x1024',
      quality: 'hd',
      response_format: 'b64_json',
    })
    expect(res.created).toBeTypeOf('number')
    const item = res.data?.[0]
    expect(item?.revised_prompt).toBe('A lighthouse at dawn, watercolor')
    const meta = await sharp(Buffer.from(item?.b64_json ?? '', 'base64')).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 1536, 1024])
    expect(mock.requests).toBe(1)
  })

  it('generates with response_format url, and the url downloads a decodable image', async () => {
    const res = await client.images.generate({
      model: 'flux-schnell',
      prompt: 'A neon-lit harbour at night',
      size: '1024x1536',
      response_format: 'url',
    })
    const url = res.data?.[0]?.url
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\//)
    const bytes = Buffer.from(await (await fetch(url as string)).arrayBuffer())
    const stats = await sharp(bytes, { failOn: 'truncated' }).stats()
    const meta = await sharp(bytes).metadata()
    expect([meta.format, meta.width, meta.height, stats.channels.length]).toEqual(['png', 1024, 1536, 3])
  })

  it('maps a wrong key to AuthenticationError (401)', async () => {
    const wrong = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${mock.url}/v1`, maxRetries: 0 })
    const err = await wrong.images.generate({ model: 'flux-dev', prompt: 'x' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError)
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401)
    expect(mock.authFailures).toBe(1)
  })

  it('maps validation and rate-limit answers to the client error classes', async () => {
    const bad = await client.images
      .generate({ model: 'flux-dev', prompt: 'x', size: '256x256' })
      .catch((e: unknown) => e)
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError)
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('size')

    mock.fault = () => ({ type: 'rate-limit', retryAfterSeconds: 1 })
    const limited = await client.images.generate({ model: 'flux-dev', prompt: 'x' }).catch((e: unknown) => e)
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError)
    expect((limited as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after')).toBe('1')
  })
})
