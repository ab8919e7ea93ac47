import type { DirectiveParams, ParsedDirective } from '../../types.js'
import { FLUX_SCHEME, findQueryStart, isDirectiveKey, unescapePrompt } from './grammar.js'
import { percentDecode } from './percent-decode.js'
import { findUnknownParams } from './unknown-params.js'

/**
 * Parses `flux:<prompt>?key=value&...`, or returns undefined when `text` is not a directive.
 *
 * - Whitespace around the whole text, around the prompt and around each value is trimmed
 *   (`flux: A lighthouse` is the prompt "A lighthouse").
 * - The query is the first `?` followed by `key=value` pairs with known keys (`DIRECTIVE_KEYS`)
 *   up to the end; any other `?` is prompt text ("What if?"; "Why??size=1024x1024" is "Why?").
 *   `\?` is always prompt text, read as `?` (`solve for x\?x=3` is the prompt "solve for x?x=3").
 * - The prompt and the values are percent-decoded after trimming (so `%20` keeps a space);
 *   malformed escapes stay as written. Keys are not decoded.
 * - A key given twice: the last one wins (as `URLSearchParams.get` would not, but as a
 *   user editing a long directive by appending `&size=...` expects); `ref` alone adds up
 *   (`?ref=a.png&ref=b.png` is `['a.png', 'b.png']`).
 * - `unknownParams` is set when the prompt ends with what looks like a query whose keys are
 *   not all known (a typo such as `?sise=1024x1024`); see `unknownParamsError`.
 */
export function parseDirective(text: string): ParsedDirective | undefined {
  const trimmed = text.trim()
  if (!trimmed.startsWith(FLUX_SCHEME)) return undefined
  const body = trimmed.slice(FLUX_SCHEME.length)
  const queryStart = findQueryStart(body, isDirectiveKey)
  const rawPrompt = queryStart < 0 ? body : body.slice(0, queryStart)
  const parsed: ParsedDirective = {
    prompt: percentDecode(unescapePrompt(rawPrompt)).trim(),
    params: queryStart < 0 ? {} : parseQuery(body.slice(queryStart + 1)),
  }
  const unknown = findUnknownParams(rawPrompt)
  if (unknown.length > 0) parsed.unknownParams = unknown
  return parsed
}

/** `key=value&...` whose keys were already checked by `findQueryStart`. */
function parseQuery(query: string): DirectiveParams {
  const params: DirectiveParams = {}
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=')
    const key = pair.slice(0, eq)
    if (!isDirectiveKey(key)) continue
    const value = percentDecode(pair.slice(eq + 1).trim())
    const before = params.ref
    if (key === 'ref' && before !== undefined) params.ref = [...[before].flat(), value]
    else params[key] = value
  }
  return params
}
