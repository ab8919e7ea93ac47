import type { Flux, ImageResult, ResolveInput } from '@flux-images/core'

/** What the integration shares with the markdown plugins, the component and the schema helper. */
export interface FluxState {
  readonly flux: Flux
  /** Every variant file handed out in this process: public URL -> file in the cache. */
  readonly files: Map<string, string>
  /**
   * The image for a page, its files remembered (the build copies them, dev serves them). `file` is
   * the source asking for it, so that dev can refresh that source once a pending image arrives.
   */
  image(input: ResolveInput, file?: string): Promise<ImageResult>
}

// Astro loads components and content config through Vite's module runner, which may instantiate
// this module again: the engine lives on globalThis so every copy sees the one the integration made.
const KEY = Symbol.for('@flux-images/astro.state')
type Holder = { [KEY]?: FluxState }

/**
 * The state over an engine; `image` (dev's placeholder-first lookup) replaces the engine's own
 * `image` when given.
 */
export function createFluxState(
  flux: Flux,
  image: (input: ResolveInput, file?: string) => Promise<ImageResult> = (input) => flux.image(input),
): FluxState {
  const files = new Map<string, string>()
  return {
    flux,
    files,
    async image(input, file) {
      const result = await image(input, file)
      for (const { url, path } of result.files) files.set(url, path)
      return result
    },
  }
}

export function setFluxState(state: FluxState | undefined): void {
  ;(globalThis as Holder)[KEY] = state
}

/** The running integration's state; throws a clear error when `flux()` is not in the config. */
export function getFluxState(): FluxState {
  const state = (globalThis as Holder)[KEY]
  if (!state) {
    throw new Error(
      '[flux] No flux-images engine: add the integration to astro.config (integrations: [flux()]). Images are made at build time: a page rendered on demand (`prerender = false`) cannot render <FluxImage>; prerender it.',
    )
  }
  return state
}

/** The image without the cache's file paths: what pages and content data carry. */
export type FluxImageData = Omit<ImageResult, 'files'>

export function withoutFiles({ files: _files, ...data }: ImageResult): FluxImageData {
  return data
}
