/// <reference types="@flux-images/vite/client" />

import market from 'flux:A fish market at noon, crowded, bright awnings?size=1344x768'
import lighthouse from 'flux:A lighthouse on a rocky point, stormy sky, oil painting?alt=The lighthouse in a storm'
import { picture } from './picture.js'

const gallery = document.querySelector('#gallery')
for (const image of [lighthouse, market]) {
  const figure = document.createElement('figure')
  const caption = document.createElement('figcaption')
  caption.textContent = image.alt
  figure.append(picture(image, '(min-width: 60rem) 30rem, 100vw'), caption)
  gallery?.append(figure)
}
