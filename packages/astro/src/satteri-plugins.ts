import { type HastElement, type MarkupElement, pictureElement, toHast } from '@flux-images/core'
import type { FluxState } from './flux-state.js'
import { isDirectiveUrl, markdownImage, type SourcePoint } from './markdown-image.js'
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

/**
 * Sätteri plugins: the first rewrites the typed-anyway form into images; the second resolves each
 * `flux:` image (async, concurrently) to its fallback URL, keeping its `<picture>` element aside by
 * id in the document's data; a hast plugin then swaps each such `<img>` for that element as hast,
 * which both `.md` and MDX compile (MDX refuses raw HTML). No markup string on the way.
 */
export function satteriPlugins(getState: () => FluxState): {
  mdast: SatteriMdastPlugin[]
  hast: SatteriHastPlugin[]
} {
  const typed: SatteriMdastPlugin = {
    name: 'flux-images:typed',
    options: { position: true },
    paragraph(node, ctx) {
      const start = node.position?.start.offset
      const end = node.position?.end.offset
      if (start === undefined || end === undefined) return undefined
      const text = ctx.source.slice(start, end)
      if (!text.includes('flux:')) return undefined
      const raw = rewriteTypedImages(text, ctx.sourceFormat === 'mdx')
      return raw === undefined ? undefined : { raw }
    },
  }
  const images: SatteriMdastPlugin = {
    name: 'flux-images',
    options: { position: true },
    async image(node, ctx) {
      if (!node.url || !isDirectiveUrl(node.url)) return undefined
      const { start, end } = node.position ?? {}
      const url =
        (start?.offset !== undefined &&
          end?.offset !== undefined &&
          altPromptUrl(node.url, ctx.source.slice(start.offset, end.offset), ctx.sourceFormat === 'mdx')) ||
        node.url
      const image = await markdownImage(getState(), url, node.alt ?? '', ctx.fileURL, start)
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
