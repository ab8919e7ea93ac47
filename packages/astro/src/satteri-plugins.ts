import {
  formatDirective,
  type HastElement,
  type MarkupElement,
  parseDirective,
  pictureElement,
  toHast,
} from '@flux-images/core'
import type { FluxState } from './flux-state.js'
import { indexedImage, isDirectiveUrl, markdownImage, pointIn, type SourcePoint } from './markdown-image.js'
import { altPromptUrl, rewriteTypedImages } from './typed-images.js'

// The few shapes of Sätteri's plugin API used here (satteri is Astro's dependency, not ours).
interface Point extends SourcePoint {
  offset?: number
}
interface MdastNode {
  type: string
  url?: string
  alt?: string | null
  position?: { start: Point; end: Point }
  data?: Record<string, unknown>
}
interface MdastContext {
  readonly fileURL: URL | undefined
  readonly source: string
  readonly sourceFormat: 'markdown' | 'mdx'
  readonly data: Record<string, unknown>
}
interface HastContext {
  readonly data: Record<string, unknown>
}
export interface SatteriMdastPlugin {
  name: string
  options?: { position?: boolean }
  paragraph?: (node: MdastNode, ctx: MdastContext) => { raw: string } | undefined
  heading?: (node: MdastNode, ctx: MdastContext) => { raw: string } | undefined
  image?: (node: MdastNode, ctx: MdastContext) => Promise<MdastNode | undefined>
}
export interface SatteriHastPlugin {
  name: string
  element: {
    filter: string[]
    visit: (node: { properties?: Record<string, unknown> }, ctx: HastContext) => HastElement | undefined
  }
}

const ID = 'data-flux-id'
const PICTURES = 'fluxPictures'
/** The document's pictures by id, as elements until the hast plugin places them. */
type Pictures = Map<string, MarkupElement>
const POINTS = 'fluxPoints'
/** The typed images the paragraph plugin rewrote, in source order: where and how each was written. */
type Points = { url: string; destination: string; at: SourcePoint | undefined; written: string }[]

/**
 * Sätteri plugins: the first rewrites the typed-anyway form into images (in paragraphs and headings); the second resolves each
 * `flux:` image (async, concurrently) to its fallback URL, keeping its `<picture>` element aside by
 * id in the document's data; a hast plugin then swaps each such `<img>` for that element as hast,
 * which both `.md` and MDX compile (MDX refuses raw HTML). No markup string on the way.
 */
export function satteriPlugins(getState: () => FluxState): {
  mdast: SatteriMdastPlugin[]
  hast: SatteriHastPlugin[]
} {
  // A paragraph or a heading whose source holds the typed form is given back as rewritten
  // markdown, which Sätteri parses again (a heading's source keeps its `#` or underline).
  const rewrite = (node: MdastNode, ctx: MdastContext): { raw: string } | undefined => {
    const start = node.position?.start.offset
    const end = node.position?.end.offset
    if (start === undefined || end === undefined) return undefined
    const text = ctx.source.slice(start, end)
    if (!text.includes('flux:')) return undefined
    const rewritten = rewriteTypedImages(text, ctx.sourceFormat === 'mdx')
    if (rewritten === undefined) return undefined
    // The images parsed from the new text have no position: keep where each was written.
    const points = (ctx.data[POINTS] as Points | undefined) ?? []
    ctx.data[POINTS] = points
    for (const { offset, ...image } of rewritten.images)
      points.push({ ...image, at: pointIn(node.position?.start ?? {}, text, offset) })
    return { raw: rewritten.raw }
  }
  const typed: SatteriMdastPlugin = {
    name: 'flux-images:typed',
    options: { position: true },
    paragraph: rewrite,
    heading: rewrite,
  }
  const images: SatteriMdastPlugin = {
    name: 'flux-images',
    options: { position: true },
    async image(node, ctx) {
      if (!node.url || !isDirectiveUrl(node.url)) return undefined
      const { start, end } = node.position ?? {}
      // A rewritten image has no position: the paragraph plugin kept how it was written.
      const typed = start?.line === undefined ? rewrittenImage(ctx, node.url) : undefined
      const written =
        start?.offset !== undefined && end?.offset !== undefined
          ? ctx.source.slice(start.offset, end.offset)
          : typed?.written
      const alt = node.alt ?? ''
      const image =
        (await indexedImage(getState(), ctx.fileURL, written, alt)) ??
        (await markdownImage(
          getState(),
          (written !== undefined && altPromptUrl(node.url, written, ctx.sourceFormat === 'mdx')) || node.url,
          alt,
          ctx.fileURL,
          typed ? typed.at : start,
        ))
      const pictures = (ctx.data[PICTURES] as Pictures | undefined) ?? new Map()
      ctx.data[PICTURES] = pictures
      const id = String(pictures.size)
      pictures.set(id, pictureElement(image))
      // An absolute URL: Astro's image collection leaves it alone.
      return { ...node, url: image.src, data: { ...node.data, hProperties: { [ID]: id } } }
    },
  }
  const pictures: SatteriHastPlugin = {
    name: 'flux-images:picture',
    element: {
      filter: ['img'],
      visit(node, ctx) {
        const id = node.properties?.[ID]
        const picture = (ctx.data[PICTURES] as Pictures | undefined)?.get(String(id))
        if (id === undefined || picture === undefined) return undefined
        return toHast(picture)
      },
    },
  }
  return { mdast: [typed, images], hast: [pictures] }
}

/** The next rewritten image with this URL (as the parser holds it, else as it reads back). */
function rewrittenImage(ctx: MdastContext, url: string): Points[number] | undefined {
  const points = (ctx.data[POINTS] as Points | undefined) ?? []
  let index = points.findIndex((point) => point.destination === url)
  if (index < 0) {
    const parsed = parseDirective(url)
    const scanned = parsed ? formatDirective(parsed) : url
    index = points.findIndex((point) => point.url === scanned)
  }
  return index < 0 ? undefined : points.splice(index, 1)[0]
}
