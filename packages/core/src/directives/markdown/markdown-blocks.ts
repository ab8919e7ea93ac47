import { readTag } from '../html/html-tag.js'

/**
 * What a markdown line is, for directive purposes:
 * - `text`: paragraph, heading, list or table text, where inline markdown applies;
 * - `html`: an HTML block line (CommonMark types 6 and 7, and `<pre>`): only `<img>` tags count;
 * - `code`: fenced or indented code, fence lines, and raw HTML blocks (script, style, comments...);
 * - `esm`: an MDX `import`/`export` block;
 * - `blank`: only whitespace.
 */
export type LineKind = 'text' | 'html' | 'code' | 'esm' | 'blank'

export interface MarkdownLine {
  start: number
  /** Before the line ending. */
  end: number
  kind: LineKind
}

interface Fence {
  char: number
  length: number
  /** The column of the list item the fence is in (0 outside lists). */
  base: number
  quotes: number
}

interface BlockState {
  fence: Fence | undefined
  /** The open HTML block: what ends it, and how its lines count. */
  html: { end: RegExp | 'blank'; kind: LineKind } | undefined
  esm: boolean
  /** A paragraph is open, so the next line may be a lazy continuation. */
  paragraph: boolean
  /** The content columns of the open list items, innermost last. */
  lists: number[]
  quotes: number
}

/**
 * Splits [start, end) into lines (`\n`, `\r\n`, `\r`) and classifies each with a CommonMark
 * block parser reduced to what decides where code is: fences (``` and ~~~, 3 or more, up to 3
 * spaces in, closed by a fence of the same kind at least as long, or by the end of their list
 * item or block quote), indented code (not in MDX), HTML blocks (not in MDX), list items and
 * block quotes. One pass, constant work per character.
 */
export function classifyLines(text: string, start: number, end: number, mdx: boolean): MarkdownLine[] {
  const lines: MarkdownLine[] = []
  const state: BlockState = {
    fence: undefined,
    html: undefined,
    esm: false,
    paragraph: false,
    lists: [],
    quotes: 0,
  }
  let i = start
  while (i < end) {
    let j = i
    while (j < end && text.charCodeAt(j) !== 10 && text.charCodeAt(j) !== 13) j++
    lines.push({ start: i, end: j, kind: classifyLine(text, i, j, state, mdx) })
    i = text.charCodeAt(j) === 13 && text.charCodeAt(j + 1) === 10 ? j + 2 : j + 1
  }
  return lines
}

interface Indent {
  /** First non-blank character. */
  at: number
  /** Its column, tabs expanded to multiples of 4, counted from the start of the container. */
  column: number
}

function measure(text: string, from: number, end: number): Indent {
  let column = 0
  let i = from
  for (; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c === 32) column++
    else if (c === 9) column += 4 - (column % 4)
    else break
  }
  return { at: i, column }
}

function classifyLine(text: string, start: number, end: number, state: BlockState, mdx: boolean): LineKind {
  const { quotes, content } = stripQuotes(text, start, end, state.fence?.quotes ?? Number.POSITIVE_INFINITY)
  const indent = measure(text, content, end)
  const blank = indent.at >= end
  if (state.fence !== undefined) {
    const fence = state.fence
    const closed = quotes < fence.quotes || (!blank && indent.column < fence.base)
    if (!closed) {
      if (!blank && indent.column - fence.base <= 3 && isClosingFence(text, indent.at, end, fence))
        state.fence = undefined
      return 'code'
    }
    state.fence = undefined
  }
  if (state.html !== undefined) {
    const { end: until, kind } = state.html
    if (until === 'blank') {
      if (!blank) return kind
      state.html = undefined
    } else {
      if (until.test(text.slice(start, end))) state.html = undefined
      return kind
    }
  }
  if (state.esm && !blank) return 'esm'
  state.esm = false
  if (blank) {
    state.paragraph = false
    return 'blank'
  }
  if (quotes !== state.quotes) {
    // Another block quote level is another container: its lists are not ours.
    state.lists = []
    state.quotes = quotes
  }
  return classifyBlock(text, indent, end, state, mdx, quotes)
}

function classifyBlock(
  text: string,
  indent: Indent,
  end: number,
  state: BlockState,
  mdx: boolean,
  quotes: number,
): LineKind {
  const lazy = state.paragraph
  const reached = state.lists.filter((column) => column <= indent.column)
  const base = reached.at(-1) ?? 0
  const relative = indent.column - base
  const s = indent.at
  if (relative >= 4) {
    if (lazy || mdx) return 'text'
    state.lists = reached
    return 'code'
  }
  if (mdx && !lazy && quotes === 0 && indent.column === 0 && isEsmStart(text, s, end)) {
    state.esm = true
    state.lists = []
    return 'esm'
  }
  const fence = fenceOpening(text, s, end)
  if (fence !== undefined) {
    state.fence = { ...fence, base, quotes }
    state.lists = reached
    state.paragraph = false
    return 'code'
  }
  if (!mdx) {
    const html = htmlBlockStart(text, s, end, lazy)
    if (html !== undefined) {
      state.lists = reached
      state.paragraph = false
      if (html.end === 'blank' || !html.end.test(text.slice(s, end))) state.html = html
      return html.kind
    }
  }
  if (isThematicBreak(text, s, end) || isAtxHeading(text, s, end)) {
    state.lists = reached
    state.paragraph = false
    return 'text'
  }
  const item = listItem(text, s, end, indent.column)
  if (item !== undefined) return openListItems(text, item, end, state, reached)
  if (!lazy) state.lists = reached
  state.paragraph = true
  return 'text'
}

const MAX_MARKERS_PER_LINE = 16

/** Pushes the list item starting the line (and any nested on the same line: `- 1. x`). */
function openListItems(
  text: string,
  first: ListItem,
  end: number,
  state: BlockState,
  reached: number[],
): LineKind {
  state.lists = reached
  let item: ListItem | undefined = first
  // Nobody nests more than a few list markers on one line; the cap keeps absurd lines linear.
  for (let depth = 0; item !== undefined && depth < MAX_MARKERS_PER_LINE; depth++) {
    state.lists.push(item.contentColumn)
    const content = measure(text, item.contentAt, end)
    if (content.at >= end) {
      state.paragraph = false
      return 'text'
    }
    const fence = fenceOpening(text, content.at, end)
    if (fence !== undefined) {
      state.fence = { ...fence, base: item.contentColumn, quotes: state.quotes }
      state.paragraph = false
      return 'code'
    }
    item = isThematicBreak(text, content.at, end)
      ? undefined
      : listItem(text, content.at, end, item.contentColumn + content.column)
  }
  state.paragraph = true
  return 'text'
}

/** Strips up to `max` block quote markers (`>` after up to 3 spaces, then one optional space). */
function stripQuotes(
  text: string,
  start: number,
  end: number,
  max: number,
): { quotes: number; content: number } {
  let quotes = 0
  let content = start
  while (quotes < max) {
    let i = content
    while (i < end && i - content < 3 && text.charCodeAt(i) === 32) i++
    if (text.charCodeAt(i) !== 62 || i >= end) break
    quotes++
    content = i + 1
    if (text.charCodeAt(content) === 32 || text.charCodeAt(content) === 9) content++
  }
  return { quotes, content }
}

function runLength(text: string, at: number, end: number, char: number): number {
  let i = at
  while (i < end && text.charCodeAt(i) === char) i++
  return i - at
}

function fenceOpening(text: string, at: number, end: number): { char: number; length: number } | undefined {
  const char = text.charCodeAt(at)
  if (char !== 96 && char !== 126) return undefined
  const length = runLength(text, at, end, char)
  if (length < 3) return undefined
  // A backtick fence's info string may not contain a backtick (that line is inline code).
  if (char === 96 && text.slice(at + length, end).includes('`')) return undefined
  return { char, length }
}

function isClosingFence(text: string, at: number, end: number, fence: Fence): boolean {
  const length = runLength(text, at, end, fence.char)
  return length >= fence.length && text.slice(at + length, end).trim() === ''
}

function isThematicBreak(text: string, at: number, end: number): boolean {
  const char = text.charCodeAt(at)
  if (char !== 45 && char !== 42 && char !== 95) return false
  let count = 0
  for (let i = at; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c === char) count++
    else if (c !== 32 && c !== 9) return false
  }
  return count >= 3
}

function isAtxHeading(text: string, at: number, end: number): boolean {
  const hashes = runLength(text, at, end, 35)
  const after = text.charCodeAt(at + hashes)
  return hashes >= 1 && hashes <= 6 && (at + hashes >= end || after === 32 || after === 9)
}

interface ListItem {
  /** Where the item's content starts, and its column. */
  contentAt: number
  contentColumn: number
}

function listItem(text: string, at: number, end: number, column: number): ListItem | undefined {
  const c = text.charCodeAt(at)
  let markerEnd = at
  if (c === 45 || c === 43 || c === 42) markerEnd = at + 1
  else {
    const digits = runDigits(text, at, end)
    const delimiter = text.charCodeAt(at + digits)
    if (digits === 0 || digits > 9 || (delimiter !== 46 && delimiter !== 41)) return undefined
    markerEnd = at + digits + 1
  }
  const width = markerEnd - at
  if (markerEnd >= end) return { contentAt: markerEnd, contentColumn: column + width + 1 }
  const after = text.charCodeAt(markerEnd)
  if (after !== 32 && after !== 9) return undefined
  const spacing = measure(text, markerEnd, end)
  // Five or more spaces: the content is indented code one space after the marker.
  const gap = spacing.at >= end || spacing.column > 4 ? 1 : spacing.column
  return { contentAt: gap === 1 ? markerEnd + 1 : spacing.at, contentColumn: column + width + gap }
}

function runDigits(text: string, at: number, end: number): number {
  let i = at
  while (i < end && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++
  return i - at
}

function isEsmStart(text: string, at: number, end: number): boolean {
  const word = text.startsWith('import', at) ? 6 : text.startsWith('export', at) ? 6 : 0
  if (word === 0) return false
  const next = text.charCodeAt(at + word)
  return at + word < end && (next === 32 || next === 9 || next === 123 || next === 42)
}

// CommonMark's block-level tag names (HTML block type 6).
const BLOCK_TAGS = new Set(
  (
    'address article aside base basefont blockquote body caption center col colgroup dd details dialog dir div dl ' +
    'dt fieldset figcaption figure footer form frame frameset h1 h2 h3 h4 h5 h6 head header hr html iframe legend ' +
    'li link main menu menuitem nav noframes ol optgroup option p param search section summary table tbody td ' +
    'tfoot th thead title tr track ul'
  ).split(' '),
)

const RAW_BLOCK = /^<(script|pre|style|textarea)(?=[\s>]|$)/i
const RAW_BLOCK_END = /<\/(?:script|pre|style|textarea)>/i

/** CommonMark HTML block start conditions 1 to 7 (7 cannot interrupt a paragraph). */
function htmlBlockStart(
  text: string,
  at: number,
  end: number,
  lazy: boolean,
): { end: RegExp | 'blank'; kind: LineKind } | undefined {
  if (text.charCodeAt(at) !== 60) return undefined
  const line = text.slice(at, end)
  const raw = RAW_BLOCK.exec(line)
  // `<pre>` is rendered markup (its `<img>` shows); script, style and textarea are not.
  if (raw !== null) return { end: RAW_BLOCK_END, kind: raw[1]?.toLowerCase() === 'pre' ? 'html' : 'code' }
  if (line.startsWith('<!--')) return { end: /-->/, kind: 'code' }
  if (line.startsWith('<?')) return { end: /\?>/, kind: 'code' }
  if (line.startsWith('<![CDATA[')) return { end: /\]\]>/, kind: 'code' }
  if (/^<![A-Za-z]/.test(line)) return { end: />/, kind: 'code' }
  const name = /^<\/?([A-Za-z][A-Za-z0-9-]*)(?=[\s/>]|$)/.exec(line)?.[1]?.toLowerCase()
  if (name !== undefined && BLOCK_TAGS.has(name)) return { end: 'blank', kind: 'html' }
  if (!lazy && isCompleteTagLine(text, at, end)) return { end: 'blank', kind: 'html' }
  return undefined
}

/** A whole open tag (or `</name>`) alone on the line. */
function isCompleteTagLine(text: string, at: number, end: number): boolean {
  if (text.charCodeAt(at + 1) === 47) return /^<\/[A-Za-z][A-Za-z0-9-]*\s*>\s*$/.test(text.slice(at, end))
  const tag = readTag(text, at, { strict: true, end })
  return tag !== undefined && text.slice(tag.end, end).trim() === ''
}
