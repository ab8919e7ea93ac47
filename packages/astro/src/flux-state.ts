import type { Flux, ImageResult } from '@flux-images/core'

/** What the integration shares with the markdown plugins, the component and the schema helper. */
export interface FluxState {
  readonly flux: Flux
  /** Every variant file handed out in this process: public URL -> file in the cache. */
  readonly files: Map<string, string>
}

// Astro loads components and content config through Vite's module runner, which may instantiate
// this module again: the engine lives on globalThis so every copy sees the one the integration made.
const KEY = Symbol.for('@flux-images/astro.state')
type Holder = { [KEY]?: FluxState }

export function setFluxState(state: FluxState | undefined): void {
  ;(globalThis as Holder)[KEY] = state
}

/** The running integration's state; throws a clear error when `flux()` is not in the config. */
export function getFluxState(): FluxState {
  const state = (globalThis as Holder)[KEY]
  if (!state) {
    throw new Error(
      '[flux] No flux-images engine: add the integration to astro.config (integrations: [flux()]).',
    )
  }
  return state
}

/** Remembers an image's files (so the build copies them and dev serves them), then returns it. */
export function track(state: FluxState, image: ImageResult): ImageResult {
  for (const file of image.files) state.files.set(file.url, file.path)
  return image
}

/** The image without the cache's file paths: what pages and content data carry. */
export type FluxImageData = Omit<ImageResult, 'files'>

export function withoutFiles({ files: _files, ...data }: ImageResult): FluxImageData {
  return data
}
