import type { ImageResult, Session } from '@flux-images/core'

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

/** A page's social card, as `socialCard()` hands it to the page: for `og:image` and `twitter:image`. */
export interface SocialCardData {
  /** The card's URL (`base` + `/_flux/` + a content-hashed name); make it absolute with `new URL(src, Astro.site)`. */
  src: string
  width: number
  height: number
  /** `image/jpeg`, for `og:image:type`. */
  type: string
}

/** What `socialCard()` accepts: Astro's image (`ImageMetadata`), a `fluxImage()` field, or a directive. */
export type CardInput =
  | { fsPath?: string; src: string }
  | FluxImageData
  | string
  | { flux: string; size?: string; model?: string; quality?: string; seed?: string | number; preset?: string }

export interface CardOptions {
  /** Where the crop is centred: `'attention'` (the subject, found by sharp) or `{ x, y }` fractions of the image. @default 'attention' */
  focus?: 'attention' | { x: number; y: number }
}

/** The integration's social cards: made in the cache, served in dev, written to the build's output. */
export interface SocialCards {
  card(input: CardInput, options?: CardOptions): Promise<SocialCardData>
  /** Every card handed out so far: public URL -> file in the cache. */
  readonly files: ReadonlyMap<string, string>
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
