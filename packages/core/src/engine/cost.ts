import { BFL_MODELS } from '../bfl-models.js'
import type { Price } from '../options.js'
import type { CanonicalRequest } from '../types.js'

/** One megapixel as image price lists count it: 1024x1024 is priced as 1 MP. */
export const MEGAPIXEL = 1024 * 1024

/**
 * The estimated price of one request: its model's `prices` entry, per image or per megapixel of
 * its size, each megapixel begun counted whole (1536x1024 is 2 MP); else, on BFL, its model's list
 * price, each reference image counted as a further megapixel (as BFL bills input images); else 0.
 * Every estimate reads it: dry runs, summaries, the studio, and `maxSpend` before a submit.
 */
export function priceOf(
  request: Pick<CanonicalRequest, 'model' | 'size'> &
    Partial<Pick<CanonicalRequest, 'provider' | 'references'>>,
  prices: Readonly<Record<string, Price>>,
): number {
  const listed = request.provider === 'bfl' ? BFL_MODELS.get(request.model)?.price : undefined
  const price: Price | undefined =
    prices[request.model] ??
    (listed &&
      ('perImage' in listed
        ? listed.perImage
        : { first: listed.firstMegapixel, perMegapixel: listed.perExtraMegapixel }))
  if (price === undefined) return 0
  if (typeof price === 'number') return price
  const [width = 0, height = 0] = request.size.split('x').map(Number)
  const megapixels = Math.max(1, Math.ceil((width * height) / MEGAPIXEL))
  const inputs = Object.hasOwn(prices, request.model) ? 0 : (request.references?.length ?? 0)
  return (price.first ?? price.perMegapixel) + price.perMegapixel * (megapixels - 1 + inputs)
}

/** Estimated cost in USD of generating these requests once each. */
export function plannedCost(
  items: readonly { request: CanonicalRequest }[],
  prices: Readonly<Record<string, Price>>,
): number {
  return items.reduce((sum, item) => sum + priceOf(item.request, prices), 0)
}

/** Count and cost by model, for dry runs and summaries. */
export function costByModel(
  items: readonly { request: CanonicalRequest }[],
  prices: Readonly<Record<string, Price>>,
): Map<string, { count: number; cost: number }> {
  const byModel = new Map<string, { count: number; cost: number }>()
  for (const { request } of items) {
    const row = byModel.get(request.model) ?? { count: 0, cost: 0 }
    row.count++
    row.cost += priceOf(request, prices)
    byModel.set(request.model, row)
  }
  return byModel
}
