import { type FluxError, fluxError } from '../../errors.js'
import { nearest } from '../../nearest-name.js'
import type { SourceLocation } from '../../types.js'
import { DIRECTIVE_KEYS, findQueryStart, isDirectiveKey, isOptionName } from './grammar.js'

/**
 * The unknown option names of a trailing `?name=value&...` run in a prompt as written (before
 * percent-decoding), e.g. `["sise"]` for `a cat?sise=1024x1024`. Such a run is not a query (one
 * of its keys is unknown), so the whole of it would be read as prompt text: usually a typo, and
 * an error (`unknownParamsError`). Empty when there is no such run. Writing the `?` as `\?` (or
 * `%3F`) marks it as meant.
 */
export function findUnknownParams(rawPrompt: string): string[] {
  const start = findQueryStart(rawPrompt, isOptionName)
  if (start < 0) return []
  const unknown: string[] = []
  for (const pair of rawPrompt.slice(start + 1).split('&')) {
    const name = pair.slice(0, pair.indexOf('='))
    if (!isDirectiveKey(name) && !unknown.includes(name)) unknown.push(name)
  }
  return unknown
}

/**
 * The error of a directive with `findUnknownParams`' names (`?sise=1536x1024`): each with the
 * nearest option, located. Such a directive is never sent: its prompt would carry the typo, paid.
 */
export function unknownParamsError(names: readonly string[], location?: SourceLocation): FluxError {
  return fluxError(
    'FLUX_UNKNOWN_OPTION',
    { names, nearest: names.map((name) => nearest(name, DIRECTIVE_KEYS)), known: DIRECTIVE_KEYS },
    { location },
  )
}
