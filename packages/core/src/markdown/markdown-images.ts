import { plainText } from '../directives/index.js'
import { type MarkupElement, pictureElement } from '../markup/index.js'
import type { ImageResult } from '../optimize/index.js'
import type { Directive, Span } from '../types.js'
import {
  directiveImage,
  type MarkdownFile,
  type MarkdownPoint,
  type MarkdownSession,
  markdownDirectives,
  urlImage,
} from './markdown-directives.js'

/** The parts of an mdast node (remark's, Sätteri's, mdsvex's) read here. */
export interface MarkdownNode {
  type: string
  url?: string
  alt?: string | null
  value?: string
  children?: readonly MarkdownNode[]
  position?: { start: MarkdownPoint; end: MarkdownPoint }
}

/** What a host does with its own tree. */
export interface MarkdownHost<N extends MarkdownNode> {
  /** The node that shows an image's `<picture>` element. */
  picture(element: MarkupElement, image: ImageResult): N
  /** A plain text node (the text beside a typed-anyway image). */
  text(value: string): N
  /** Gives `parent` these children (in place of the ones it had). */
  setChildren(parent: N, children: N[]): void
}

/** One of a parent's new children: a node kept, a text cut from one, or an image (by number). */
type Entry<N> = { node: N; at?: Span } | { text: string; at: Span } | { image: number; at?: Span }

/**
 * Every `flux:` image of a parser's tree becomes the host's picture node, in place: the images
 * the parser read (`![alt](flux:a-prompt)`, `![alt](<flux:a prompt>)`) and the typed-anyway form
 * `![alt](flux:a prompt)`, which CommonMark reads as text (split by any inline markup in it) and
 * core's scanner reads as an image. Each is looked up by its offsets among the directives the
 * session's scan found in the file, so its directive is parsed once per build; only what no scan
 * saw (dev, where files change; a source no scan read) is scanned here, once per document, and an
 * image node no scan reads as a directive is parsed from its URL. No text is rewritten and parsed
 * again. Errors are FluxErrors located at the image's file:line:column.
 */
export async function markdownImages<N extends MarkdownNode>(
  getSession: () => MarkdownSession,
  doc: MarkdownFile,
  tree: N,
  host: MarkdownHost<N>,
): Promise<void> {
  if (!doc.source.includes('flux:')) return
  const session = getSession()
  const directives = await markdownDirectives(session, doc)
  const jobs: Promise<void>[] = []
  const visit = (parent: N) => {
    const children = parent.children as readonly N[] | undefined
    if (!children?.length || !holds(parent, directives)) return
    const images: (() => Promise<ImageResult>)[] = []
    const entries = entriesOf(session, doc, parent, children, directives, images)
    for (const child of children) visit(child)
    if (images.length === 0) return
    jobs.push(
      Promise.all(images.map((image) => image())).then((made) => {
        const next = entries.map((e) => {
          if ('node' in e) return e.node
          if ('text' in e) return host.text(e.text)
          const image = made[e.image] as ImageResult
          return host.picture(pictureElement(image), image)
        })
        host.setChildren(parent, next)
      }),
    )
  }
  visit(tree)
  await Promise.all(jobs)
}

const span = (node: MarkdownNode) => {
  const start = node.position?.start.offset
  const end = node.position?.end.offset
  return start === undefined || end === undefined ? undefined : { start, end }
}

/** Whether a directive's image starts inside the node (true when the parser gave no offsets). */
function holds(node: MarkdownNode, directives: readonly Directive[]): boolean {
  const at = span(node)
  if (!at) return true
  return directives.some((d) => (d.element?.start ?? -1) >= at.start && (d.element?.start ?? -1) < at.end)
}

/**
 * A parent's children with its images in them: image nodes with a `flux:` URL, and typed-anyway
 * images, each in place of the nodes it spans (text cut at its edges); `images` gets how to make each.
 */
function entriesOf<N extends MarkdownNode>(
  session: MarkdownSession,
  doc: MarkdownFile,
  parent: N,
  children: readonly N[],
  directives: readonly Directive[],
  images: (() => Promise<ImageResult>)[],
): Entry<N>[] {
  const entries: Entry<N>[] = children.map((child) => {
    const at = span(child)
    if (child.type !== 'image' || !child.url?.startsWith('flux:')) return { node: child, ...(at && { at }) }
    const directive = at && directives.find((d) => d.element?.start === at.start && d.element.end === at.end)
    const alt = child.alt ?? ''
    images.push(() =>
      directive
        ? directiveImage(session, doc, directive, alt)
        : urlImage(session, doc, child.url ?? '', alt, child.position?.start),
    )
    return { image: images.length - 1, ...(at && { at }) }
  })
  const within = span(parent)
  if (!within) return entries
  for (const directive of directives) {
    const { start, end } = directive.element ?? directive.span
    if (start < within.start || end > within.end) continue
    const first = entries.findIndex((e) => (e.at?.end ?? -1) > start)
    let last = first
    while (last + 1 < entries.length && (entries[last + 1]?.at?.start ?? end) < end) last++
    const head = entries[first]
    const tail = entries[last]
    if (!head?.at || !tail?.at) continue
    const [headAt, tailAt] = [head.at, tail.at]
    // Inside one node that is not text: an image node (above), or a parent visited in turn.
    if (first === last && !isText(head)) continue
    // A node cut in two must be text.
    if ((headAt.start < start && !isText(head)) || (tailAt.end > end && !isText(tail))) continue
    images.push(() => directiveImage(session, doc, directive, directive.params.alt ?? ''))
    const around: Entry<N>[] = []
    if (headAt.start < start)
      around.push({ text: cut(head, doc.source, start, 'head'), at: { start: headAt.start, end: start } })
    around.push({ image: images.length - 1, at: { start, end } })
    if (tailAt.end > end)
      around.push({ text: cut(tail, doc.source, end, 'tail'), at: { start: end, end: tailAt.end } })
    entries.splice(first, last - first + 1, ...around)
  }
  return entries
}

const isText = (e: Entry<MarkdownNode>) => 'text' in e || ('node' in e && e.node.type === 'text')

/**
 * A text entry's part before `at` (its head) or after it (its tail), as the node's value shows it:
 * the value's own characters where it shows its source unchanged (or the image's part unchanged),
 * else the source decoded as the parser decodes it.
 */
function cut(entry: Entry<MarkdownNode>, source: string, at: number, side: 'head' | 'tail'): string {
  const { start, end } = entry.at as Span
  const value = 'text' in entry ? entry.text : 'node' in entry ? (entry.node.value ?? '') : ''
  const kept = side === 'head' ? source.slice(start, at) : source.slice(at, end)
  if (value === source.slice(start, end)) return kept
  // The image's part of the node, decoded, is what the value ends (or starts) with.
  const image = plainText(side === 'head' ? source.slice(at, end) : source.slice(start, at))
  if (side === 'head' && value.endsWith(image)) return value.slice(0, value.length - image.length)
  if (side === 'tail' && value.startsWith(image)) return value.slice(image.length)
  return plainText(kept)
}
