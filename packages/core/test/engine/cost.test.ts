import { describe, expect, it } from 'vitest'
import { costByModel, plannedCost, priceOf } from '../../src/engine/cost.js'
import { resolveOptions } from '../../src/options.js'

const PRICES = {
  'flux-1.1-pro': 0.04,
  'flux-2-pro': { perMegapixel: 0.015, first: 0.03 },
  flat: { perMegapixel: 0.02 },
}
const request = (model: string, size: string) => ({ model, size, prompt: 'p', quality: 'standard' as const })

describe('priceOf', () => {
  it("reads BFL's list price where `prices` names none, an input image as a further megapixel", () => {
    const bfl = (model: string, size: string, references = 0) => ({
      ...request(model, size),
      provider: 'bfl' as const,
      references: Array.from({ length: references }, (_, i) => `${i}`.repeat(64)),
    })
    expect(priceOf(bfl('flux-2-pro', '1024x1024'), {})).toBeCloseTo(0.03, 10)
    expect(priceOf(bfl('flux-2-pro', '1536x1024', 2), {})).toBeCloseTo(0.03 + 0.015 * 3, 10)
    expect(priceOf(bfl('flux-pro-1.1', '1024x1024', 0), {})).toBe(0.04)
    // A price of the user's own wins, and says nothing of input images.
    expect(priceOf(bfl('flux-2-pro', '1024x1024', 2), { 'flux-2-pro': 0.5 })).toBe(0.5)
    // The gateway's models have no list price here: only `prices`.
    expect(priceOf(request('flux-2-pro', '1024x1024'), {})).toBe(0)
  })

  it('is 0 for a model without a price', () => {
    expect(priceOf(request('unknown', '1024x1024'), PRICES)).toBe(0)
  })

  it('is the price of the image, whatever its size, for a per-image price', () => {
    expect(priceOf(request('flux-1.1-pro', '1024x1024'), PRICES)).toBe(0.04)
    expect(priceOf(request('flux-1.1-pro', '1536x1024'), PRICES)).toBe(0.04)
  })

  it('counts each megapixel begun (1024x1024 is 1 MP): the first at `first`, the others at `perMegapixel`', () => {
    expect(priceOf(request('flux-2-pro', '1024x1024'), PRICES)).toBeCloseTo(0.03, 10)
    expect(priceOf(request('flux-2-pro', '768x1344'), PRICES)).toBeCloseTo(0.03, 10)
    expect(priceOf(request('flux-2-pro', '1536x1024'), PRICES)).toBeCloseTo(0.045, 10)
    expect(priceOf(request('flux-2-pro', '2048x2048'), PRICES)).toBeCloseTo(0.075, 10)
    expect(priceOf(request('flat', '1536x1024'), PRICES)).toBeCloseTo(0.04, 10)
  })

  it('sums and groups both shapes', () => {
    const items = [request('flux-1.1-pro', '1024x1024'), request('flux-2-pro', '1536x1024')].map((r) => ({
      request: r,
    }))
    expect(plannedCost(items, PRICES)).toBeCloseTo(0.085, 10)
    expect(costByModel(items, PRICES).get('flux-2-pro')).toEqual({
      count: 1,
      cost: expect.closeTo(0.045, 10),
    })
  })
})

describe('the prices option', () => {
  it('accepts both shapes, merged over the defaults', () => {
    const { prices } = resolveOptions({ prices: PRICES }, { env: {} })
    expect(prices['flux-2-pro']).toEqual({ perMegapixel: 0.015, first: 0.03 })
    expect(prices['flux-schnell']).toBe(0.003)
  })

  it.each([
    [{ 'flux-2-pro': { first: 0.03 } }, 'prices.flux-2-pro'],
    [{ 'flux-2-pro': { perMegapixel: -1 } }, 'prices.flux-2-pro'],
    [{ 'flux-2-pro': { perMegapixel: 0.01, firstMP: 0.03 } }, 'prices.flux-2-pro'],
    [{ 'flux-2-pro': '0.03' }, 'prices.flux-2-pro'],
  ])('refuses %j, naming the path and both shapes', (prices, path) => {
    expect(() => resolveOptions({ prices } as never, { env: {} })).toThrow(
      `${path}: Expected a price in USD from 0 and up per image, or { perMegapixel, first? } in USD`,
    )
  })
})
