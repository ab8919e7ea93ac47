import type { ImageResult, Session } from '@flux-images/core'
import type { SocialCards } from '@flux-images/core/dev'

/** What the integration shares with the markdown plugins, the component and the schema helper: core's session. */
export type FluxState = Session

// Astro loads components and content config through Vite's module runner, which may instantiate
// this module again: the session lives on globalThis so every copy sees the one the integration made.
const KEY = Symbol.for('@flux-images/astro.state')
type Holder = { [KEY]?: FluxState }

export function setFluxState(state: FluxState | undefined): void {
  ;(globalThis as Holder)[KEY] = state
}

/** The session set last, if any. */
export function lastFluxState(): FluxState | undefined {
  return (globalThis as Holder)[KEY]
}

/** The running integration's session; throws a clear error when `flux()` is not in the config. */
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

const CARDS = Symbol.for('@flux-images/astro.cards')
type CardsHolder = { [CARDS]?: SocialCards }

export function setSocialCards(cards: SocialCards | undefined): void {
  ;(globalThis as CardsHolder)[CARDS] = cards
}

/** The running integration's social cards; throws the same clear error as getFluxState() without it. */
export function getSocialCards(): SocialCards {
  const cards = (globalThis as CardsHolder)[CARDS]
  if (!cards) getFluxState()
  return cards as SocialCards
}
