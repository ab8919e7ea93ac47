import { type Directive, formatDirective, parseDirective, scanMarkdown } from '@flux-images/core'

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
    if (directive.kind !== 'markdown') continue
    const typed = /\s/.test(directive.raw)
    // An empty prompt is rewritten too: the alt the processor gives it is not the source's
    // (smart punctuation), and positions no longer point into the source once rewritten.
    if (!typed && parseDirective(directive.raw)?.prompt !== '') continue
    const { line, column } = directive.location
    const at = (lines[line - 1] ?? 0) + column - 1
    const angle = paragraph[at - 1] === '<'
    if (at < from || !paragraph.startsWith(directive.raw, at) || !(angle || paragraph[at - 1] === '('))
      continue
    const url = scannedUrl(directive)
    if (url === undefined) continue
    // `&` escaped too: the parser would read `&amp;` in the destination as a reference again.
    const encoded = url.replace(/[\s<>\\]/g, encodeURIComponent).replace(/&/g, '\\&')
    source += paragraph.slice(from, at) + (angle ? encoded : `<${encoded}>`)
    from = at + directive.raw.length
    if (typed && !angle) rewritten++
  }
  return rewritten === 0 ? undefined : source + paragraph.slice(from)
}

/**
 * A scanned directive as a URL: the scanner's prompt and options (escapes and character references
 * resolved), and the alt only when the query sets it (the page keeps the processor's alt).
 */
export function scannedUrl(directive: Directive): string | undefined {
  const written = parseDirective(directive.raw)
  if (!written) return undefined
  const { alt: _alt, ...params } = directive.params
  return formatDirective({
    prompt: directive.prompt,
    params: written.params.alt === undefined ? params : directive.params,
  })
}

function lineStarts(text: string): number[] {
  const starts = [0]
  for (const m of text.matchAll(/\r\n|\r|\n/g)) starts.push((m.index ?? 0) + m[0].length)
  return starts
}

/**
 * The URL to resolve for a markdown image whose directive has an empty prompt (the alt fills it):
 * the alt as core's scanner reads it in the source at [start, end), since each processor changes
 * its own alt (Sätteri's smart punctuation curls typed quotes, remark-smartypants curls quotes
 * from `&quot;`), and a different prompt is a second key, paid twice. Undefined when the source
 * there holds no such image (the processor's own alt is used then).
 */
export function altPromptUrl(
  url: string,
  source: string,
  start: number,
  end: number,
  mdx: boolean,
): string | undefined {
  const parsed = parseDirective(url)
  if (parsed === undefined || parsed.prompt !== '') return undefined
  const found = scanMarkdown(source.slice(start, end), 'image', 1, { mdx }).directives.find(
    (d) => d.kind === 'markdown' && d.location.line === 1 && d.location.column > 1,
  )
  if (found === undefined || found.prompt === '') return undefined
  return formatDirective({ prompt: found.prompt, params: parsed.params })
}
