import type { CardInput, CardOptions, SocialCardData } from '@flux-images/core/dev'
import {
  componentDirective,
  type PictureAttributes,
  parseDirective,
  renderPicture,
} from '@flux-images/core/runtime'
import { type FluxImageData, getFluxState, getSocialCards } from './flux-state.js'

/** The props of `<FluxImage>`: a prompt and its options, or an image from `fluxImage()` or a `flux:` string. */
export interface FluxImageProps extends PictureAttributes {
  prompt?: string
  image?: FluxImageData | string
  model?: string
  size?: string
  quality?: string
  seed?: string | number
  /** A preset of `presets`, or `none`. @default the `preset` option */
  preset?: string
}

/** The `<picture>` markup of `<FluxImage>`, from the integration's engine. */
export async function renderFluxImage(props: FluxImageProps): Promise<string> {
  const { prompt, image, model, size, quality, seed, preset, ...attrs } = props
  if (image !== undefined && typeof image !== 'string') {
    // A `flux:` import is Astro's image too: its variants' metadata is under `flux`.
    const data = 'flux' in image && typeof image.flux === 'object' ? (image.flux as FluxImageData) : image
    return renderPicture({ ...data, files: [] }, attrs)
  }
  const parsed = typeof image === 'string' ? parseDirective(image) : { prompt, params: {} }
  const options = { model, size, quality, seed, preset, alt: attrs.alt }
  const input = parsed && componentDirective({ ...options, prompt: parsed.prompt })
  if (!parsed || !input || input.prompt === '') {
    throw new Error(
      `[flux] <FluxImage> needs a prompt="..." or an image={...} (a fluxImage() field or a "flux:" string), got ${JSON.stringify(image ?? prompt)}`,
    )
  }
  return renderPicture(
    await getFluxState().image({ ...input, params: { ...parsed.params, ...input.params } }),
    attrs,
  )
}

export type { FluxImageData }

/**
 * A page's image as a social card: a 1200x630 JPEG crop, centred on the subject (or on `focus`),
 * for `og:image` and `twitter:image`; cached like the variants, written to the build's output.
 *
 * ```astro
 * const card = await socialCard(post.data.heroImage)
 * <meta property="og:image" content={new URL(card.src, Astro.site)} />
 * ```
 */
export function socialCard(image: CardInput, options?: CardOptions): Promise<SocialCardData> {
  return getSocialCards().card(image, options)
}

export type { CardInput, CardOptions, SocialCardData }
