import { decodeEntities } from './entities.js'
import { FLUX_SCHEME } from './grammar.js'
import { readTag } from './html-tag.js'
import { firstAfter } from './line-index.js'
import { classifyLines, type MarkdownLine } from './markdown-blocks.js'
import { parseDirective } from './parse-directive.js'
import { scanCodeRange } from './scan-code.js'
import { runScan, type ScanContext, type ScanResult, withAlt } from './scan-context.js'
import { componentTag, imageTag } from './scan-html.js'

export interface MarkdownScanOptions {
  /**
   * MDX: `import`/`export` blocks are scanned as code, `<FluxImage>` counts, `{/* *\/}` is a
   * comment, and there are no indented code blocks nor HTML blocks.
   * @default true when the file name ends in `.mdx`
   */
  mdx?: boolean
}

/**
 * Finds the directives of a markdown or MDX body:
 * `![alt](<flux:prompt?opts>)`, `![alt](flux:percent%20encoded)`, and the form people type,
 * `![alt](flux:A lighthouse at dawn)` (spaces allowed, nested parentheses balanced, soft line
 * breaks read as spaces). A CommonMark title (`![a](<flux:x> "title")`) is ignored; in the
 * typed form a trailing quoted string only counts as a title when the part before it has no
 * space, as CommonMark would read it. The alt text becomes `params.alt` unless the query sets
 * `alt`, and fills an empty prompt (`![A lighthouse](flux:)`). `<img src="flux:...">` tags
 * count (kind `html`), and in MDX top-level `import x from 'flux:...'` (kind `import`) and
 * `<FluxImage>` (kind `component`). Nothing in code blocks, code spans or HTML comments
 * counts, nor an escaped `\![`. Lines are numbered from `startLine`.
 */
export function scanMarkdown(
  text: string,
  file: string,
  startLine = 1,
  options: MarkdownScanOptions = {},
): ScanResult {
  const mdx = options.mdx ?? /\.mdx$/i.test(file)
  return runScan(text, file, startLine, (ctx) => scanMarkdownRange(ctx, 0, ctx.text.length, mdx))
}

/** A run of consecutive non-blank lines of one kind: inline constructs never cross its end. */
interface Segment {
  start: number
  end: number
  kind: 'text' | 'html'
}

/** Scans [start, end) of `ctx.text` as a markdown (or MDX) body. */
export function scanMarkdownRange(ctx: ScanContext, start: number, end: number, mdx: boolean): void {
  const lines = classifyLines(ctx.text, start, end, mdx)
  scanEsm(ctx, lines)
  const segments = toSegments(lines)
  const masked = maskInline(maskBlocks(ctx.text, lines), segments, mdx)
  for (const segment of segments) {
    if (segment.kind === 'text') scanText(ctx, masked, segment, mdx)
    else scanTags(ctx, masked, segment, mdx)
  }
}

function scanEsm(ctx: ScanContext, lines: readonly MarkdownLine[]): void {
  for (let k = 0; k < lines.length; k++) {
    const first = lines[k] as MarkdownLine
    if (first.kind !== 'esm') continue
    let last = first
    while (lines[k + 1]?.kind === 'esm') last = lines[++k] as MarkdownLine
    scanCodeRange(ctx, first.start, last.end)
  }
}

function toSegments(lines: readonly MarkdownLine[]): Segment[] {
  const segments: Segment[] = []
  let previous: MarkdownLine | undefined
  for (const line of lines) {
    if (line.kind === 'text' || line.kind === 'html') {
      const current = segments.at(-1)
      if (current !== undefined && previous?.kind === line.kind) current.end = line.end
      else segments.push({ start: line.start, end: line.end, kind: line.kind })
    }
    previous = line
  }
  return segments
}

/** The text with every code, ESM and blank line blanked out, offsets unchanged. */
function maskBlocks(text: string, lines: readonly MarkdownLine[]): string {
  const pieces: string[] = []
  let cursor = 0
  for (const line of lines) {
    if (line.kind === 'text' || line.kind === 'html') continue
    pieces.push(text.slice(cursor, line.start), ' '.repeat(line.end - line.start))
    cursor = line.end
  }
  pieces.push(text.slice(cursor))
  return pieces.join('')
}

// Masked characters: not whitespace (a masked line is not blank) and not markdown syntax.
const MASK = '\u0001'

/**
 * Masks, left to right as CommonMark reads them, backslash escapes, code spans (a run of n
 * backticks closed by the next run of exactly n in the same paragraph), HTML comments and MDX
 * `{/* *\/}` comments, keeping line endings. Linear: closers are found by binary search in
 * precomputed runs, and comment ends by a search that is reused while still ahead.
 */
function maskInline(masked: string, segments: readonly Segment[], mdx: boolean): string {
  const runs = backtickRuns(masked)
  const commentEnd = memoSearch(masked, '-->')
  const jsxCommentEnd = memoSearch(masked, '*/}')
  const ranges: number[] = []
  for (const { start, end, kind } of segments) {
    let i = start
    while (i < end) {
      const c = masked.charCodeAt(i)
      let skip = 0
      if (c === 60 && masked.startsWith('<!--', i)) {
        const close = commentEnd(i + 2)
        skip = close >= 0 && close + 3 <= end ? close + 3 - i : 0
      } else if (kind === 'html') {
        skip = 0
      } else if (c === 92 && i + 1 < end && isAsciiPunctuation(masked.charCodeAt(i + 1))) {
        skip = 2
      } else if (c === 96) {
        const length = runLength(masked, i, end)
        const close = closingRun(runs, i, length, end)
        if (close < 0) {
          i += length
          continue
        }
        skip = close + length - i
      } else if (mdx && c === 123 && masked.startsWith('{/*', i)) {
        const close = jsxCommentEnd(i + 3)
        skip = close >= 0 && close + 3 <= end ? close + 3 - i : 0
      }
      if (skip > 0) ranges.push(i, i + skip)
      i += skip > 0 ? skip : 1
    }
  }
  return applyMask(masked, ranges)
}

function applyMask(text: string, ranges: readonly number[]): string {
  const pieces: string[] = []
  let cursor = 0
  for (let k = 0; k < ranges.length; k += 2) {
    const from = ranges[k] as number
    const to = ranges[k + 1] as number
    pieces.push(text.slice(cursor, from), text.slice(from, to).replace(/[^\r\n]/g, MASK))
    cursor = to
  }
  pieces.push(text.slice(cursor))
  return pieces.join('')
}

/** `indexOf(needle, from)` for ascending `from`s, reusing the last answer while it is still ahead. */
function memoSearch(text: string, needle: string): (from: number) => number {
  let last = -2
  return (from) => {
    if (last === -1 || last >= from) return last
    last = text.indexOf(needle, from)
    return last
  }
}

/** Start offsets of every maximal backtick run, by run length. */
function backtickRuns(text: string): Map<number, number[]> {
  const runs = new Map<number, number[]>()
  let i = text.indexOf('`')
  while (i >= 0) {
    const length = runLength(text, i, text.length)
    const list = runs.get(length)
    if (list === undefined) runs.set(length, [i])
    else list.push(i)
    i = text.indexOf('`', i + length)
  }
  return runs
}

function runLength(text: string, at: number, end: number): number {
  let i = at
  while (i < end && text.charCodeAt(i) === 96) i++
  return i - at
}

function closingRun(runs: Map<number, number[]>, open: number, length: number, end: number): number {
  const list = runs.get(length)
  if (list === undefined) return -1
  const candidate = list[firstAfter(list, open + length - 1)]
  return candidate !== undefined && candidate < end ? candidate : -1
}

function isAsciiPunctuation(c: number): boolean {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)
}

/** Images and tags in a paragraph: `[` and `![` openers on a stack, each `]` closing the last. */
function scanText(ctx: ScanContext, masked: string, segment: Segment, mdx: boolean): void {
  const parens = matchParens(masked, segment)
  // Openers as offset * 2 + 1 for `![`, offset * 2 for `[`.
  const openers: number[] = []
  let i = segment.start
  while (i < segment.end) {
    const c = masked.charCodeAt(i)
    if (c === 33 && masked.charCodeAt(i + 1) === 91) {
      openers.push(i * 2 + 1)
      i += 2
    } else if (c === 91) {
      openers.push(i * 2)
      i++
    } else if (c === 93) {
      const opener = openers.pop()
      const resume =
        opener !== undefined && opener % 2 === 1
          ? image(ctx, masked, parens, (opener - 1) / 2, i, segment)
          : -1
      i = resume > 0 ? resume : i + 1
    } else if (c === 60) {
      i = tagAt(ctx, masked, i, segment.end, mdx)
    } else i++
  }
}

function scanTags(ctx: ScanContext, masked: string, segment: Segment, mdx: boolean): void {
  let i = masked.indexOf('<', segment.start)
  while (i >= 0 && i < segment.end) i = masked.indexOf('<', tagAt(ctx, masked, i, segment.end, mdx))
}

/** Records `<img>` or (MDX) `<FluxImage>` at `lt`; returns where to resume. */
function tagAt(ctx: ScanContext, masked: string, lt: number, end: number, mdx: boolean): number {
  const name = masked.slice(lt + 1, lt + 10)
  const img = /^img(?![A-Za-z0-9-])/i.test(name)
  const component = mdx && /^FluxImage(?![A-Za-z0-9-])/.test(name)
  if (!img && !component) return lt + 1
  const tag = readTag(ctx.text, lt, { strict: true, jsx: mdx, end })
  if (tag === undefined) return lt + 1
  if (img) imageTag(ctx, tag)
  else componentTag(ctx, tag)
  return tag.end
}

/** For each `(` of the segment, the offset of its matching `)` (or -1), keyed by offset - start. */
function matchParens(masked: string, segment: Segment): Int32Array {
  const match = new Int32Array(segment.end - segment.start).fill(-1)
  const open: number[] = []
  for (let i = segment.start; i < segment.end; i++) {
    const c = masked.charCodeAt(i)
    if (c === 40) open.push(i)
    else if (c === 41) {
      const o = open.pop()
      if (o !== undefined) match[o - segment.start] = i
    }
  }
  return match
}

/**
 * The image whose `![` is at `bang` and `]` at `close`, when its destination is a directive.
 * Returns the offset after the image, or -1 (not an image, or not ours).
 */
function image(
  ctx: ScanContext,
  masked: string,
  parens: Int32Array,
  bang: number,
  close: number,
  segment: Segment,
): number {
  const paren = close + 1
  if (masked.charCodeAt(paren) !== 40) return -1
  const at = skipDestinationSpace(masked, paren + 1, segment.end)
  const found =
    masked.charCodeAt(at) === 60
      ? angleDestination(ctx.text, masked, at, segment.end)
      : masked.startsWith(FLUX_SCHEME, at)
        ? typedDestination(ctx.text, at, parens[paren - segment.start] ?? -1)
        : undefined
  if (found === undefined) return -1
  const parsed = parseDirective(found.value)
  if (parsed === undefined) return -1
  const alt = plainText(ctx.text.slice(bang + 2, close))
  ctx.add('markdown', found.offset, found.raw, withAlt(parsed, alt))
  return found.resume
}

interface Destination {
  /** Where `flux:` starts, and the destination as written. */
  offset: number
  raw: string
  /** The destination's value: escapes and entities resolved. */
  value: string
  /** After the image's closing `)`. */
  resume: number
}

/** Spaces and tabs, and at most one line ending, as CommonMark allows before a destination. */
function skipDestinationSpace(masked: string, from: number, end: number): number {
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
function angleDestination(text: string, masked: string, lt: number, end: number): Destination | undefined {
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
function typedDestination(text: string, at: number, closeParen: number): Destination | undefined {
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
const ESCAPE_OR_ENTITY = /\\([!-/:-@[-`{-~])|(&(?:#\d{1,8}|#[xX][0-9a-fA-F]{1,7}|[A-Za-z][A-Za-z0-9]{1,31});)/g

/** Resolves backslash escapes and character references. */
function resolveEscapes(text: string): string {
  if (!text.includes('\\') && !text.includes('&')) return text
  return text.replace(ESCAPE_OR_ENTITY, (_, escaped: string | undefined, entity: string | undefined) =>
    escaped ?? decodeEntities(entity ?? ''),
  )
}

/** Alt text as a reader sees it: escapes and entities resolved, whitespace collapsed. */
function plainText(alt: string): string {
  return resolveEscapes(alt).split(/\s+/).filter(Boolean).join(' ')
}
