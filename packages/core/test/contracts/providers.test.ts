import { createMockBfl, type MockBfl } from '../../../../test/mock-bfl/index.js'
import { createMockGateway, DEFAULT_SIZES, type MockGateway } from '../../../../test/mock-gateway/index.js'
import { createBflProvider } from '../../src/providers/bfl.js'
import { createOpenAIImagesProvider } from '../../src/providers/openai-images.js'
import { createPlaceholderProvider } from '../../src/providers/placeholder.js'
import { fakeProvider, phasedProvider } from '../fakes/providers.js'
import { testProvider } from './provider-contract.js'

const KEY = 'sk-contract-0123456789abcdef'
const SIZES = ['64x48', '48x64'] as const

let mock: MockGateway | undefined
testProvider(
  'openai-images over the mock gateway',
  async () => {
    mock ??= await createMockGateway({ apiKey: KEY, sizes: [...DEFAULT_SIZES, ...SIZES] })
    const gateway = mock
    const provider = createOpenAIImagesProvider({
      apiKey: KEY,
      baseURL: gateway.url,
      maxRetries: 1,
      retryBaseMs: 1,
      retryMaxMs: 5,
      allowPrivateDownloads: true,
    })
    return { provider, requests: () => gateway.requests }
  },
  { sizes: SIZES, teardown: async () => mock?.close() },
)

let bfl: MockBfl | undefined
testProvider(
  'bfl over the mock BFL API',
  async () => {
    bfl ??= await createMockBfl({ apiKey: KEY, pendingPolls: 1 })
    const api = bfl
    const provider = createBflProvider({
      apiKey: KEY,
      baseURL: api.url,
      maxRetries: 1,
      retryBaseMs: 1,
      retryMaxMs: 5,
      allowPrivateDownloads: true,
      pollIntervalMs: 10,
    })
    return { provider, requests: () => api.submits }
  },
  {
    // FLUX.2 makes sides of 64 pixels and up, in multiples of 16.
    sizes: ['80x64', '64x80'],
    model: 'flux-2-pro',
    extra: { provider: 'bfl', safetyTolerance: 2 },
    teardown: async () => bfl?.close(),
  },
)

testProvider('placeholder', () => ({ provider: createPlaceholderProvider() }), { sizes: SIZES })

testProvider(
  'the engine tests’ fake gateway',
  () => {
    const fake = fakeProvider({ latencyMs: 1 })
    return { provider: fake.provider, requests: () => fake.total }
  },
  { sizes: SIZES },
)

testProvider(
  'the request-slot tests’ phased fake',
  () => {
    const fake = phasedProvider({ networkMs: 1, localMs: 1 })
    return { provider: fake.provider, requests: () => fake.events.filter((e) => e.what === 'start').length }
  },
  { sizes: SIZES },
)
