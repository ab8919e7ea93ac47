import type { CanonicalRequest } from '../types.js'

/** Estimated cost in USD of generating these requests once each, from a per-model price table. */
export function plannedCost(
  items: readonly { request: CanonicalRequest }[],
  prices: Readonly<Record<string, number>>,
): number {
  return items.reduce((sum, item) => sum + (prices[item.request.model] ?? 0), 0)
}

/** Count and cost by model, for dry runs and summaries. */
export function costByModel(
  items: readonly { request: CanonicalRequest }[],
  prices: Readonly<Record<string, number>>,
): Map<string, { count: number; cost: number }> {
  const byModel = new Map<string, { count: number; cost: number }>()
  for (const { request } of items) {
    const row = byModel.get(request.model) ?? { count: 0, cost: 0 }
    row.count++
    row.cost += prices[request.model] ?? 0
    byModel.set(request.model, row)
  }
  return byModel
}
