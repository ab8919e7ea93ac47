import { fluxError } from '../errors.js'
import type { ResolvedOptions } from '../options.js'
import { createBflProvider } from '../providers/bfl.js'
import { createOpenAIImagesProvider } from '../providers/openai-images.js'
import { createPlaceholderProvider } from '../providers/placeholder.js'
import type { Logger, Provider } from '../types.js'

/**
 * Why the options make local placeholders (no key, or placeholder mode), as messages say it;
 * undefined when they make real images.
 */
export function placeholderReason(options: Pick<ResolvedOptions, 'mode' | 'apiKey'>): string | undefined {
  if (options.mode === 'placeholder') return 'placeholder mode'
  return options.mode === 'auto' && !options.apiKey ? 'no FLUX_API_KEY set' : undefined
}

/** The gateway when a key is set in `auto` mode; otherwise the placeholder generator, said aloud. */
export function chooseProvider(options: ResolvedOptions, logger: Logger): Provider {
  if (options.mode === 'auto' && options.apiKey) {
    if (!options.baseURL) throw fluxError('FLUX_NO_BASE_URL', {})
    if (options.provider === 'bfl') {
      return createBflProvider({
        apiKey: options.apiKey,
        baseURL: options.baseURL,
        timeoutMs: options.timeoutMs,
        maxRetries: options.maxRetries,
        allowPrivateDownloads: options.allowPrivateDownloads,
        concurrency: options.concurrency,
        logger,
        // The files behind the hashes a key holds: presets' and directives' `ref`s.
        references: options.referenceFiles,
      })
    }
    return createOpenAIImagesProvider({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      responseFormat: options.responseFormat,
      timeoutMs: options.timeoutMs,
      maxRetries: options.maxRetries,
      allowPrivateDownloads: options.allowPrivateDownloads,
      logger,
    })
  }
  logger.warn(
    options.mode === 'placeholder'
      ? 'Placeholder mode: images are local placeholders, not generated (stored apart from real images).'
      : 'No FLUX_API_KEY set: using local PLACEHOLDER images (stored apart, replaced once a key is set).',
  )
  return createPlaceholderProvider()
}
