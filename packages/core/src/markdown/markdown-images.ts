import { relative, sep } from 'node:path'
import { parseDirective, plainText, scanMarkdown, withAlt } from '../directives/index.js'
import { FluxError } from '../errors.js'
import { type MarkupElement, pictureElement } from '../markup/index.js'
import type { ImageResult } from '../optimize/index.js'
import type { Session } from '../session/create-session.js'
import type { Directive, SourceLocation } from '../types.js'

/** A point of a parser's node: 1-based line and column, and the offset into the source it parsed. */
export interface MarkdownPoint {
  line?: number
  column?: number
  offset?: number
}

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

/** The markdown document a parser made a tree of: its file (absolute, when it has one) and the source it parsed. */
export interface MarkdownFile {
  file: string | undefined
  source: string
  /** Whether the source is MDX. @default the file's extension says */
  mdx?: boolean
}

/** The session's parts used here. */
export type MarkdownSession = Pick<Session, 'image' | 'directivesIn'> & { options: { root: string } }

/** One of a parent's new children: a node kept, a text cut from one, or an image (by number). */
type Entry<N> = { node: N; at?: Span } | { text: string; at: Span } | { image: number; at?: Span }
interface Span {
  start: number
  end: number
}
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
  const directives = await documentDirectives(session, doc)
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

/**
 * The document's markdown directives, in source order, their spans as offsets into `source`: the
 * session's (the source may be the file's body alone, as Astro hands a `.md` body on: the spans
 * are moved by where it starts in the file), else what a scan of the source finds.
 */
async function documentDirectives(session: MarkdownSession, { file, source, mdx }: MarkdownFile) {
  const indexed = (file === undefined ? undefined : await session.directivesIn(file)) ?? []
  const shift = shiftOf(source, indexed)
  const found =
    shift === undefined
      ? scanMarkdown(source, relativeName(session, file), 1, mdx === undefined ? {} : { mdx }).directives
      : indexed.map((d) => ({
          ...d,
          span: moved(d.span, shift),
          ...(d.element && { element: moved(d.element, shift) }),
        }))
  return found
    .filter((d) => d.kind === 'markdown' && d.element !== undefined)
    .sort((a, b) => (a.element?.start ?? 0) - (b.element?.start ?? 0))
}

/** Where `source` starts in the file the directives were scanned in, if each is written there as scanned. */
function shiftOf(source: string, directives: readonly Directive[]): number | undefined {
  const [first] = directives
  if (!first) return undefined
  for (let at = source.indexOf(first.raw); at >= 0; at = source.indexOf(first.raw, at + 1)) {
    const shift = first.span.start - at
    if (directives.every((d) => source.startsWith(d.raw, d.span.start - shift))) return shift
  }
  return undefined
}

const moved = ({ start, end }: Span, by: number): Span => ({ start: start - by, end: end - by })

/**
 * The directive located where its image starts (`![`), as a parser's node puts it: the scan
 * locates its destination. Lines are the file's own (the scan's).
 */
function atImage(directive: Directive, source: string): Directive {
  const { element, span: at, location } = directive
  if (!element) return directive
  const between = source.slice(element.start, at.start)
  const lines = between.split(/\r\n|\r|\n/).length - 1
  const column =
    lines === 0
      ? location.column - between.length
      : element.start - source.lastIndexOf('\n', element.start - 1)
  return { ...directive, location: { ...location, line: location.line - lines, column } }
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
        ? indexedImage(session, doc, directive, alt)
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
    images.push(() => indexedImage(session, doc, directive, directive.params.alt ?? ''))
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

/** The image of a directive the scan found; the page's alt is the parser's where the query sets none. */
async function indexedImage(
  session: MarkdownSession,
  doc: MarkdownFile,
  directive: Directive,
  alt: string,
): Promise<ImageResult> {
  const at = atImage(directive, doc.source)
  const image = await located(session.image(at, doc.file), at.location)
  const shown = alt.trim()
  return shown === '' || /[?&]alt=/.test(directive.raw) ? image : { ...image, alt: shown }
}

/** The image of an image node no scan read as a directive: its URL as the parser left it (parseDirective decodes it). */
function urlImage(
  session: MarkdownSession,
  doc: MarkdownFile,
  url: string,
  alt: string,
  at: MarkdownPoint | undefined,
): Promise<ImageResult> {
  const location: SourceLocation = {
    file: relativeName(session, doc.file),
    line: at?.line ?? 1,
    column: at?.column ?? 1,
  }
  const parsed = parseDirective(url)
  if (!parsed) return Promise.reject(new Error(`[flux] ${location.file}: not a directive: ${url}`))
  const { prompt, params } = withAlt(parsed, alt)
  return located(session.image({ prompt, params, location }, doc.file), location)
}

/** A FluxError without a location gets the directive's. */
async function located(image: Promise<ImageResult>, location: SourceLocation): Promise<ImageResult> {
  try {
    return await image
  } catch (err) {
    throw FluxError.is(err) && !err.location ? err.at(location) : err
  }
}

/** The file as locations name it: relative to the root (`markdown` for a text of no file). */
const relativeName = (session: MarkdownSession, file: string | undefined) =>
  file === undefined ? 'markdown' : relative(session.options.root, file).split(sep).join('/')
