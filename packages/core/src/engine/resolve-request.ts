import { fluxError } from '../errors.js'
import type { ResolvedOptions } from '../options.js'
import type { CanonicalRequest, DirectiveParams, SourceLocation } from '../types.js'

type Defaults = Pick<ResolvedOptions, 'model' | 'size' | 'quality' | 'models' | 'sizes'>

/**
 * Turns a directive's prompt and params into the canonical request (every default filled in),
 * or throws a FluxError located at the directive that says what is wrong and how to fix it.
 */
export function resolveRequest(
  directive: { prompt: string; params: DirectiveParams; location?: SourceLocation },
  options: Defaults,
): CanonicalRequest {
  const { params, location } = directive
  // One prompt, one key: composed and decomposed forms of the same text must not be paid twice.
  const prompt = directive.prompt.normalize('NFC').trim()
  if (!prompt) throw fluxError('FLUX_EMPTY_PROMPT', {}, { location })

  const model = params.model?.trim() || options.model
  if (!options.models.includes(model)) {
    throw fluxError('FLUX_UNKNOWN_MODEL', { model, accepted: options.models }, { location })
  }
  const size = params.size?.trim().toLowerCase() || options.size
  if (!options.sizes.includes(size)) {
    throw fluxError('FLUX_UNKNOWN_SIZE', { size, accepted: options.sizes }, { location })
  }
  const quality = params.quality?.trim() || options.quality
  if (quality !== 'standard' && quality !== 'hd') {
    throw fluxError(
      'FLUX_INVALID_OPTION_VALUE',
      { key: 'quality', value: quality, expected: '"standard" or "hd"' },
      { location },
    )
  }
  const request: CanonicalRequest = { model, prompt, size, quality }
  const seedText = params.seed?.trim()
  if (seedText) {
    const seed = Number(seedText)
    if (!/^\d+$/.test(seedText) || !Number.isSafeInteger(seed)) {
      throw fluxError(
        'FLUX_INVALID_OPTION_VALUE',
        { key: 'seed', value: seedText, expected: 'a whole number from 0 and up' },
        { location },
      )
    }
    request.seed = seed
  }
  return request
}
