import type { CacheEntryMeta } from '../cache/index.js'
import type { CanonicalRequest } from '../types.js'
import type { PlanItem } from './plan.js'

/** A parameter of the request whose change gives an image a new key (and a new bill). */
export type RekeyCause = 'model' | 'size' | 'quality' | 'seed' | 'prompt'

/** The parameters compared, in the order messages name them. */
const PARAMETERS = ['model', 'size', 'quality', 'seed'] as const

/** A cached original that no directive uses any more, and why. */
export interface UnusedOriginal {
  key: string
  /** The request it was generated for (from its metadata). */
  request: CanonicalRequest
  /**
   * What changed: the parameters in which it differs from `now` (`['size']` after `size` changed
   * in flux.config.mjs), or `['prompt']` when no directive sends its prompt any more.
   */
  causes: RekeyCause[]
  /** The image a directive now asks for with the same prompt, when there is one. */
  now?: PlanItem
}

/**
 * The originals (real ones, from their metadata) that no planned image uses, each matched by its
 * stored request to the directive that sends the same prompt today, and what re-keyed it: for
 * `generate --dry-run`, so that a change of `model` or `size` is seen to orphan paid images.
 *
 * The match is by the prompt as sent. Presets (a template around the written prompt) add one more
 * cause: an original whose sent prompt no directive sends, but whose written prompt one still
 * writes, was re-keyed by the preset's text. That needs the written prompt in the request's
 * metadata; `matchOf` is the one place to compare it.
 */
export function unusedOriginals(
  items: readonly PlanItem[],
  originals: readonly CacheEntryMeta[],
): UnusedOriginal[] {
  const used = new Set(items.map((item) => item.key))
  const byPrompt = new Map<string, PlanItem[]>()
  for (const item of items) {
    const same = byPrompt.get(item.request.prompt)
    if (same) same.push(item)
    else byPrompt.set(item.request.prompt, [item])
  }
  return originals
    .filter((meta) => !used.has(meta.key))
    .map((meta) => ({ key: meta.key, request: meta.request, ...matchOf(meta.request, byPrompt) }))
}

/** The image asking for the same prompt with the fewest changed parameters, and those changes. */
function matchOf(
  request: CanonicalRequest,
  byPrompt: ReadonlyMap<string, PlanItem[]>,
): { causes: RekeyCause[]; now?: PlanItem } {
  let best: { causes: RekeyCause[]; now: PlanItem } | undefined
  for (const item of byPrompt.get(request.prompt) ?? []) {
    const causes = PARAMETERS.filter((name) => request[name] !== item.request[name])
    if (!best || causes.length < best.causes.length) best = { causes, now: item }
  }
  return best ?? { causes: ['prompt'] }
}
