import { DIRECTIVE_KEYS, findQueryStart, isDirectiveKey, isOptionName } from './grammar.js'

/**
 * The unknown option names of a trailing `?name=value&...` run in a prompt as written (before
 * percent-decoding), e.g. `["sise"]` for `a cat?sise=1024x1024`. Such a run is not a query (one
 * of its keys is unknown), so the whole of it was read as prompt text: usually a typo. Empty
 * when there is no such run. Writing the `?` as `%3F` marks it as meant.
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

/** The warning for `findUnknownParams`' result, for the engine's logger. */
export function describeUnknownParams(names: readonly string[]): string {
  const list = names.map((n) => `\`${n}\``).join(', ')
  const s = names.length === 1 ? '' : 's'
  return (
    `unknown option${s} ${list} (known: ${DIRECTIVE_KEYS.join(', ')}); ${names.length === 1 ? 'it was' : 'they were'} ` +
    'read as part of the prompt. Fix the name, or write the `?` as `%3F` if it belongs to the prompt.'
  )
}
