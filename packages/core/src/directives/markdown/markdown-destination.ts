import { decodeMarkdownReference, MARKDOWN_REFERENCE } from '../grammar/entities.js'
import { FLUX_SCHEME } from '../grammar/grammar.js'

/** A directive's destination in `![alt](...)`. */
export interface Destination {
  /** Where `flux:` starts, and the destination as written. */
  offset: number
  raw: string
  /** The destination's value: escapes and entities resolved. */
  value: string
  /** After the image's closing `)`. */
  resume: number
}

/** Spaces and tabs, and at most one line ending, as CommonMark allows before a destination. */
export function skipDestinationSpace(masked: string, from: number, end: number): number {
  let i = from
  let newlines = 0
  while (i < end) {
    const c = masked.charCodeAt(i)
    if (c === 32 || c === 9) i++
    else if ((c === 10 || c === 13) && newlines === 0) {
      newlines++
      i += c === 13 && masked.charCodeAt(i + 1) === 10 ? 2 : 1
    } else break
  }
  return i
}

/** `<flux:...>` then an optional title, then `)`. No line break and no unescaped `<` inside. */
export function angleDestination(
  text: string,
  masked: string,
  lt: number,
  end: number,
): Destination | undefined {
  let gt = lt + 1
  while (gt < end) {
    const c = masked.charCodeAt(gt)
    if (c === 62) break
    if (c === 60 || c === 10 || c === 13) return undefined
    gt++
  }
  if (gt >= end) return undefined
  const written = text.slice(lt + 1, gt)
  const raw = written.trim()
  if (!raw.startsWith(FLUX_SCHEME)) return undefined
  const resume = afterTitle(masked, gt + 1, end)
  if (resume < 0) return undefined
  return {
    offset: lt + 1 + written.length - written.trimStart().length,
    raw,
    value: resolveEscapes(raw),
    resume,
  }
}

/** Skips `[space] ["title" | 'title' | (title)] [space]` and returns the offset after `)`, or -1. */
function afterTitle(masked: string, from: number, end: number): number {
  let i = skipDestinationSpace(masked, from, end)
  const q = masked.charCodeAt(i)
  if ((q === 34 || q === 39 || q === 40) && i > from) {
    const closer = q === 40 ? 41 : q
    let j = i + 1
    while (j < end && masked.charCodeAt(j) !== closer) {
      if (q === 40 && masked.charCodeAt(j) === 40) return -1
      j++
    }
    if (j >= end) return -1
    i = skipDestinationSpace(masked, j + 1, end)
  }
  return masked.charCodeAt(i) === 41 && i < end ? i + 1 : -1
}

/** `flux:prompt with spaces (and parentheses)` up to the `)` matching the image's `(`. */
export function typedDestination(text: string, at: number, closeParen: number): Destination | undefined {
  if (closeParen < 0) return undefined
  const content = text.slice(at, closeParen)
  const raw = content.slice(0, destinationLength(content)).trimEnd()
  return { offset: at, raw, value: resolveEscapes(joinLines(raw)), resume: closeParen + 1 }
}

/**
 * The length of the destination in `dest "title"`: CommonMark's reading (a destination without
 * spaces, then a quoted title) when it applies, else the whole content, so that a prompt such as
 * `a sign saying "hello"` keeps its quotes.
 */
function destinationLength(content: string): number {
  const space = content.search(/\s/)
  if (space < 0) return content.length
  const title = content.slice(space).trim()
  const q = title[0]
  const closer = q === '(' ? ')' : q
  if ((q !== '"' && q !== "'" && q !== '(') || title.length < 2 || !title.endsWith(closer as string)) {
    return content.length
  }
  const inner = title.slice(1, -1)
  for (let k = 0; k < inner.length; k++) {
    const ch = inner[k]
    if (ch === '\\') k++
    else if (ch === q || ch === closer) return content.length
  }
  return space
}

/** Soft line breaks inside a destination read as single spaces. */
function joinLines(text: string): string {
  if (!text.includes('\n') && !text.includes('\r')) return text
  return text
    .split(/\r\n|\r|\n/)
    .map((line) => line.trim())
    .join(' ')
}

// One left-to-right pass, as CommonMark reads them: `\&amp;` is a literal `&` then `amp;`.
const ESCAPE_OR_ENTITY = new RegExp(`\\\\([!-/:-@[-\`{-~])|(${MARKDOWN_REFERENCE.source})`, 'g')

/** Resolves backslash escapes and character references. */
function resolveEscapes(text: string): string {
  if (!text.includes('\\') && !text.includes('&')) return text
  return text.replace(
    ESCAPE_OR_ENTITY,
    (whole: string, escaped: string | undefined) => escaped ?? decodeMarkdownReference(whole),
  )
}

/**
 * Markdown text as the processors give it (mdast's text of an alt, or of a text node without
 * smart punctuation): escapes and character references resolved, spaces kept, a soft line break
 * read as `\n` without the spaces around it, a hard break (two spaces or a backslash before the
 * line ending) dropped.
 */
export function plainText(alt: string): string {
  const lines = alt.split(/\r\n|\r|\n/)
  return lines
    .map((line, k) => {
      // Measured by hand: an anchored regex would rescan long runs of blanks (quadratic).
      const text = k === 0 ? line : line.slice(blanks(line, 0, 1))
      if (k === lines.length - 1) return resolveEscapes(text)
      const backslash = trailing(text, 92) % 2 === 1
      const hard = backslash || trailing(text, 32) >= 2
      const kept = backslash ? text.slice(0, -1) : text.slice(0, blanks(text, text.length - 1, -1) + 1)
      return resolveEscapes(kept) + (hard ? '' : '\n')
    })
    .join('')
}

/** From `at`, stepping by `step`, the first offset that is not a space or a tab. */
function blanks(text: string, at: number, step: 1 | -1): number {
  let i = at
  while (i >= 0 && i < text.length && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i += step
  return i
}

function trailing(text: string, char: number): number {
  let i = text.length
  while (i > 0 && text.charCodeAt(i - 1) === char) i--
  return text.length - i
}
