import { plainText } from '@flux-images/core'
import {
  imageRequest,
  type MarkdownPoint,
  markdownPicture,
  splitTypedImages,
  templateHtml,
} from './markdown-picture.js'

interface Point {
  line?: number
  column?: number
  offset?: number
}
interface Node {
  type: string
  url?: string
  alt?: string | null
  value?: string
  children?: Node[]
  position?: { start: Point; end: Point }
}

/** What mdsvex hands a remark plugin: a vfile (mdsvex sets `filename` and `contents`, newer hosts `path` and `value`). */
interface File {
  path?: string
  filename?: string
  contents?: unknown
  value?: unknown
}

/**
 * The remark plugin for mdsvex (`remarkPlugins: [remarkFlux]`): each markdown image whose URL is
 * a `flux:` directive becomes its `<picture>`, from the session of `flux()` in the Vite config,
 * resolved concurrently. So does the typed-anyway `![alt](flux:with spaces)`, which remark reads
 * as text (and mdsvex's remark as a reference between texts): core's scanner finds it in the
 * paragraph's source, and the nodes it spans give way to the picture. Errors are located where
 * the image starts.
 */
export function remarkFlux() {
  return async (tree: Node, file: File): Promise<void> => {
    const path = file.path ?? file.filename
    if (!path) return
    const contents = file.value ?? file.contents
    const source = typeof contents === 'string' ? contents : String(contents ?? '')
    const jobs: Promise<void>[] = []
    /** `node` becomes the picture's raw HTML (in the component's markup, as mdsvex passes it on). */
    const picture = (node: Node, request: Parameters<typeof markdownPicture>[0], at: MarkdownPoint) => {
      jobs.push(
        markdownPicture(request, path, at).then((image) => {
          Object.assign(node, { type: 'html', value: templateHtml(image), children: undefined })
        }),
      )
    }
    const walk = (node: Node) => {
      typedImages(node, source, picture)
      for (const child of node.children ?? []) {
        const request = child.type === 'image' && imageRequest(child.url ?? '', child.alt ?? '')
        const { line = 1, column = 1 } = child.position?.start ?? {}
        if (request) picture(child, request, { line, column })
        else walk(child)
      }
    }
    walk(tree)
    await Promise.all(jobs)
  }
}

/**
 * The typed-anyway images of a parent's inline children: each image the scanner finds in the
 * parent's source that no one image node spans replaces the children it covers, the text before
 * and after it kept (from the source, decoded as the parser decodes it).
 */
function typedImages(
  parent: Node,
  source: string,
  picture: (node: Node, request: Parameters<typeof markdownPicture>[0], at: MarkdownPoint) => void,
): void {
  const children = parent.children
  const from = parent.position?.start.offset
  const to = parent.position?.end.offset
  if (!children || from === undefined || to === undefined) return
  const text = source.slice(from, to)
  if (!text.includes('](flux:')) return
  for (const part of splitTypedImages(text) ?? []) {
    if (typeof part === 'string') continue
    const start = from + part.offset
    const end = from + part.end
    const first = children.findIndex((c) => (c.position?.end.offset ?? -1) > start)
    let last = first
    while (last + 1 < children.length && (children[last + 1]?.position?.start.offset ?? end) < end) last++
    const [head, tail] = [children[first], children[last]]
    const headStart = head?.position?.start.offset
    const tailEnd = tail?.position?.end.offset
    if (!head || !tail || headStart === undefined || tailEnd === undefined) continue
    // One image node: a real image, handled as one. A node cut in two must be text.
    if (first === last && head.type === 'image') continue
    if ((headStart < start && head.type !== 'text') || (tailEnd > end && tail.type !== 'text')) continue
    const node: Node = { type: 'flux-image' }
    // The text around keeps its offsets: a later image in the parent may cut it again.
    const around = (a: number, b: number): Node[] =>
      a < b
        ? [
            {
              type: 'text',
              value: plainText(source.slice(a, b)),
              position: {
                start: { ...pointIn(source, a), offset: a },
                end: { ...pointIn(source, b), offset: b },
              },
            },
          ]
        : []
    children.splice(first, last - first + 1, ...around(headStart, start), node, ...around(end, tailEnd))
    picture(node, part.request, pointIn(source, start))
  }
}

/** The 1-based line and column of `offset` in `source`. */
function pointIn(source: string, offset: number): MarkdownPoint {
  const lines = source.slice(0, offset).split(/\r\n|\r|\n/)
  return { line: lines.length, column: (lines[lines.length - 1] ?? '').length + 1 }
}
