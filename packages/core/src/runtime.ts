/**
 * `@flux-images/core/runtime`: what page code needs when it renders, reading a directive, writing
 * a `<picture>`, recognising a FluxError, and nothing of the engine (no cache, sharp, network or
 * YAML). Server bundles (Astro's prerender build) then take in a few small modules, not the
 * engine and its dependencies.
 */
export { DIRECTIVE_KEYS } from './directives/grammar/grammar.js'
export { parseDirective } from './directives/grammar/parse-directive.js'
export { componentDirective } from './directives/html/component-directive.js'
export { FluxError } from './errors.js'
export type { PictureAttributes } from './markup/picture-element.js'
export { renderPicture } from './markup/render-picture.js'
