import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import {
  createFlux,
  type Flux,
  type FluxOptions,
  type ImageResult,
  type Logger,
  renderPicture,
  replaceHtmlImages,
  resolveOptions,
  serveVariants,
} from '@flux-images/core'
import type { Plugin, ResolvedConfig, ViteDevServer } from 'vite'
import { type FluxImport, fluxImports } from './flux-imports.js'

export const PLUGIN_NAME = 'flux-images'

/**
 * The Vite plugin: `import img from 'flux:...'` (the image's metadata as default export) and
 * `<img src="flux:...">` in HTML entry points (a `<picture>`). A build generates every directive of
 * the project first, in one bounded pool; the dev server serves variants from the cache and shows a
 * placeholder while a missing image is generated. Options are core's, validated here, at once.
 */
export function flux(options: FluxOptions = {}): Plugin[] {
  resolveOptions(options)
  let config: ResolvedConfig
  let engine: Flux
  let placeholders: Flux | undefined
  let server: ViteDevServer | undefined
  const urls = new Map<string, string>()
  const toEmit = new Map<string, string>()
  const refreshing = new Map<string, Promise<void>>()

  /** The image's metadata; in dev, a placeholder at once when the real one is not cached yet. */
  async function image(input: FluxImport, refresh: (() => void) | undefined): Promise<ImageResult> {
    const { mode, apiKey } = engine.options
    const offline = mode === 'placeholder' || (mode === 'auto' && !apiKey)
    let result: ImageResult
    if (server && refresh && !offline && (await engine.status(input)) !== 'cached') {
      const key = JSON.stringify([input.prompt, Object.entries(input.params).sort()])
      if (!refreshing.has(key)) {
        const job = engine.image(input).then(refresh, (err) => config.logger.error(String(err)))
        refreshing.set(
          key,
          job.finally(() => refreshing.delete(key)),
        )
      }
      placeholders ??= create({ mode: 'placeholder', logger: { ...logger(), warn() {} } })
      result = await placeholders.image(input)
    } else result = await engine.image(input)
    for (const file of result.files) {
      urls.set(file.url, file.path)
      if (!server) toEmit.set(`${publicDir()}${basename(file.path)}`, file.path)
    }
    return result
  }

  const publicDir = () => new URL(engine.options.image.publicPath, 'http://x').pathname.slice(1)
  const logger = (): Logger => ({
    info: (m) => config.logger.info(m),
    warn: (m) => config.logger.warn(m),
    error: (m) => config.logger.error(m),
  })
  const create = (over: FluxOptions = {}) =>
    createFlux({
      ...options,
      root: options.root ?? config.root,
      logger: options.logger ?? logger(),
      image: {
        ...options.image,
        base: options.image?.base ?? config.base,
        publicPath: options.image?.publicPath ?? `/${config.build.assetsDir}/_flux/`,
      },
      ...over,
    })
  const reload = (id?: string) => () => {
    const graph = server?.environments.client.moduleGraph
    const mod = id ? graph?.getModuleById(id) : undefined
    if (mod) graph?.invalidateModule(mod)
    server?.ws.send({ type: 'full-reload' })
  }

  const main: Plugin = {
    name: PLUGIN_NAME,
    configResolved(resolved) {
      config = resolved
      engine = create()
    },
    configureServer(devServer) {
      server = devServer
      devServer.middlewares.use(serveVariants(urls))
    },
    async buildStart() {
      if (config.command !== 'build') return
      toEmit.clear()
      const summary = await engine.generate({ optimize: true })
      if (summary.failed.length > 0) {
        this.error(
          `${summary.failed.length} image(s) failed:\n${summary.failed.map((e) => e.toString()).join('\n')}`,
        )
      }
      config.logger.info(
        `[flux] ${summary.total} images: ${summary.cached} cached, ${summary.generated} generated, ${summary.placeholders} placeholders`,
      )
    },
    transformIndexHtml: {
      order: 'pre',
      handler(html, ctx) {
        return replaceHtmlImages(html, ctx.filename, async (directive, attrs) => {
          const { prompt, params, location } = directive
          const picture = renderPicture(await image({ prompt, params, location }, reload()), attrs)
          // The URLs are final: Vite must not try to resolve them as source assets.
          return picture.replace(/<(source|img) /g, '<$1 vite-ignore ')
        })
      },
    },
    async generateBundle() {
      for (const [fileName, path] of toEmit) {
        this.emitFile({ type: 'asset', fileName, source: await readFile(path) })
      }
    },
    async closeBundle() {
      await Promise.all([engine?.close(), placeholders?.close()])
    },
  }
  return [main, fluxImports({ root: () => config.root, image: (input, { id }) => image(input, reload(id)) })]
}

export type { FluxOptions, ImageResult } from '@flux-images/core'
export { FLUX_MODULE_PREFIX, type FluxImport, type FluxImportsOptions, fluxImports } from './flux-imports.js'

/** The default export of a `flux:` import: the image's metadata, without the cache's file paths. */
export type FluxImage = Omit<ImageResult, 'files'>
