import { relative, sep } from 'node:path'
import { parseDirective, scanMarkdown, withAlt } from '../directives/index.js'
import { FluxError, fluxError } from '../errors.js'
import type { ImageResult } from '../optimize/index.js'
import type { Session } from '../session/create-session.js'
import type { Directive, SourceLocation, Span } from '../types.js'

/** A point of a parser's node: 1-based line and column, and the offset into the source it parsed. */
export interface MarkdownPoint {
  line?: number
  column?: number
  offset?: number
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

/**
 * The document's markdown directives, in source order, their spans as offsets into `source`: the
 * session's (the source may be the file's body alone, as Astro hands a `.md` body on: the spans
 * are moved by where it starts in the file), else what a scan of the source finds.
 */
export async function markdownDirectives(
  session: MarkdownSession,
  { file, source, mdx }: MarkdownFile,
): Promise<Directive[]> {
  const images = (found: readonly Directive[]) =>
    found.filter((d) => d.kind === 'markdown' && d.element !== undefined)
  const indexed = images((file === undefined ? undefined : await session.directivesIn(file)) ?? [])
  const shift = shiftOf(source, indexed)
  const found =
    shift === undefined
      ? images(
          scanMarkdown(source, relativeName(session, file), 1, mdx === undefined ? {} : { mdx }).directives,
        )
      : indexed.map((d) => ({
          ...d,
          span: moved(d.span, shift),
          ...(d.element && { element: moved(d.element, shift) }),
        }))
  return found.sort((a, b) => (a.element?.start ?? 0) - (b.element?.start ?? 0))
}

/**
 * Where `source` starts in the file the directives were scanned in, if each image is written there
 * as scanned: its `![` where the scan found it, and its directive. (A directive alone can be text
 * elsewhere, as `flux:` is in "a `flux:` prompt".)
 */
function shiftOf(source: string, directives: readonly Directive[]): number | undefined {
  const [first] = directives
  if (!first?.element) return undefined
  const written = (d: Directive, shift: number) =>
    d.element !== undefined &&
    source.startsWith('![', d.element.start - shift) &&
    source.startsWith(d.raw, d.span.start - shift)
  for (let at = source.indexOf('![', 0); at >= 0; at = source.indexOf('![', at + 1)) {
    const shift = first.element.start - at
    if (directives.every((d) => written(d, shift))) return shift
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

/** The image of a directive the scan found; the page's alt is the parser's where the query sets none. */
export async function directiveImage(
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
export function urlImage(
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
  if (!parsed) {
    const reason = `Expected a directive such as "flux:A lighthouse at dawn?size=1536x1024", got ${JSON.stringify(url)}.`
    return Promise.reject(fluxError('FLUX_INVALID_DIRECTIVE', { reason }).at(location))
  }
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
