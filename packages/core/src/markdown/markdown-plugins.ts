import { fileURLToPath } from 'node:url'
import type { MarkupElement } from '../markup/index.js'
import { type HastElement, toHast } from '../markup/to-hast.js'
import type { MarkdownSession } from './markdown-directives.js'
import { type MarkdownNode, markdownImages } from './markdown-images.js'

/** A node of a remark tree, as far as the plugins write it. */
export interface RemarkNode extends MarkdownNode {
  children?: RemarkNode[]
  data?: Record<string, unknown>
}

/** What a remark host hands a plugin: a vfile (mdsvex sets `filename` and `contents`, newer hosts `path` and `value`). */
export interface RemarkFile {
  path?: string
  filename?: string
  value?: unknown
  contents?: unknown
}

/** What the plugins do with a failure before the host sees it (Astro: locate it for its overlay). */
type OnError = (err: unknown) => unknown

/**
 * A remark transformer (unified, MDX, mdsvex): each `flux:` image (typed-anyway form included)
 * becomes the node `picture` makes of its `<picture>` element (a template language, mdsvex's,
 * takes raw HTML). The file's extension says whether it is MDX.
 */
export function remarkImages(
  getSession: (file: string | undefined) => MarkdownSession,
  { picture = hastPicture, onError = (err) => err }: RemarkImagesOptions = {},
) {
  return async (tree: RemarkNode, file: RemarkFile): Promise<void> => {
    const path = file.path ?? file.filename
    const contents = file.value ?? file.contents
    const doc = { file: path, source: typeof contents === 'string' ? contents : String(contents ?? '') }
    await markdownImages(() => getSession(path), doc, tree, {
      picture,
      text: (value) => ({ type: 'text', value }),
      setChildren(parent, children) {
        parent.children = children
      },
    }).catch((err: unknown) => {
      throw onError(err)
    })
  }
}

export interface RemarkImagesOptions {
  /** The node that shows the element. @default a node remark-rehype turns into the element (`hName`) */
  picture?: (element: MarkupElement) => RemarkNode
  onError?: OnError
}

const hastPicture = (element: MarkupElement): RemarkNode => {
  const { tagName, properties, children } = toHast(element)
  return { type: 'flux-picture', data: { hName: tagName, hProperties: properties, hChildren: children } }
}

// The few shapes of Sätteri's plugin API used here (Astro's default markdown processor).
interface SatteriContext {
  readonly fileURL: URL | undefined
  readonly source: string
  readonly sourceFormat: 'markdown' | 'mdx'
  readonly data: Record<string, unknown>
  setProperty(node: RemarkNode, key: 'children', value: readonly RemarkNode[]): void
}
interface SatteriMdastPlugin {
  name: string
  options: { position: boolean }
  before: (root: RemarkNode, ctx: SatteriContext) => Promise<void>
}
interface SatteriHastPlugin {
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
 * Sätteri's plugins: before the tree is visited, each `flux:` image (typed-anyway form included)
 * becomes an `<img>` marked with an id, its `<picture>` element kept aside in the document's data;
 * a hast plugin swaps each such `<img>` for that element as hast, which both `.md` and MDX compile
 * (MDX refuses raw HTML).
 */
export function satteriImages(
  getSession: () => MarkdownSession,
  { onError = (err) => err }: { onError?: OnError } = {},
): { mdast: SatteriMdastPlugin[]; hast: SatteriHastPlugin[] } {
  const images: SatteriMdastPlugin = {
    name: 'flux-images',
    options: { position: true },
    async before(root, ctx) {
      const pictures = new Map<string, MarkupElement>()
      ctx.data[PICTURES] = pictures
      const file = ctx.fileURL && fileURLToPath(ctx.fileURL)
      const doc = { file, source: ctx.source, mdx: ctx.sourceFormat === 'mdx' }
      await markdownImages(getSession, doc, root, {
        picture(element, image) {
          pictures.set(String(pictures.size), element)
          // An absolute URL: Astro's image collection leaves it alone.
          const hProperties = { [ID]: String(pictures.size - 1) }
          return { type: 'image', url: image.src, alt: image.alt, data: { hProperties } }
        },
        text: (value) => ({ type: 'text', value }),
        setChildren: (parent, children) => ctx.setProperty(parent, 'children', children),
      }).catch((err: unknown) => {
        throw onError(err)
      })
    },
  }
  const swap: SatteriHastPlugin = {
    name: 'flux-images:picture',
    element: {
      filter: ['img'],
      visit(node, ctx) {
        const pictures = ctx.data[PICTURES] as Map<string, MarkupElement> | undefined
        const picture = pictures?.get(String(node.properties?.[ID]))
        return picture && toHast(picture)
      },
    },
  }
  return { mdast: [images], hast: [swap] }
}
