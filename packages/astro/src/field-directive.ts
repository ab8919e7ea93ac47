import type { DirectiveParams } from '@flux-images/core'
import { DIRECTIVE_KEYS, parseDirective } from '@flux-images/core/runtime'

/** A frontmatter directive's object form: `{ flux, size, model, quality, seed, alt, preset, ref }`. */
export interface ObjectForm {
  flux: string
  model?: string | undefined
  size?: string | undefined
  quality?: string | undefined
  seed?: string | number | undefined
  alt?: string | undefined
  preset?: string | undefined
  ref?: string | string[] | undefined
}

/**
 * The directive of a field's value, string or object form (the object's fields win over the
 * query), as core's frontmatter scanner reads it; undefined when it holds none.
 */
export function fieldDirective(
  value: string | ObjectForm,
): { prompt: string; params: DirectiveParams } | undefined {
  const text = typeof value === 'string' ? value : `flux:${value.flux.replace(/^flux:/, '')}`
  const parsed = parseDirective(text)
  if (!parsed || parsed.prompt === '') return undefined
  const params: DirectiveParams = { ...parsed.params }
  if (typeof value !== 'string') {
    for (const key of DIRECTIVE_KEYS) {
      const given = value[key]
      if (key === 'ref' && Array.isArray(given)) params.ref = given.map(String)
      else if (given !== undefined) params[key] = String(given)
    }
  }
  return { prompt: parsed.prompt, params }
}
