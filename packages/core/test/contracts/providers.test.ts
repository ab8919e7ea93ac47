import { createMockGateway, DEFAULT_SIZES, type MockGateway } from '../../../../test/mock-gateway/index.js'
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
