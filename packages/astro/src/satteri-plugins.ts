import { fileURLToPath } from 'node:url'
import { type HastElement, type MarkupElement, toHast } from '@flux-images/core'
import { markdownImages } from '@flux-images/core/dev'
import { withLoc } from './error-location.js'
import type { FluxState } from './flux-state.js'

// The few shapes of Sätteri's plugin API used here (satteri is Astro's dependency, not ours).
interface MdastNode {
  type: string
  children?: MdastNode[]
  data?: Record<string, unknown>
}
interface MdastContext {
  readonly fileURL: URL | undefined
  readonly source: string
  readonly sourceFormat: 'markdown' | 'mdx'
  readonly data: Record<string, unknown>
  setProperty(node: MdastNode, key: 'children', value: readonly MdastNode[]): void
}
export interface SatteriMdastPlugin {
  name: string
  options?: { position?: boolean }
  before?: (root: MdastNode, ctx: MdastContext) => Promise<void>
}
export interface SatteriHastPlugin {
  name: string
  element: {
    filter: string[]
    visit: (
      node: { properties?: Record<string, unknown> },
      ctx: { data: Record<string, unknown> },
    ) => HastElement | undefined
  }
}

const ID = 'data-flux-id'
const PICTURES = 'fluxPictures'

/**
 * Sätteri plugins: before the tree is visited, core's `markdownImages` turns each `flux:` image
 * (typed-anyway form included) into an `<img>` marked with an id, its `<picture>` element kept
 * aside in the document's data; a hast plugin swaps each such `<img>` for that element as hast,
 * which both `.md` and MDX compile (MDX refuses raw HTML).
 */
export function satteriPlugins(getState: () => FluxState): {
  mdast: SatteriMdastPlugin[]
  hast: SatteriHastPlugin[]
} {
  const images: SatteriMdastPlugin = {
    name: 'flux-images',
    options: { position: true },
    async before(root, ctx) {
      const pictures = new Map<string, MarkupElement>()
      ctx.data[PICTURES] = pictures
      const file = ctx.fileURL && fileURLToPath(ctx.fileURL)
      const doc = { file, source: ctx.source, mdx: ctx.sourceFormat === 'mdx' }
      await markdownImages(getState, doc, root, {
        picture(element, image) {
          pictures.set(String(pictures.size), element)
          // An absolute URL: Astro's image collection leaves it alone.
          return {
            type: 'image',
            url: image.src,
            alt: image.alt,
            data: { hProperties: { [ID]: String(pictures.size - 1) } },
          }
        },
        text: (value) => ({ type: 'text', value }),
        setChildren: (parent, children) => ctx.setProperty(parent, 'children', children),
      }).catch((err) => {
        throw withLoc(err, getState().options.root)
      })
    },
  }
  const pictures: SatteriHastPlugin = {
    name: 'flux-images:picture',
    element: {
      filter: ['img'],
      visit(node, ctx) {
        const picture = (ctx.data[PICTURES] as Map<string, MarkupElement> | undefined)?.get(
          String(node.properties?.[ID]),
        )
        return picture && toHast(picture)
      },
    },
  }
  return { mdast: [images], hast: [pictures] }
}
