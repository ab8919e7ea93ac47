import type { ParsedDirective } from '../../types.js'
import { DIRECTIVE_KEYS, FLUX_SCHEME, isEscapedQuestionMark, optionNameEnd } from './grammar.js'
import { isPercentEscape } from './percent-decode.js'

/**
 * The canonical text of a directive: `flux:<prompt>?model=..&size=..&quality=..&seed=..&alt=..`
 * (keys in `DIRECTIVE_KEYS` order, unset ones left out). Escapes only what must be escaped, so
 * the text stays readable: a `%` that would read as an escape, a `?` followed by `name=` or after
 * a `\` in the prompt, a last `\` of the prompt before options, a `&` in a value, and whitespace at either end
 * of a value. Spaces stay spaces.
 * `parseDirective(formatDirective(d))` deep-equals `d` for every `d` whose prompt is trimmed and
 * that has no `unknownParams` (a diagnostic that formatting never reproduces).
 */
export function formatDirective(directive: ParsedDirective): string {
  const pairs: string[] = []
  for (const key of DIRECTIVE_KEYS) {
    for (const value of [directive.params[key] ?? []].flat()) pairs.push(`${key}=${encodeValue(value)}`)
  }
  const query = pairs.length > 0 ? `?${pairs.join('&')}` : ''
  return `${FLUX_SCHEME}${encodePrompt(directive.prompt, query !== '')}${query}`
}

function encodePrompt(prompt: string, query: boolean): string {
  let out = ''
  let from = 0
  for (let i = 0; i < prompt.length; i++) {
    const c = prompt.charCodeAt(i)
    // Any `?name=`, not only known keys: a prompt formatted today must not change meaning
    // when an option is added tomorrow, nor trip the unknown-option error. A `?` after a `\`
    // would read as the escape `\?`, and a last `\` would escape the query's `?`.
    const encode =
      c === 37
        ? isPercentEscape(prompt, i)
        : c === 63
          ? startsPair(prompt, i + 1) || isEscapedQuestionMark(prompt, i)
          : c === 92 && query && i === prompt.length - 1
    if (encode) {
      out += `${prompt.slice(from, i)}${c === 37 ? '%25' : c === 63 ? '%3F' : '%5C'}`
      from = i + 1
    }
  }
  return out + prompt.slice(from)
}

function startsPair(text: string, start: number): boolean {
  const end = optionNameEnd(text, start, text.length)
  return end > start && text.charCodeAt(end) === 61
}

function encodeValue(value: string): string {
  // Parsing trims each value before decoding, so edge whitespace survives only as escapes.
  const lead = value.length - value.trimStart().length
  const trail = lead === value.length ? 0 : value.length - value.trimEnd().length
  const middle = value.slice(lead, value.length - trail)
  let out = ''
  for (let i = 0; i < middle.length; i++) {
    const ch = middle[i] as string
    out += ch === '&' ? '%26' : ch === '%' && isPercentEscape(middle, i) ? '%25' : ch
  }
  return encodeEdge(value.slice(0, lead)) + out + encodeEdge(value.slice(value.length - trail))
}

function encodeEdge(whitespace: string): string {
  return whitespace === '' ? '' : encodeURIComponent(whitespace)
}
