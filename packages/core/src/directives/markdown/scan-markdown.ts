import { scanCodeRange } from '../code/scan-code.js'
import { FLUX_SCHEME } from '../grammar/grammar.js'
import { parseDirective } from '../grammar/parse-directive.js'
import { readTag } from '../html/html-tag.js'
import { componentTag, imageTag } from '../html/scan-html.js'
import { runScan, type ScanContext, type ScanResult, withAlt } from '../scan-context.js'
import { classifyLines, type MarkdownLine } from './markdown-blocks.js'
import {
  angleDestination,
  plainText,
  skipDestinationSpace,
  typedDestination,
} from './markdown-destination.js'
import { maskMarkdown, type Segment } from './markdown-mask.js'

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

/** Scans [start, end) of `ctx.text` as a markdown (or MDX) body. */
export function scanMarkdownRange(ctx: ScanContext, start: number, end: number, mdx: boolean): void {
  const lines = classifyLines(ctx.text, start, end, mdx)
  scanEsm(ctx, lines)
  const { masked, segments } = maskMarkdown(ctx.text, lines, mdx)
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
          ? imageEnd(ctx, masked, parens, (opener - 1) / 2, i, segment)
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
function imageEnd(
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
  ctx.add('markdown', found.offset, found.raw, withAlt(parsed, alt), { start: bang, end: found.resume })
  return found.resume
}
