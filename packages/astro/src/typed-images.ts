import { formatDirective, parseDirective, scanMarkdown } from '@flux-images/core'

/**
 * `![alt](flux:A lighthouse at dawn)` is text to CommonMark (a destination has no spaces). Core's
 * scanner reads it as a directive: rewrite it as an `<...>` destination the parser reads as an
 * image, with the characters a destination cannot hold percent-encoded (parseDirective decodes
 * them back), so the image plugin then sees the same request the scan pre-generated.
 * Undefined when the paragraph holds no such form.
 */
export function rewriteTypedImages(paragraph: string, mdx: boolean): string | undefined {
  const lines = lineStarts(paragraph)
  const found = scanMarkdown(paragraph, 'paragraph', 1, { mdx }).directives
  let source = ''
  let from = 0
  let rewritten = 0
  for (const directive of found) {
    if (directive.kind !== 'markdown' || !/\s/.test(directive.raw)) continue
    const { line, column } = directive.location
    const at = (lines[line - 1] ?? 0) + column - 1
    if (at < from || !paragraph.startsWith(directive.raw, at) || paragraph[at - 1] !== '(') continue
    const written = parseDirective(directive.raw)
    if (!written) continue
    const destination = `<${formatDirective(written).replace(/[\s<>\\]/g, encodeURIComponent)}>`
    source += paragraph.slice(from, at) + destination
    from = at + directive.raw.length
    rewritten++
  }
  return rewritten === 0 ? undefined : source + paragraph.slice(from)
}

function lineStarts(text: string): number[] {
  const starts = [0]
  for (const m of text.matchAll(/\r\n|\r|\n/g)) starts.push((m.index ?? 0) + m[0].length)
  return starts
}
