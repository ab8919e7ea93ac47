import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FluxError, type ImageResult, parseDirective, withAlt } from '@flux-images/core'
import { withLoc } from './error-location.js'
import type { FluxState } from './flux-state.js'

/** Whether a markdown image's URL is a directive (`flux:`, any case of the scheme is not one). */
export const isDirectiveUrl = (url: string): boolean => url.startsWith('flux:')

/** A 1-based line and column in the source, as the parser's node gives its start. */
export interface SourcePoint {
  line?: number
  column?: number
}

/**
 * The image of a markdown `![alt](flux:...)`: the URL as the parser left it (escapes still encoded,
 * parseDirective decodes them), the alt filling an empty prompt and the alt parameter, as core's
 * scanner reads it, so the request is the one pre-generated. `at` is where the parser's node puts
 * the image: errors are located there, for the message and for Astro's overlay.
 */
export async function markdownImage(
  state: FluxState,
  url: string,
  alt: string,
  fileURL: URL | undefined,
  at: SourcePoint | undefined,
): Promise<ImageResult> {
  const parsed = parseDirective(url)
  if (!parsed) throw new Error(`[flux] not a directive: ${url}`)
  const { prompt, params } = withAlt(parsed, alt)
  const file = fileURL && fileURLToPath(fileURL)
  if (!file) return state.image({ prompt, params })
  const { root } = state.flux.options
  const location = {
    file: relative(root, file).split('\\').join('/'),
    line: at?.line ?? 1,
    column: at?.column ?? 1,
  }
  try {
    return await state.image({ prompt, params, location }, file)
  } catch (err) {
    if (!FluxError.is(err)) throw err
    throw withLoc(err.location ? err : err.at(location), root)
  }
}

/**
 * The image the session's index holds for a markdown image of `fileURL` written as `source` (its
 * `![alt](...)`, as the parser's node spans it), so nothing is parsed or verified again; undefined
 * when the index cannot tell (then `markdownImage` works it out).
 */
export async function indexedImage(
  state: FluxState,
  fileURL: URL | undefined,
  source: string | undefined,
  alt: string,
): Promise<ImageResult | undefined> {
  if (!fileURL || source === undefined) return undefined
  return state.imageAt(fileURLToPath(fileURL), { source, alt })
}

/** The point `offset` code units into `text`, the source of a node that starts at `start`. */
export function pointIn(start: SourcePoint, text: string, offset: number): SourcePoint {
  if (start.line === undefined || start.column === undefined) return start
  const lines = text.slice(0, offset).split(/\r\n|\r|\n/)
  const last = lines.length - 1
  const column = last === 0 ? start.column + offset : (lines[last] ?? '').length + 1
  return { line: start.line + last, column }
}
