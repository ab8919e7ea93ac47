import { markdownImages } from '@flux-images/core/dev'
import { templateHtml } from './markdown-picture.js'
import { sessionFor } from './session-registry.js'

interface Node {
  type: string
  value?: string
  children?: Node[]
}

/** What mdsvex hands a remark plugin: a vfile (mdsvex sets `filename` and `contents`, newer hosts `path` and `value`). */
interface File {
  path?: string
  filename?: string
  contents?: unknown
  value?: unknown
}

/**
 * The remark plugin for mdsvex (`remarkPlugins: [remarkFlux]`): each `flux:` image (typed-anyway
 * form included, found by core's `markdownImages`) becomes its `<picture>` as raw HTML in the
 * component's markup, from the session of `flux()` in the Vite config.
 */
export function remarkFlux() {
  return async (tree: Node, file: File): Promise<void> => {
    const path = file.path ?? file.filename
    if (!path) return
    const contents = file.value ?? file.contents
    const source = typeof contents === 'string' ? contents : String(contents ?? '')
    await markdownImages(() => sessionFor(path), { file: path, source }, tree, {
      picture: (element) => ({ type: 'html', value: templateHtml(element) }),
      text: (value) => ({ type: 'text', value }),
      setChildren(parent, children) {
        parent.children = children
      },
    })
  }
}
