import { pathToFileURL } from 'node:url'
import { type HastElement, type ImageResult, pictureElement, plainText, toHast } from '@flux-images/core'
import type { FluxState } from './flux-state.js'
import { indexedImage, isDirectiveUrl, markdownImage, pointIn, type SourcePoint } from './markdown-image.js'
import { altPromptUrl, markdownImages } from './typed-images.js'

interface Point extends SourcePoint {
  offset?: number
}
interface Node {
  type: string
  url?: string
  alt?: string | null
  value?: string
  children?: Node[]
  position?: { start: Point; end: Point }
  data?: { hName?: string; hProperties?: HastElement['properties']; hChildren?: HastElement[] }
}

/**
 * The remark plugin for the unified processor: every `flux:` image becomes the `<picture>` element
 * (a node that remark-rehype turns into that hast element, in `.md` and MDX alike), resolved
 * concurrently. The typed-anyway form `![alt](flux:with spaces)`, text to remark, is found in text
 * nodes by core's scanner and replaced the same way. Errors are located where the parser's node is.
 */
export function remarkFlux(getState: () => FluxState) {
  return () =>
    async (tree: Node, file: { path?: string; value?: unknown; extname?: string }): Promise<void> => {
      const fileURL = file.path ? pathToFileURL(file.path) : undefined
      const source = typeof file.value === 'string' ? file.value : undefined
      const mdx = file.extname === '.mdx'
      /** The source a node spans, when the parser gave its offsets. */
      const sourceOf = ({ position }: Node) => {
        const start = position?.start.offset
        const end = position?.end.offset
        return source === undefined || start === undefined || end === undefined
          ? undefined
          : source.slice(start, end)
      }
      /** The picture of an image written as `written` (looked up in the session's index), else of `url()`. */
      const picture = async (
        url: () => string,
        alt: string,
        at: SourcePoint | undefined,
        written: string | undefined,
      ): Promise<Node> =>
        pictureNode(
          (await indexedImage(getState(), fileURL, written, alt)) ??
            (await markdownImage(getState(), url(), alt, fileURL, at)),
        )
      const jobs: Promise<void>[] = []
      const walk = (node: Node) => {
        const children = node.children ?? []
        for (const [index, child] of children.entries()) {
          if (child.type === 'image' && child.url && isDirectiveUrl(child.url)) {
            const written = sourceOf(child)
            const { url = '' } = child
            const resolved = () => (written !== undefined && altPromptUrl(url, written, mdx)) || url
            jobs.push(
              picture(resolved, child.alt ?? '', child.position?.start, written).then((replaced) => {
                children[index] = replaced
              }),
            )
          } else if (child.type === 'text' && child.value?.includes('](flux:')) {
            const job = typedImages(child, sourceOf(child), mdx, picture)
            if (job === undefined) continue
            // Spliced in as one parent, so sibling indexes stay valid for the other jobs.
            jobs.push(
              job.then((nodes) => {
                children[index] = { type: 'flux-group', children: nodes }
              }),
            )
          } else walk(child)
        }
      }
      walk(tree)
      await Promise.all(jobs)
      flatten(tree)
    }
}

/**
 * A text node's typed-anyway images (`![alt](flux:...)`) and the text around them. The requests
 * and positions come from the node's source; the text around them from its value, which was
 * decoded and smartened by then, split by the same function (once when both are the same text).
 * When the value shows other images than the source (`flux:\)`, an escaped `]`), the text around
 * the source's images is the source's, decoded as the parser decodes it, unless it holds what
 * smart punctuation changes. Undefined when there are none, or neither holds.
 */
function typedImages(
  node: Node,
  source: string | undefined,
  mdx: boolean,
  picture: (
    url: () => string,
    alt: string,
    at: SourcePoint | undefined,
    written: string | undefined,
  ) => Promise<Node>,
): Promise<Node[]> | undefined {
  const text = node.value ?? ''
  if (source === undefined) return undefined
  const written = markdownImages(source, mdx)
  // The value is text, not MDX any more (its expressions and tags are other nodes).
  const shown = source === text ? written : markdownImages(text, false)
  const paired = shown.length === written.length
  // The text around the images: the value's when it shows the same images, else the source's.
  const [around, images] = paired ? [text, shown] : [source, written]
  if (written.length === 0) return undefined
  const start = node.position?.start
  const parts: Promise<Node>[] = []
  let from = 0
  const textPart = (part: string) => {
    // What smart punctuation would change cannot be told from the source.
    if (!paired && /["'`.-]/.test(part)) return false
    parts.push(Promise.resolve({ type: 'text', value: paired ? part : plainText(part) }))
    return true
  }
  for (const [k, image] of images.entries()) {
    const { url, element, directive } = written[k] as (typeof written)[number]
    if (image.element.start < from || !textPart(around.slice(from, image.element.start))) return undefined
    const alt = paired ? image.alt : (directive.params.alt ?? '')
    // Where the image starts in the source, as the parser's node gives a real image's start.
    parts.push(
      picture(
        () => url,
        alt,
        start && pointIn(start, source, element.start),
        source.slice(element.start, element.end),
      ),
    )
    from = image.element.end
  }
  if (!textPart(around.slice(from))) return undefined
  return Promise.all(parts).then((nodes) => nodes.filter((n) => n.type !== 'text' || n.value !== ''))
}

/** A node that remark-rehype turns into the `<picture>` element itself (its `data.h*`). */
function pictureNode(image: ImageResult): Node {
  const { tagName, properties, children } = toHast(pictureElement(image))
  return { type: 'flux-picture', data: { hName: tagName, hProperties: properties, hChildren: children } }
}

/** Replaces each `flux-group` by its children. */
function flatten(node: Node): void {
  if (!node.children) return
  node.children = node.children.flatMap((child) =>
    child.type === 'flux-group' ? (child.children ?? []) : [child],
  )
  for (const child of node.children) flatten(child)
}
