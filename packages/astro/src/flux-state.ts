import type { ImageResult, Session } from '@flux-images/core'
import type { SocialCards } from '@flux-images/core/dev'

/** What the integration shares with the markdown plugins, the component and the schema helper: core's session. */
export type FluxState = Session

// Astro loads components and content config through Vite's module runner, which may instantiate
// this module again: the session and its cards live on globalThis so every copy sees the ones the
// integration made.
const KEY = Symbol.for('@flux-images/astro.state')
type Shared = { session: FluxState; cards: SocialCards | undefined }
type Holder = { [KEY]?: Shared }

export function setFluxState(session: FluxState | undefined, cards?: SocialCards): void {
  ;(globalThis as Holder)[KEY] = session && { session, cards }
}

/** The session set last, if any. */
export function lastFluxState(): FluxState | undefined {
  return (globalThis as Holder)[KEY]?.session
}

/** The running integration's; throws a clear error when `flux()` is not in the config. */
function shared(): Shared {
  const found = (globalThis as Holder)[KEY]
  if (!found) {
    throw new Error(
      '[flux] No flux-images engine: add the integration to astro.config (integrations: [flux()]). Images are made at build time: a page rendered on demand (`prerender = false`) cannot render <FluxImage>; prerender it.',
    )
  }
  return found
}

/** The running integration's session. */
export const getFluxState = (): FluxState => shared().session

/** The running integration's social cards. */
export const getSocialCards = (): SocialCards => shared().cards as SocialCards

/** The image without the cache's file paths: what pages and content data carry. */
export type FluxImageData = Omit<ImageResult, 'files'>

export function withoutFiles({ files: _files, ...data }: ImageResult): FluxImageData {
  return data
}
