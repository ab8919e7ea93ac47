import { firstAfter } from '../line-index.js'
import type { MarkdownLine } from './markdown-blocks.js'

/** A run of consecutive non-blank lines of one kind: inline constructs never cross its end. */
export interface Segment {
  start: number
  end: number
  kind: 'text' | 'html'
}

/**
 * The markdown text as the inline scanner should see it, offsets unchanged: code, ESM and blank
 * lines blanked out, then escapes, code spans and comments masked. Also the paragraphs (and
 * HTML blocks) that inline constructs may not cross.
 */
export function maskMarkdown(
  text: string,
  lines: readonly MarkdownLine[],
  mdx: boolean,
): { masked: string; segments: Segment[] } {
  const segments = toSegments(lines)
  return { masked: maskInline(maskBlocks(text, lines), segments, mdx), segments }
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
