import type { Flux, ImageResult, ResolveInput } from '@flux-images/core'

export interface DevImagesOptions {
  /** The engine that renders placeholders (mode `placeholder`, same cache), made on first need. */
  placeholders: () => Flux
  /** Called once pending images have arrived, with the sources that showed their placeholders. */
  refresh: (files: string[]) => Promise<void>
  onError: (err: unknown) => void
}

// Arrivals close together make one refresh: a content sync and a page reload each.
const BATCH_MS = 150

/**
 * `astro dev`'s image lookup: the real image when cached; otherwise a placeholder at once while the
 * real one is generated in the background (inside the engine's bound, sharing its in-flight
 * generations), then one `refresh` for the sources that showed placeholders. Modes that do not
 * generate (offline, placeholder, frozen) answer as the engine does.
 */
export function devImages(
  engine: Flux,
  { placeholders, refresh, onError }: DevImagesOptions,
): (input: ResolveInput, file?: string) => Promise<ImageResult> {
  const pending = new Map<string, Promise<void>>()
  const waiting = new Set<string>()
  let timer: NodeJS.Timeout | undefined

  const flush = () => {
    timer = undefined
    const files = [...waiting]
    waiting.clear()
    refresh(files).catch(onError)
  }
  const arrived = () => {
    clearTimeout(timer)
    timer = setTimeout(flush, BATCH_MS)
  }

  return async (input, file) => {
    const { mode, apiKey } = engine.options
    const generates = mode === 'auto' && apiKey !== undefined
    const status = generates ? await engine.status(input) : 'cached'
    if (status !== 'missing' && status !== 'placeholder') return engine.image(input)
    if (file) waiting.add(file)
    const id = JSON.stringify(input)
    if (!pending.has(id)) {
      const job = engine.image(input).then(arrived, onError)
      pending.set(
        id,
        job.finally(() => pending.delete(id)),
      )
    }
    return placeholders().image(input)
  }
}
