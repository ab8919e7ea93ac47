import { remarkImages, satteriImages, withLoc } from '@flux-images/core/dev'
import type { AstroConfig, AstroIntegrationLogger } from 'astro'
import type { FluxState } from './flux-state.js'

/** Puts the digest where Astro's content store sees it: the store is cleared when it changes. */
export function markContent(markdown: AstroConfig['markdown'], digest: string): void {
  const options = (markdown.processor as { options?: Record<string, unknown> } | undefined)?.options
  if (options) options.fluxImages = digest
  // Astro 5 and 6 before 6.4 (no processor): our remark plugin's options, in the config it hashes.
  for (const entry of (markdown.remarkPlugins ?? []) as unknown[]) {
    if (Array.isArray(entry) && entry[1]?.fluxImages !== undefined) entry[1].fluxImages = digest
  }
}

/** Pushes the plugins into the configured processor's own arrays (the renderer reads those). */
export function registerMarkdown(
  config: AstroConfig,
  getState: () => FluxState,
  logger: AstroIntegrationLogger,
): void {
  const processor = config.markdown.processor as
    | { name?: string; options?: Record<string, unknown> }
    | undefined
  const options = processor?.options
  // Errors carry Astro's `loc`, for its terminal and overlay.
  const located = { onError: (err: unknown) => withLoc(err, getState().options.root) }
  // The unified processor's (Astro 5 and 6, `unified()`, MDX): a remark plugin.
  const remark = () => remarkImages(getState, located)
  if (processor?.name === 'satteri' && options) {
    const plugins = satteriImages(getState, located)
    pluginList(options, 'mdastPlugins').push(...plugins.mdast)
    pluginList(options, 'hastPlugins').push(...plugins.hast)
  } else if (processor?.name === 'unified' && options) {
    pluginList(options, 'remarkPlugins').push(remark)
  } else if (!processor && Array.isArray(config.markdown.remarkPlugins)) {
    // Astro 5 and 6 before 6.4: unified is the only processor, configured by `markdown` itself.
    ;(config.markdown.remarkPlugins as unknown[]).push([remark, { fluxImages: '' }])
  } else {
    logger.warn(
      `Markdown processor "${processor?.name ?? 'unknown'}" is not supported: flux: images in markdown bodies stay as written.`,
    )
  }
}

/** The processor's own array (created when absent): the renderer's closure reads this object. */
function pluginList(options: Record<string, unknown>, name: string): unknown[] {
  const list = options[name]
  if (Array.isArray(list)) return list
  const created: unknown[] = []
  options[name] = created
  return created
}
