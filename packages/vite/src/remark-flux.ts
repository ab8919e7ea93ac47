import { remarkImages } from '@flux-images/core/dev'
import { templateHtml } from './markdown-picture.js'
import { sessionFor } from './session-registry.js'

/**
 * The remark plugin for mdsvex (`remarkPlugins: [remarkFlux]`): each `flux:` image (typed-anyway
 * form included) becomes its `<picture>` as raw HTML in the component's markup, from the session
 * of `flux()` in the Vite config.
 */
export function remarkFlux() {
  return remarkImages((file) => sessionFor(file ?? '(a markdown text of no file)'), {
    picture: (element) => ({ type: 'html', value: templateHtml(element) }),
  })
}
