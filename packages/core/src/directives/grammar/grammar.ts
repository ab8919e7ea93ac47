import type { DirectiveParams } from '../../types.js'

/** Every directive starts with this scheme (case-sensitive, like Vite module ids). */
export const FLUX_SCHEME = 'flux:'

/**
 * The options a directive's `?key=value&...` part may set. A `?` followed by anything else
 * belongs to the prompt. Later options are added here (and to `DirectiveParams`).
 */
export const DIRECTIVE_KEYS = [
  'model',
  'size',
  'quality',
  'seed',
  'alt',
  'preset',
  'ref',
] as const satisfies readonly (keyof DirectiveParams)[]

export type DirectiveKey = (typeof DIRECTIVE_KEYS)[number]

const KNOWN: ReadonlySet<string> = new Set(DIRECTIVE_KEYS)

export function isDirectiveKey(name: string): name is DirectiveKey {
  return KNOWN.has(name)
}

/** Any name that looks like an option, known or not: a letter, then letters, digits, `_` or `-`. */
export function isOptionName(name: string): boolean {
  return name.length > 0 && optionNameEnd(name, 0, name.length) === name.length
}

/** The end of the option-like name at `start` (`start` itself when there is none). */
export function optionNameEnd(text: string, start: number, end: number): number {
  if (start >= end || !isLetter(text.charCodeAt(start))) return start
  let i = start + 1
  while (i < end && isNameChar(text.charCodeAt(i))) i++
  return i
}

/** The key of `key=value` spanning [start, end) when the key passes `accept`, else undefined. */
export function pairKey(
  text: string,
  start: number,
  end: number,
  accept: (name: string) => boolean,
): string | undefined {
  const nameEnd = optionNameEnd(text, start, end)
  if (nameEnd === start || nameEnd >= end || text.charCodeAt(nameEnd) !== 61) return undefined
  const name = text.slice(start, nameEnd)
  return accept(name) ? name : undefined
}

/**
 * Where the query starts: the first `?` followed by `key=value` pairs (joined by `&`, every key
 * accepted) up to the end of `text`; -1 when there is none. Values may contain `?` and `=`, not
 * `&`. An escaped `\?` never starts one (`isEscapedQuestionMark`). One right-to-left pass, so
 * linear whatever the input.
 */
export function findQueryStart(text: string, accept: (name: string) => boolean): number {
  let found = -1
  // Whether every `&`-separated segment after the current one is an accepted pair.
  let restValid = true
  let segmentEnd = text.length
  for (let i = text.length - 1; i >= 0; i--) {
    const c = text.charCodeAt(i)
    if (c === 38) {
      restValid = restValid && pairKey(text, i + 1, segmentEnd, accept) !== undefined
      segmentEnd = i
    } else if (
      c === 63 &&
      restValid &&
      !isEscapedQuestionMark(text, i) &&
      pairKey(text, i + 1, segmentEnd, accept) !== undefined
    ) {
      found = i
    }
  }
  return found
}

/**
 * True when the `?` at `i` is written `\?`: prompt text, for a prompt that really ends in `?a=b`
 * (`flux:solve for x\?x=3`). The backslash is dropped from the prompt (`unescapePrompt`).
 */
export function isEscapedQuestionMark(text: string, i: number): boolean {
  return i > 0 && text.charCodeAt(i - 1) === 92
}

/** A prompt as written, its `\?` read as `?` (before percent-decoding: `%5C?` is not an escape). */
export function unescapePrompt(raw: string): string {
  return raw.includes('\\?') ? raw.replaceAll('\\?', '?') : raw
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
}

function isNameChar(c: number): boolean {
  return isLetter(c) || (c >= 48 && c <= 57) || c === 95 || c === 45
}
