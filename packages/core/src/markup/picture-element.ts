import type { ImageResult } from '../optimize/image-result.js'
import type { MarkupElement } from './markup-element.js'

/** Attributes of the rendered `<img>` (and the `sizes` of each `<source>`). */
export interface PictureAttributes {
  /** @default image.alt (the attribute is always written, empty when there is no text) */
  alt?: string
  /** The image's display width for the browser's pick from the srcsets. @default '100vw' */
  sizes?: string
  class?: string
  /** @default 'lazy' (use 'eager' for an image above the fold) */
  loading?: 'lazy' | 'eager'
  /** @default 'async' */
  decoding?: 'async' | 'sync' | 'auto'
  fetchpriority?: 'high' | 'low' | 'auto'
  /** Appended to the generated style, so it can override it. */
  style?: string
}

/**
 * A `<picture>` as data: one `<source>` per modern format, then an `<img>` with the fallback, its
 * dimensions (so the browser reserves the aspect ratio) and the placeholder as a background that
 * the loaded image covers. Attributes without a value are left out (`alt` is always written).
 */
export function pictureElement(image: ImageResult, attrs: PictureAttributes = {}): MarkupElement {
  const sizes = attrs.sizes ?? '100vw'
  const sources = image.sources
    .filter((source) => source.srcset)
    .map((source) => element('source', { type: source.type, srcset: source.srcset, sizes }))
  const img = element('img', {
    src: image.src,
    srcset: image.srcset,
    sizes,
    width: String(image.width),
    height: String(image.height),
    alt: attrs.alt ?? image.alt,
    loading: attrs.loading ?? 'lazy',
    decoding: attrs.decoding ?? 'async',
    fetchpriority: attrs.fetchpriority,
    class: attrs.class,
    style: [...placeholderStyle(image), attrs.style].filter(Boolean).join(';'),
  })
  return { tag: 'picture', attrs: {}, children: [...sources, img] }
}

/**
 * `height:auto` lets CSS scale the image while its width/height attributes keep the aspect ratio.
 * No placeholder behind an image with transparency: it would show through once loaded.
 */
function placeholderStyle(image: ImageResult): string[] {
  const layout = ['max-width:100%', 'height:auto']
  const { placeholder } = image
  if (!placeholder || image.hasAlpha) return layout
  if (placeholder.startsWith('data:')) {
    return [
      ...layout,
      'background-size:cover',
      'background-position:center',
      'background-repeat:no-repeat',
      `background-image:url("${placeholder}")`,
    ]
  }
  return [...layout, `background-color:${placeholder}`]
}

function element(tag: string, values: Record<string, string | undefined>): MarkupElement {
  const attrs: Record<string, string> = {}
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && (name === 'alt' || value !== '')) attrs[name] = value
  }
  return { tag, attrs, children: [] }
}
