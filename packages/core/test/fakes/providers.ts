/** Hand-written fake providers for the engine's tests; each passes the provider contract. */
import sharp from 'sharp'
import { fluxError } from '../../src/errors.js'
import type { CanonicalRequest, GeneratedImage, Provider } from '../../src/types.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * A PNG of the size asked, in one colour. (The fakes used to answer 8x8 bytes while reporting the
 * size asked: the provider contract caught it, as the cache then held metadata its file contradicted.)
 */
async function png(request: CanonicalRequest, background: string): Promise<GeneratedImage> {
  const [width = 0, height = 0] = (/^(\d{1,5})x(\d{1,5})$/.exec(request.size) ?? []).slice(1).map(Number)
  if (!(width > 0 && height > 0)) {
    throw fluxError('FLUX_INVALID_OPTION_VALUE', {
      key: 'size',
      value: request.size,
      expected: 'WIDTHxHEIGHT, e.g. 64x48',
    })
  }
  const bytes = await sharp({ create: { width, height, channels: 3, background } })
    .png()
    .toBuffer()
  return { bytes, format: 'png', width, height, created: 1_700_000_000 }
}

/** A hand-written fake gateway: counts calls per prompt, tracks concurrency, fails on demand. */
export function fakeProvider({
  latencyMs = 5,
  fail,
}: {
  latencyMs?: number
  fail?: (r: CanonicalRequest, n: number) => Error | undefined
} = {}) {
  const calls = new Map<string, number>()
  let inFlight = 0
  let maxInFlight = 0
  let total = 0
  const provider: Provider = {
    name: 'fake',
    placeholder: false,
    async generate(request, ctx = {}) {
      ctx.signal?.throwIfAborted()
      total++
      calls.set(request.prompt, (calls.get(request.prompt) ?? 0) + 1)
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      try {
        await new Promise((r) => setTimeout(r, latencyMs))
        const err = fail?.(request, total)
        if (err) throw err
        return await png(request, '#336699')
      } finally {
        inFlight--
      }
    },
  }
  return {
    provider,
    calls,
    get total() {
      return total
    },
    get maxInFlight() {
      return maxInFlight
    },
  }
}

/**
 * A provider with a network phase (`networkMs`) and a local phase (`localMs`, the decode check),
 * recording when each phase starts and ends. `signals` says whether it calls `onReceived`.
 */
export function phasedProvider({ networkMs = 40, localMs = 150, signals = true } = {}) {
  const events: { prompt: string; at: number; what: 'start' | 'received' | 'done' }[] = []
  let network = 0
  let maxNetwork = 0
  const provider: Provider = {
    name: 'phased',
    placeholder: false,
    async generate(request, ctx = {}) {
      ctx.signal?.throwIfAborted()
      const at = () => performance.now()
      events.push({ prompt: request.prompt, at: at(), what: 'start' })
      network++
      maxNetwork = Math.max(maxNetwork, network)
      await sleep(networkMs)
      network--
      events.push({ prompt: request.prompt, at: at(), what: 'received' })
      if (signals) ctx.onReceived?.()
      await sleep(localMs)
      const image = await png(request, '#446688')
      events.push({ prompt: request.prompt, at: at(), what: 'done' })
      return image
    },
  }
  return {
    provider,
    events,
    get maxNetwork() {
      return maxNetwork
    },
  }
}
