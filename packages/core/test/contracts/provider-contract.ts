/**
 * What every Provider must honour for the engine to trust it, as one suite (the way unstorage's
 * `testDriver` is run by each driver): `testProvider(name, make)` from each implementation's test.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDiskCache } from '../../src/cache/disk-cache.js'
import { requestKey } from '../../src/cache/request-key.js'
import { FluxError } from '../../src/errors.js'
import type { CanonicalRequest, Provider } from '../../src/types.js'

export interface ProviderUnderTest {
  provider: Provider
  /** Requests that reached the other side (a gateway's count), when the provider has one. */
  requests?: () => number
}

export interface ProviderContractOptions {
  /** Two sizes the provider serves, e.g. `64x48`. */
  sizes: readonly [string, string]
  /** Runs after the suite (a gateway to stop). */
  teardown?: () => Promise<void>
  /** The model asked for, when the provider speaks other names than the gateway's. @default 'flux-schnell' */
  model?: string
  /** Fields every request of this provider carries (BFL's `provider` and settings). */
  extra?: Partial<CanonicalRequest>
}

const silent = { info() {}, warn() {}, error() {} }
/** Unix seconds before this are before 2001; ones after it are milliseconds by mistake. */
const SECONDS = { from: 1e9, below: 1e11 }
const FORMATS = ['png', 'jpeg', 'webp']

let prompts = 0

export function testProvider(
  name: string,
  make: () => ProviderUnderTest | Promise<ProviderUnderTest>,
  { sizes, teardown, model = 'flux-schnell', extra = {} }: ProviderContractOptions,
): void {
  const requestOf = (size: string): CanonicalRequest => ({
    model,
    prompt: `contract prompt ${++prompts}`,
    size,
    quality: 'standard',
    ...extra,
  })
  describe(`provider contract: ${name}`, () => {
    let subject: ProviderUnderTest
    let cacheDir: string
    beforeAll(async () => {
      subject = await make()
      cacheDir = await mkdtemp(join(tmpdir(), 'flux-provider-contract-'))
    })
    afterAll(async () => {
      await subject.provider.close?.()
      await teardown?.()
      await rm(cacheDir, { recursive: true, force: true })
    })

    it('has a name and says whether its images are placeholders', () => {
      expect(subject.provider.name).toMatch(/^[a-z][a-z0-9-]*$/)
      expect(typeof subject.provider.placeholder).toBe('boolean')
    })

    it.each(sizes)('an image of %s: its format and dimensions are those of its bytes', async (size) => {
      const image = await subject.provider.generate(requestOf(size))
      expect(Buffer.isBuffer(image.bytes)).toBe(true)
      const decoded = await sharp(image.bytes).metadata()
      expect(FORMATS).toContain(image.format)
      expect({ format: decoded.format, width: decoded.width, height: decoded.height }).toEqual({
        format: image.format,
        width: image.width,
        height: image.height,
      })
      expect(`${image.width}x${image.height}`).toBe(size)
    })

    it('gives `created` in Unix seconds, not milliseconds', async () => {
      const { created } = await subject.provider.generate(requestOf(sizes[0]))
      expect(created).toBeGreaterThanOrEqual(SECONDS.from)
      expect(created).toBeLessThan(SECONDS.below)
    })

    it('an image it returns is stored and read back as is', async () => {
      const request = requestOf(sizes[0])
      const key = requestKey(request)
      const cache = createDiskCache({ dir: cacheDir, logger: silent })
      const image = await subject.provider.generate(request)
      const stored = await cache.put(key, request, image, {
        provider: subject.provider.name,
        placeholder: subject.provider.placeholder,
      })
      expect(await cache.get(key, { placeholder: true })).toEqual(stored)
      expect(stored.meta).toMatchObject({ width: image.width, height: image.height, format: image.format })
    })

    it('calls onReceived at most once, and before its image is handed back', async () => {
      const calls: string[] = []
      const generation = subject.provider.generate(requestOf(sizes[1]), {
        onReceived: () => calls.push('received'),
      })
      await generation
      calls.push('resolved')
      expect(calls.filter((c) => c === 'received').length).toBeLessThanOrEqual(1)
      expect(calls.at(-1)).toBe('resolved')
    })

    it('three requests at once each get their own image', async () => {
      const requests = [requestOf(sizes[0]), requestOf(sizes[1]), requestOf(sizes[0])]
      const images = await Promise.all(requests.map((r) => subject.provider.generate(r)))
      expect(images.map((i) => `${i.width}x${i.height}`)).toEqual(requests.map((r) => r.size))
    })

    it('an aborted signal: rejects (FLUX_INTERRUPTED or the signal’s reason) and asks nothing', async () => {
      const before = subject.requests?.()
      const controller = new AbortController()
      const reason = new Error('stopped by the contract')
      controller.abort(reason)
      const err = await subject.provider.generate(requestOf(sizes[0]), { signal: controller.signal }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err === reason || FluxError.is(err, 'FLUX_INTERRUPTED'), String(err)).toBe(true)
      expect(subject.requests?.()).toBe(before)
    })

    it('a size it cannot make: rejects with a FluxError that says so', async () => {
      const err = await subject.provider.generate(requestOf('0x0')).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(FluxError.is(err), String(err)).toBe(true)
      expect(String((err as FluxError).message)).toMatch(/size|0x0/i)
    })

    it('close() resolves, and may be called again', async () => {
      const fresh = await make()
      await fresh.provider.close?.()
      await fresh.provider.close?.()
    })
  })
}
