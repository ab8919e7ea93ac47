/**
 * `@flux-images/core/dev`: what the adapters hand to their hosts, written once: markdown images
 * for every markdown parser's plugin, `flux:` imports and the dev client, the studio's routes, the page reload when pending images arrive, failures in
 * the form Vite prints and its overlay shows; the output check (never a silent broken image, in a
 * build's output and on a dev page) and the digest that tells a content store to render again.
 * Internal to the adapters.
 */

export { directiveFields, isDirectiveField } from '../directives/frontmatter/field-directive.js'
export {
  directiveImage,
  type MarkdownFile,
  markdownDirectives,
  urlImage,
} from '../markdown/markdown-directives.js'
export {
  type RemarkFile,
  type RemarkImagesOptions,
  type RemarkNode,
  remarkImages,
  satteriImages,
} from '../markdown/markdown-plugins.js'
export { hostVersionError } from './adapter-host.js'
export { contentDigest } from './content-digest.js'
export { devPageCheck } from './dev-page-check.js'
export {
  DEV_CLIENT,
  FLUX_MODULE_PREFIX,
  type FluxImport,
  type FluxImportsOptions,
  fluxImports,
  hostError,
  reloadPages,
} from './flux-imports.js'
export { type FluxStudioOptions, fluxStudio, STUDIO_EVENT } from './flux-studio.js'
export {
  type DevPlugin,
  type DevServer,
  type HostError,
  type Middleware,
  plainLogger,
  withLoc,
} from './host.js'
export { imageFile } from './image-file.js'
export {
  type CardInput,
  type CardOptions,
  createSocialCards,
  type SocialCardData,
  type SocialCards,
} from './social-cards.js'
export { fieldName } from './unresolved-output.js'
export { type WriteOutputOptions, writeOutput } from './write-output.js'
