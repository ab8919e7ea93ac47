export {
  createOptimizer,
  type OptimizeInfo,
  type Optimizer,
  type OptimizerOptions,
} from './create-optimizer.js'
export { writeFlatImage } from './flat-image.js'
export {
  type ImageFile,
  type ImageResult,
  type ImageSource,
  MIME_TYPES,
  publicUrl,
  toImageResult,
  withUrls,
} from './image-result.js'
export { createCounters, type OptimizeCounters } from './make-variants.js'
export { planWidths, type VariantSize } from './plan-widths.js'
export {
  defaultOptimizeConcurrency,
  type FallbackFormat,
  MODERN_FORMATS,
  type ModernFormat,
  OPTIMIZE_DEFAULTS,
  type OptimizeOptions,
  type PlaceholderKind,
  type ResolvedOptimizeOptions,
  resolveOptimizeOptions,
  threadpoolSize,
} from './resolve-optimize-options.js'
export { serveVariants } from './serve-variants.js'
export { slugify } from './slugify.js'
export {
  type CardFocus,
  makeSocialCard,
  SOCIAL_CARD,
  type SocialCard,
  type SocialCardOptions,
} from './social-card.js'
export { type OutputFormat, type VariantFile, type VariantManifest, variantKey } from './variant-manifest.js'
