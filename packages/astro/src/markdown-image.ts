import { fileURLToPath } from 'node:url'
import { FluxError, type ImageResult, locateDirective, parseDirective, withAlt } from '@flux-images/core'
import type { FluxState } from './flux-state.js'

/** Whether a markdown image's URL is a directive (`flux:`, any case of the scheme is not one). */
export const isDirectiveUrl = (url: string): boolean => url.startsWith('flux:')

/**
 * The image of a markdown `![alt](flux:...)`: the URL as the parser left it (escapes still encoded,
 * parseDirective decodes them), the alt filling an empty prompt and the alt parameter, as core's
 * scanner reads it, so the request is the one pre-generated. Errors are located in the file, for
 * the message and for Astro's overlay.
 */
export async function markdownImage(
  state: FluxState,
  url: string,
  alt: string,
  fileURL: URL | undefined,
): Promise<ImageResult> {
  const parsed = parseDirective(url)
  if (!parsed) throw new Error(`[flux] not a directive: ${url}`)
  const { prompt, params } = withAlt(parsed, alt)
  const file = fileURL && fileURLToPath(fileURL)
  try {
    return await state.image({ prompt, params }, file)
  } catch (err) {
    const location = file
      ? await locateDirective(state.flux.options.root, file, (d) => d.prompt === prompt)
      : undefined
    if (!location || !file || !FluxError.is(err) || err.location) throw err
    // `loc` (absolute file) is what Astro's overlay reads to point at the directive.
    const { line, column } = location
    throw Object.assign(err.at(location), { loc: { file, line, column } })
  }
}
