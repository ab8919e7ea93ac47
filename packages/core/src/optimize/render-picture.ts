import { escapeHtml } from './escape-html.js'
import type { ImageResult } from './image-result.js'

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
 * A `<picture>`: one `<source>` per modern format, then an `<img>` with the fallback, its
 * dimensions (so the browser reserves the aspect ratio) and the placeholder as a background that
 * the loaded image covers. Every attribute value is escaped.
 */
export function renderPicture(image: ImageResult, attrs: PictureAttributes = {}): string {
  const sizes = attrs.sizes ?? '100vw'
  const sources = image.sources
    .filter((source) => source.srcset)
    .map((source) => `<source${attributes({ type: source.type, srcset: source.srcset, sizes })}>`)
  const img = `<img${attributes({
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
  })}>`
  return `<picture>${sources.join('')}${img}</picture>`
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

function attributes(values: Record<string, string | undefined>): string {
  return Object.entries(values)
    .filter(
      (entry): entry is [string, string] => entry[1] !== undefined && (entry[0] === 'alt' || entry[1] !== ''),
    )
    .map(([name, value]) => ` ${name}="${escapeHtml(value)}"`)
    .join('')
}
