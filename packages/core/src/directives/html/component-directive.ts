import type { DirectiveParams, ParsedDirective } from '../../types.js'
import { DIRECTIVE_KEYS } from '../grammar/grammar.js'
import { withAlt } from '../scan-context.js'

/**
 * The directive of `<FluxImage prompt="..." size="..." alt="..." />` from its props: the scanner's
 * static attributes or, as it renders, the component's own props, so both make one request. The
 * prompt is taken literally (no query, no percent-decoding), trimmed; every option but `ref` (a
 * framework's attribute on a component); `alt` as an image's alt. Undefined without a prompt.
 */
export function componentDirective(props: Record<string, unknown>): ParsedDirective | undefined {
  if (typeof props.prompt !== 'string') return undefined
  const params: DirectiveParams = {}
  for (const key of DIRECTIVE_KEYS) {
    const value = props[key]
    if (key !== 'alt' && key !== 'ref' && value !== undefined) params[key] = String(value).trim()
  }
  const alt = props.alt === undefined ? undefined : String(props.alt)
  return withAlt({ prompt: props.prompt.trim(), params }, alt)
}
