import type { ImageResult } from '../optimize/image-result.js'
import { type PictureAttributes, pictureElement } from './picture-element.js'
import { toHtml } from './to-html.js'

/** The `<picture>` of `pictureElement` as an HTML string (every attribute value escaped). */
export function renderPicture(image: ImageResult, attrs: PictureAttributes = {}): string {
  return toHtml(pictureElement(image, attrs))
}
