import { type Directive, formatDirective, parseDirective, type Span, scanMarkdown } from '@flux-images/core'

/** A markdown image whose destination is a directive, as core's scanner reads it in a text. */
export interface MarkdownImage {
  /** Its `span` is the destination as written. */
  directive: Directive
  /** The whole image, `![` to its `)`. */
  element: Span
  /** The alt as written, between `![` and `](`. */
  alt: string
  /** The request as a URL that parses back the same (see `scannedUrl`). */
  url: string
}

/**
 * The one splitter of markdown text into directive images, for both processors: Sätteri's
 * paragraph and heading rewrite, the unified adapter's text nodes, and the alt of an image whose
 * prompt is empty. One scan of `text`; offsets are the scanner's spans.
 */
export function markdownImages(text: string, mdx: boolean): MarkdownImage[] {
  const images: MarkdownImage[] = []
  for (const directive of scanMarkdown(text, 'markdown', 1, { mdx }).directives) {
    const { element } = directive
    const url = scannedUrl(directive)
    if (directive.kind !== 'markdown' || element === undefined || url === undefined) continue
    // Only spaces and one line ending stand between the image's `](` and its destination.
    const alt = text.slice(element.start + 2, text.lastIndexOf('](', directive.span.start))
    images.push({ directive, element, alt, url })
  }
  return images
}

/** A paragraph with its typed-anyway images rewritten, and where each rewritten image starts. */
export interface RewrittenParagraph {
  raw: string
  /**
   * Each rewritten image: its URL (as `scannedUrl` writes it), its destination as rewritten (what
   * the parser's node then holds), its `![` offset in the paragraph and its text as written there.
   */
  images: { url: string; destination: string; offset: number; written: string }[]
}

/**
 * `![alt](flux:A lighthouse at dawn)` is text to CommonMark (a destination has no spaces). Core's
 * scanner reads it as a directive: rewrite it as an `<...>` destination the parser reads as an
 * image, with the characters a destination cannot hold percent-encoded (parseDirective decodes
 * them back), so the image plugin then sees the same request the scan pre-generated.
 * Undefined when the paragraph holds no such form.
 */
export function rewriteTypedImages(paragraph: string, mdx: boolean): RewrittenParagraph | undefined {
  let source = ''
  let from = 0
  let rewritten = 0
  const images: RewrittenParagraph['images'] = []
  for (const { directive, element, url } of markdownImages(paragraph, mdx)) {
    const typed = /\s/.test(directive.raw)
    // An empty prompt is rewritten too: the alt the processor gives it is not the source's
    // (smart punctuation), and positions no longer point into the source once rewritten.
    if (!typed && parseDirective(directive.raw)?.prompt !== '') continue
    const { start, end } = directive.span
    const angle = paragraph[start - 1] === '<'
    if (start < from || !(angle || paragraph[start - 1] === '(')) continue
    const destination = url.replace(/[\s<>\\]/g, encodeURIComponent)
    // `&` escaped too: the parser would read `&amp;` in the destination as a reference again.
    const encoded = destination.replace(/&/g, '\\&')
    source += paragraph.slice(from, start) + (angle ? encoded : `<${encoded}>`)
    from = end
    images.push({
      url,
      destination,
      offset: element.start,
      written: paragraph.slice(element.start, element.end),
    })
    if (typed && !angle) rewritten++
  }
  return rewritten === 0 ? undefined : { raw: source + paragraph.slice(from), images }
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

/**
 * The URL to resolve for a markdown image whose directive has an empty prompt (the alt fills it):
 * the alt as core's scanner reads it in the image's source `image` (the text the parser's node
 * spans), since each processor changes its own alt (Sätteri's smart punctuation curls typed
 * quotes, remark-smartypants curls quotes from `&quot;`), and a different prompt is a second key,
 * paid twice. Undefined when the prompt is not empty or the source holds no such image (the
 * processor's own alt is used then).
 */
export function altPromptUrl(url: string, image: string, mdx: boolean): string | undefined {
  const parsed = parseDirective(url)
  if (parsed === undefined || parsed.prompt !== '') return undefined
  const found = markdownImages(image, mdx).find((found) => found.element.start === 0)?.directive
  if (found === undefined || found.prompt === '') return undefined
  return formatDirective({ prompt: found.prompt, params: parsed.params })
}
