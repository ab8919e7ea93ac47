export {
  CACHE_KEY_VERSION,
  type CacheEntry,
  type CacheEntryMeta,
  type CacheStatus,
  createDiskCache,
  type DiskCache,
  requestKey,
} from './cache/index.js'
export {
  createFlux,
  type Flux,
  type GenerateOptions,
  type GenerateSummary,
  type ImageInput,
  type ResolveInput,
  type ScannedItem,
  type ScanReport,
} from './create-flux.js'
export {
  formatDirective,
  parseDirective,
  plainText,
  replaceHtmlImages,
  scanCode,
  scanFrontmatter,
  scanHtml,
  scanMarkdown,
  scanSource,
  withAlt,
} from './directives/index.js'
export {
  type Plan,
  type PlanItem,
  planRequests,
  resolveRequest,
  scanProject,
} from './engine/index.js'
export { ERRORS, FluxError, type FluxErrorCode, fluxError, formatLocation } from './errors.js'
export {
  type HastElement,
  type MarkupElement,
  type PictureAttributes,
  pictureElement,
  renderPicture,
  toHast,
  toHtml,
} from './markup/index.js'
export {
  type ImageFile,
  type ImageResult,
  type ImageSource,
  OPTIMIZE_DEFAULTS,
  type OptimizeOptions,
  type PlaceholderKind,
  type ResolvedOptimizeOptions,
  serveVariants,
} from './optimize/index.js'
export {
  DEFAULT_MODELS,
  DEFAULT_PRICES,
  DEFAULT_SIZES,
  DEFAULTS,
  type FluxMode,
  type FluxOptions,
  type ResolvedOptions,
  resolveOptions,
} from './options.js'
export { createOpenAIImagesProvider } from './providers/openai-images.js'
export { createPlaceholderProvider } from './providers/placeholder.js'
export { redact } from './redact.js'
export {
  type CollectReportOptions,
  collectReport,
  DEFAULT_REPORT_FILE,
  type ReportData,
  type ReportEntry,
  type ReportStatus,
  renderReport,
  type WriteReportOptions,
  writeReport,
} from './report/index.js'
export { buildError, createSession, formatSummary, type Session, type SessionHost } from './session/index.js'
export type {
  CanonicalRequest,
  Directive,
  DirectiveKind,
  DirectiveParams,
  GenerateContext,
  GeneratedImage,
  Logger,
  ParsedDirective,
  Provider,
  SourceLocation,
  Span,
} from './types.js'
