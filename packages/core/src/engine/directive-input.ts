import { requestKey } from '../cache/index.js'
import { parseDirective, unknownParamsError } from '../directives/index.js'
import { fluxError } from '../errors.js'
import type { ResolvedOptions } from '../options.js'
import type { CanonicalRequest, DirectiveParams, SourceLocation } from '../types.js'
import { resolveRequest } from './resolve-request.js'

/** A directive's text as parsed (with its location for errors), or an already canonical request. */
export type ResolveInput =
  | { prompt: string; params?: DirectiveParams; location?: SourceLocation; unknownParams?: string[] }
  | { request: CanonicalRequest }

/** What `image()`, `resolve()` and `status()` take: the directive string as written (`flux:...`), or its parsed form. */
export type ImageInput = string | ResolveInput

/** The parsed form of an input; a string that is not a directive is FLUX_INVALID_DIRECTIVE. */
export function directiveInput(input: ImageInput): ResolveInput {
  if (typeof input !== 'string') return input
  const parsed = parseDirective(input)
  if (!parsed) {
    throw fluxError('FLUX_INVALID_DIRECTIVE', {
      reason: `Expected a directive such as "flux:A lighthouse at dawn?size=1536x1024", got ${JSON.stringify(input.length > 80 ? `${input.slice(0, 80)}…` : input)}.`,
    })
  }
  return parsed
}

/**
 * The canonical request of an input, its key, and where it was written (when known). A misspelt
 * option (`unknownParams`) is FLUX_UNKNOWN_OPTION, as in a scan.
 */
export function requestOf(
  input: ResolveInput,
  options: ResolvedOptions,
): { request: CanonicalRequest; key: string; location: SourceLocation | undefined } {
  if ('unknownParams' in input && input.unknownParams?.length) {
    throw unknownParamsError(input.unknownParams, input.location)
  }
  const request = 'request' in input ? input.request : resolveRequest({ params: {}, ...input }, options)
  return { request, key: requestKey(request), location: 'location' in input ? input.location : undefined }
}
