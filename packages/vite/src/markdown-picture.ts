import { relative } from 'node:path'
import {
  FluxError,
  type ImageResult,
  type MarkupElement,
  type ParsedDirective,
  parseDirective,
  type SourceLocation,
  scanMarkdown,
  toHtml,
  withAlt,
} from '@flux-images/core'
import { sessionFor } from './session-registry.js'

/** A 1-based line and column in a markdown file, where a parser's node puts an image. */
export interface MarkdownPoint {
  line: number
  column: number
}

/**
 * The request of a markdown image `![alt](flux:...)` as a parser hands it: the URL as the parser
 * left it (parseDirective decodes it), the alt filling an empty prompt and the alt parameter, as
 * core's scanner reads it, so the request is the one the build pre-generated.
 */
export function imageRequest(url: string, alt: string): ParsedDirective | undefined {
  const parsed = parseDirective(url)
  return parsed && withAlt(parsed, alt)
}

/** The image of a markdown image's request in `file`, from the session `flux()` runs for it; a failure is located at `at`. */
export async function markdownPicture(
  { prompt, params }: ParsedDirective,
  file: string,
  at: MarkdownPoint,
): Promise<ImageResult> {
  const session = sessionFor(file)
  const location: SourceLocation = {
    file: relative(session.options.root, file).split('\\').join('/'),
    ...at,
  }
  try {
    return await session.image({ prompt, params, location }, file)
  } catch (err) {
    throw FluxError.is(err) && !err.location ? err.at(location) : err
  }
}

/**
 * The `<picture>` as HTML for a template language: braces written as character references, which
 * HTML reads back the same, so Svelte (mdsvex) and Vue never take an alt's `{` for an expression.
 */
export function templateHtml(element: MarkupElement): string {
  return toHtml(element).replace(/[{}]/g, (c) => (c === '{' ? '&#123;' : '&#125;'))
}

/** A markdown image core's scanner finds in a text: its request and where it is, `![` to `)`. */
export interface TypedImage {
  request: ParsedDirective
  offset: number
  end: number
}

/**
 * `![alt](flux:A lighthouse at dawn)` is text to CommonMark (a destination holds no spaces), and
 * the form people type anyway: core's scanner reads it. The text split into its plain parts and
 * such images; undefined when it holds none.
 */
export function splitTypedImages(text: string): (string | TypedImage)[] | undefined {
  const parts: (string | TypedImage)[] = []
  let from = 0
  for (const { kind, element, prompt, params } of scanMarkdown(text, 'text', 1).directives) {
    if (kind !== 'markdown' || element === undefined || element.start < from) continue
    parts.push(text.slice(from, element.start), {
      request: { prompt, params },
      offset: element.start,
      end: element.end,
    })
    from = element.end
  }
  if (parts.length === 0) return undefined
  parts.push(text.slice(from))
  return parts.filter((part) => part !== '')
}
