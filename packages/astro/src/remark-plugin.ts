import { type HastElement, toHast } from '@flux-images/core'
import { markdownImages } from '@flux-images/core/dev'
import { withLoc } from './error-location.js'
import type { FluxState } from './flux-state.js'

interface Node {
  type: string
  value?: string
  children?: Node[]
  data?: { hName?: string; hProperties?: HastElement['properties']; hChildren?: HastElement[] }
}

/**
 * The remark plugin for the unified processor (Astro 5 and 6, `unified()`, MDX): each `flux:`
 * image becomes a node that remark-rehype turns into its `<picture>` element (core's
 * `markdownImages` finds them, typed-anyway form included). Errors carry Astro's `loc`.
 */
export function remarkFlux(getState: () => FluxState) {
  return () =>
    async (tree: Node, file: { path?: string; value?: unknown; extname?: string }): Promise<void> => {
      if (typeof file.value !== 'string') return
      const doc = { file: file.path, source: file.value, mdx: file.extname === '.mdx' }
      await markdownImages(getState, doc, tree, {
        picture(element) {
          const { tagName, properties, children } = toHast(element)
          return {
            type: 'flux-picture',
            data: { hName: tagName, hProperties: properties, hChildren: children },
          }
        },
        text: (value) => ({ type: 'text', value }),
        setChildren(parent, children) {
          parent.children = children
        },
      }).catch((err) => {
        throw withLoc(err, getState().options.root)
      })
    }
}
