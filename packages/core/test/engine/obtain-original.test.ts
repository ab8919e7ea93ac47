import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { OriginalStore } from '../../src/cache/original-store.js'
import { requestKey } from '../../src/cache/request-key.js'
import { createBudget } from '../../src/engine/budget.js'
import {
  createObtainOriginal,
  type ObtainCollaborators,
  type ObtainOriginal,
} from '../../src/engine/obtain-original.js'
import { createRequestSlots } from '../../src/engine/request-slots.js'
import { FluxError } from '../../src/errors.js'
import type { CanonicalRequest, GeneratedImage } from '../../src/types.js'
import { createMemoryBacking, createMemoryStore } from '../contracts/memory-store.js'
import { fakeProvider } from '../fakes/providers.js'

const request = (prompt: string): CanonicalRequest => ({
  model: 'flux-schnell',
  prompt,
  size: '16x12',
  quality: 'standard',
})
const a = request('a lighthouse')
const b = request('a harbour')

let dir: string
let cache: OriginalStore
let locks: number
/** Called when the step makes its provider: it has read the cache and is about to pay. */
let onProvide: (() => void) | undefined
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-obtain-'))
  const store = createMemoryStore(createMemoryBacking(dir))
  locks = 0
  onProvide = undefined
  // The store, counting the leases taken.
  cache = {
    ...store,
    withLock: (key, fn, opts) => {
      locks++
      return store.withLock(key, fn, opts)
    },
  }
})
afterEach(() => rm(dir, { recursive: true, force: true }))

/** The step over the memory store and a fake gateway, with the given mode, budget and provider kind. */
function setUp(overrides: Partial<ObtainCollaborators> & { max?: number } = {}) {
  const fake = fakeProvider({ latencyMs: 1 })
  let made = 0
  const obtain: ObtainOriginal = createObtainOriginal({
    cache,
    provider: () => {
      made++
      onProvide?.()
      return fake.provider
    },
    slots: createRequestSlots(2),
    budget: createBudget(overrides.max ?? 10),
    mode: 'auto',
    placeholder: false,
    ...overrides,
  })
  return {
    obtain,
    fake,
    get made() {
      return made
    },
  }
}

async function png(): Promise<GeneratedImage> {
  const bytes = await sharp({ create: { width: 16, height: 12, channels: 3, background: '#123456' } })
    .png()
    .toBuffer()
  return { bytes, format: 'png', width: 16, height: 12, created: 1_700_000_000 }
}

describe('obtainOriginal', () => {
  it('a cached original: read, no provider made, no request, no lease, no charge', async () => {
    await cache.put(requestKey(a), a, await png(), { provider: 'earlier', placeholder: false })
    const budget = createBudget(0)
    const step = setUp({ budget })
    const got = await step.obtain(requestKey(a), a)
    expect(got.outcome).toBe('cached')
    expect([step.made, step.fake.total, locks, budget.spent]).toEqual([0, 0, 0, 0])
  })

  it('a missing original: requested once under its lease, stored, charged', async () => {
    const budget = createBudget(5)
    const step = setUp({ budget })
    const got = await step.obtain(requestKey(a), a)
    expect(got.outcome).toBe('generated')
    expect(await cache.check(requestKey(a))).toBe('cached')
    expect([step.fake.total, locks, budget.spent]).toEqual([1, 1, 1])
  })

  it('identical keys asked at once share one request', async () => {
    const step = setUp()
    const both = await Promise.all([step.obtain(requestKey(a), a), step.obtain(requestKey(a), a)])
    expect(both[0]).toBe(both[1])
    expect(step.fake.total).toBe(1)
  })

  it('frozen: a missing original is FLUX_MISSING_FROZEN, and no provider is made', async () => {
    const step = setUp({ mode: 'frozen' })
    const err = await step.obtain(requestKey(a), a).catch((e: unknown) => e)
    expect(FluxError.is(err, 'FLUX_MISSING_FROZEN')).toBe(true)
    expect([step.made, locks]).toEqual([0, 0])
  })

  it('the budget: the request past the cap is FLUX_BUDGET and never sent', async () => {
    const step = setUp({ max: 1 })
    await step.obtain(requestKey(a), a)
    const err = await step.obtain(requestKey(b), b).catch((e: unknown) => e)
    expect(FluxError.is(err, 'FLUX_BUDGET')).toBe(true)
    expect(step.fake.total).toBe(1)
  })

  it('a refusal is remembered; the next ask is refused without a request, unless forced', async () => {
    const step = setUp()
    const fake = fakeProvider({ fail: () => new FluxError('FLUX_MODERATED', 'content_policy_violation') })
    const refusing = setUp({ provider: () => fake.provider })
    await expect(refusing.obtain(requestKey(a), a)).rejects.toThrow(/content_policy_violation/)
    expect((await cache.refusals.get(requestKey(a)))?.detail).toBe('content_policy_violation')
    const again = await step.obtain(requestKey(a), a).catch((e: unknown) => e)
    expect(FluxError.is(again, 'FLUX_MODERATED') && again.detail).toMatch(/remembered from an earlier run/)
    expect(step.fake.total).toBe(0)
    expect((await step.obtain(requestKey(a), a, { force: true })).outcome).toBe('generated')
    expect(step.fake.total).toBe(1)
    expect(await cache.refusals.get(requestKey(a))).toBeUndefined()
  })

  it('placeholders: made without a lease and without a charge', async () => {
    const budget = createBudget(0)
    const step = setUp({ placeholder: true, budget })
    const got = await step.obtain(requestKey(a), a)
    expect(got.outcome).toBe('placeholder')
    expect(got.entry.placeholder).toBe(true)
    expect([locks, budget.spent]).toEqual([0, 0])
  })

  it('stored by another holder while this one waited for the lease: read, not paid again', async () => {
    const budget = createBudget(5)
    const step = setUp({ budget })
    let stored = false
    // The holder stores the image once this engine has found it missing and is about to pay.
    const waiting = new Promise<void>((resolve) => {
      onProvide = resolve
    })
    const holder = cache.withLock(requestKey(a), async () => {
      await waiting
      await cache.put(requestKey(a), a, await png(), { provider: 'other process', placeholder: false })
      stored = true
    })
    const got = await step.obtain(requestKey(a), a)
    await holder
    expect(stored).toBe(true)
    expect(got.outcome).toBe('cached')
    expect([step.fake.total, budget.spent]).toEqual([0, 0])
  })
})
