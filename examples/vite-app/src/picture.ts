import type { FluxImage } from '@flux-images/vite'

/** A `<picture>` for an imported image: a `<source>` per modern format, a sized `<img>` fallback. */
export function picture(data: FluxImage, sizes: string): HTMLPictureElement {
  const element = document.createElement('picture')
  for (const source of data.sources) {
    const el = document.createElement('source')
    el.type = source.type
    el.srcset = source.srcset
    el.sizes = sizes
    element.append(el)
  }
  const img = document.createElement('img')
  img.src = data.src
  img.srcset = data.srcset
  img.sizes = sizes
  img.width = data.width
  img.height = data.height
  img.alt = data.alt
  img.loading = 'lazy'
  img.decoding = 'async'
  if (data.placeholder?.startsWith('data:')) img.style.backgroundImage = `url("${data.placeholder}")`
  element.append(img)
  return element
}
