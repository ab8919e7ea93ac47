/**
 * `@flux-images/core`: what a script, a custom provider and the adapters use. Everything else
 * (the cache, the engine's steps, the scanners of whole projects, the report's parts) is internal
 * and may change in any release.
 *
 * - A run: `createSession`, the one way in (docs/session.md): it reads options, the environment,
 *   `.env` and `flux.config.*` as every entry point does, and holds the project's images once.
 * - Providers: the gateway's, the offline placeholder, and the interface a custom one implements.
 * - Directives: the grammar, and the scanners the adapters run over the code and markdown they
 *   transform.
 * - An image's result and its markup: a `<picture>` as a tree, serialized to HTML or to hast.
 * - For the Astro adapter's own images: social cards, variants served in dev. What both adapters
 *   hand their hosts (dev plugins, the output check) is `@flux-images/core/dev`.
 * - The HTML report of a cache (what `flux-images report` writes).
 */

export {
  BFL_CREDIT_USD,
  BFL_MODELS,
  type BflModel,
  bflSizeFields,
  creditsToUsd,
} from './bfl-models.js'
export type {
  Flux,
  GenerateOptions,
  GenerateSummary,
  ImageInput,
  ResolveInput,
  ScannedItem,
  ScanReport,
} from './create-flux.js'
export {
  formatDirective,
  parseDirective,
  plainText,
  replaceHtmlImages,
  scanMarkdown,
  scanSource,
  withAlt,
} from './directives/index.js'
export { ERRORS, FluxError, type FluxErrorCode, fluxError } from './errors.js'
export {
  type HastElement,
  type MarkupElement,
  type PictureAttributes,
  pictureElement,
  renderPicture,
  toHast,
  toHtml,
} from './markup/index.js'
export { escapeHtml } from './optimize/escape-html.js'
export type {
  ImageFile,
  ImageResult,
  ImageSource,
  OptimizeOptions,
  PlaceholderKind,
} from './optimize/index.js'
export { serveVariants } from './optimize/serve-variants.js'
export { type CardFocus, makeSocialCard, type SocialCard } from './optimize/social-card.js'
export type { Price } from './options.js'
export { DEFAULTS, type FluxMode, type FluxOptions } from './options.js'
export { type BflProviderOptions, createBflProvider } from './providers/bfl.js'
export { createOpenAIImagesProvider } from './providers/openai-images.js'
export { createPlaceholderProvider } from './providers/placeholder.js'
export { type WriteReportOptions, writeReport } from './report/index.js'
export {
  createSession,
  type Session,
  type SessionHost,
  type Studio,
  type StudioAction,
  type StudioImage,
  type StudioReply,
  type StudioState,
} from './session/index.js'
export type {
  CanonicalRequest,
  Directive,
  DirectiveKind,
  DirectiveParams,
  GenerateContext,
  GeneratedImage,
  JobReceipt,
  Logger,
  ParsedDirective,
  Provider,
  SourceLocation,
  Span,
} from './types.js'
