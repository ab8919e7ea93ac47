import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import {
  createFlux,
  type DirectiveParams,
  type Flux,
  FluxError,
  type FluxOptions,
  type ImageResult,
  type Logger,
  locateDirective,
  parseDirective,
  renderPicture,
  replaceHtmlImages,
  resolveOptions,
  type SourceLocation,
  serveVariants,
} from '@flux-images/core'
import type { Plugin, ResolvedConfig, ViteDevServer } from 'vite'

export const PLUGIN_NAME = 'flux-images'
const PREFIX = '\0flux:'

type Input = { prompt: string; params: DirectiveParams; location: SourceLocation }

/**
 * The Vite plugin: `import img from 'flux:...'` (the image's metadata as default export) and
 * `<img src="flux:...">` in HTML entry points (a `<picture>`). A build generates every directive of
 * the project first, in one bounded pool; the dev server serves variants from the cache and shows a
 * placeholder while a missing image is generated. Options are core's, validated here, at once.
 */
export function flux(options: FluxOptions = {}): Plugin {
  resolveOptions(options)
  let config: ResolvedConfig
  let engine: Flux
  let placeholders: Flux | undefined
  let server: ViteDevServer | undefined
  const specs = new Map<string, { spec: string; importer: string | undefined }>()
  const urls = new Map<string, string>()
  const toEmit = new Map<string, string>()
  const refreshing = new Map<string, Promise<void>>()

  /** The image's metadata; in dev, a placeholder at once when the real one is not cached yet. */
  async function image(input: Input, refresh: (() => void) | undefined): Promise<ImageResult> {
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

  return {
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
    resolveId: {
      filter: { id: /^flux:/ },
      handler(spec, importer) {
        const hash = createHash('sha256').update(spec).digest('hex').slice(0, 16)
        specs.set(hash, { spec, importer: importer?.split('?')[0] })
        return PREFIX + hash
      },
    },
    load: {
      filter: { id: /^\0flux:/ },
      async handler(id) {
        const found = specs.get(id.slice(PREFIX.length))
        const parsed = found && parseDirective(found.spec)
        if (!found || !parsed) return undefined
        const location = found.importer
          ? await locateDirective(config.root, found.importer, (d) => d.raw === found.spec)
          : { file: '(unknown importer)', line: 1, column: 1 }
        try {
          const { files: _files, ...result } = await image({ ...parsed, location }, reload(id))
          return `export default ${JSON.stringify(result)}`
        } catch (err) {
          this.error(FluxError.is(err) ? err.toString() : String(err))
        }
      },
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
}

export type { FluxOptions, ImageResult } from '@flux-images/core'

/** The default export of a `flux:` import: the image's metadata, without the cache's file paths. */
export type FluxImage = Omit<ImageResult, 'files'>
