import { constants } from 'node:fs'
import { copyFile, mkdir } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  createFlux,
  type Flux,
  type FluxOptions,
  type Logger,
  resolveOptions,
  type ScanReport,
  serveVariants,
} from '@flux-images/core'
import { FLUX_MODULE_PREFIX, fluxImports } from '@flux-images/vite'
import type { AstroConfig, AstroIntegration, AstroIntegrationLogger } from 'astro'
import { contentDigest } from './content-digest.js'
import { type DevImages, devImages } from './dev-images.js'
import { createFluxState, type FluxState, getFluxState, setFluxState } from './flux-state.js'
import { remarkFlux } from './remark-plugin.js'
import { satteriPlugins } from './satteri-plugins.js'

export const INTEGRATION_NAME = '@flux-images/astro'

/**
 * The Astro integration: `integrations: [flux()]`. Before pages render it generates every
 * directive of the project (markdown and MDX bodies, frontmatter, `.astro` files) in one bounded
 * pool, failing the build with each failure located; markdown images become `<picture>` markup
 * under Sätteri (the default processor) or unified, with MDX; `<FluxImage>` and `fluxImage()`
 * read the same engine; the variants used are written under `/_flux/` in the output.
 * Options are core's, validated here, at once.
 */
export function flux(options: FluxOptions = {}): AstroIntegration {
  resolveOptions(options)
  let state: FluxState | undefined
  let placeholders: Flux | undefined
  let command: string | undefined
  let refresh: ((files: string[]) => Promise<void>) | undefined
  let dev: DevImages | undefined
  // The project's images after generation: the content digest and the build's end read the same.
  let scanned: ScanReport | undefined
  const getState = () => state ?? getFluxState()

  return {
    name: INTEGRATION_NAME,
    hooks: {
      'astro:config:setup'({ config, logger, command: current, updateConfig }) {
        command = current
        // A dev server restart sets up again: let the previous engines finish and release their sockets.
        void state?.flux.close()
        void placeholders?.close()
        placeholders = undefined
        const log = options.logger ?? toLogger(logger.fork('flux'))
        const create = (over: FluxOptions = {}) =>
          createFlux({
            ...options,
            root: options.root ?? fileURLToPath(config.root),
            logger: log,
            image: {
              ...options.image,
              base: options.image?.base ?? withSlash(config.base),
              publicPath: options.image?.publicPath ?? '/_flux/',
            },
            ...over,
          })
        const engine = create()
        dev =
          command === 'dev'
            ? devImages(engine, {
                placeholders: () => {
                  // Its "placeholder mode" warning would be wrong: real images are on their way.
                  placeholders ??= create({ mode: 'placeholder', logger: { ...log, warn() {} } })
                  return placeholders
                },
                refresh: (files) => refresh?.(files) ?? Promise.resolve(),
                onError: (err) => log.error(String(err)),
              })
            : undefined
        state = createFluxState(engine, dev?.image)
        setFluxState(state)
        registerMarkdown(config, getState, logger)
        // `import image from 'flux:...'` in components and scripts, from the same engine.
        const imports = fluxImports({
          root: () => fileURLToPath(config.root),
          image: (input, { importer }) => getState().image(input, importer),
        })
        updateConfig({ vite: { plugins: [imports] } })
      },
      'astro:server:setup'({ server, logger }) {
        const current = getState()
        if (dev) server.middlewares.use(dev.middleware)
        server.middlewares.use(serveVariants(current.files, { base: withSlash(server.config.base) }))
        // Pending images arrived: their URLs now serve them. Modules compiled with placeholders'
        // markup (MDX, `flux:` imports) are dropped, and the browser reloads.
        refresh = async (files) => {
          for (const environment of Object.values(server.environments)) {
            const graph = environment.moduleGraph
            const stale = files.flatMap((file) => [...(graph.getModulesByFile(file) ?? [])])
            for (const [id, mod] of graph.idToModuleMap)
              if (id.startsWith(FLUX_MODULE_PREFIX)) stale.push(mod)
            for (const mod of stale) graph.invalidateModule(mod)
          }
          server.environments.client.hot.send({ type: 'full-reload' })
        }
        // In the background: pages render meanwhile, sharing the in-flight generations.
        current.flux.generate({ optimize: true }).then(
          (summary) => {
            for (const failure of summary.failed) toLogger(logger).error(failure.toString())
          },
          (err) => toLogger(logger).error(String(err)),
        )
      },
      async 'astro:server:done'() {
        await Promise.all([getState().flux.close(), placeholders?.close()])
      },
      // Before the content sync, whose schemas (fluxImage()) and markdown plugins then only read
      // the cache: the whole project in one bounded pool, every failure located.
      async 'astro:config:done'({ config, logger, injectTypes }) {
        injectTypes({ filename: 'flux-images.d.ts', content: IMPORT_TYPES })
        const { flux: engine } = getState()
        if (command === 'build') {
          const summary = await engine.generate({ optimize: true })
          if (summary.failed.length > 0) {
            await engine.close()
            // Each failure keeps its code and location for whoever catches the build's error.
            throw new AggregateError(
              summary.failed,
              `[flux] ${summary.failed.length} image(s) failed:\n${summary.failed.map((e) => e.toString()).join('\n')}`,
            )
          }
          logger.info(
            `${summary.total} images: ${summary.cached} cached, ${summary.generated} generated, ${summary.placeholders} placeholders`,
          )
        }
        scanned = await engine.scan()
        markContent(config.markdown, contentDigest(engine, scanned))
      },
      async 'astro:build:done'({ dir, logger }) {
        const current = getState()
        // Pages restored from Astro's content cache never ran the plugins: what the scan found
        // is what the content uses, whichever way it rendered.
        const report = scanned ?? (await current.flux.scan())
        await Promise.all(report.items.map((item) => current.image({ request: item.request })))
        const publicDir = new URL(current.flux.options.image.publicPath, 'http://x').pathname
        const out = join(fileURLToPath(dir), publicDir)
        await mkdir(out, { recursive: true })
        // By name: content-hashed, so one name is one file. All at once: libuv's threadpool queues
        // them. A copy-on-write clone where the file system has them (btrfs, XFS, APFS), else a copy.
        const byName = new Map([...current.files.values()].map((path) => [basename(path), path]))
        await Promise.all(
          [...byName].map(([name, path]) => copyFile(path, join(out, name), constants.COPYFILE_FICLONE)),
        )
        logger.info(`${byName.size} image files written to ${publicDir}`)
        await current.flux.close()
      },
    },
  }
}

const IMPORT_TYPES = `declare module 'flux:*' {
  /** The optimized image: URLs, dimensions, <source> srcsets, placeholder, alt. */
  const image: import('@flux-images/astro').FluxImageData
  export default image
}
`

/** Puts the digest where Astro's content store sees it: the store is cleared when it changes. */
function markContent(markdown: AstroConfig['markdown'], digest: string): void {
  const options = (markdown.processor as { options?: Record<string, unknown> } | undefined)?.options
  if (options) options.fluxImages = digest
}

/** Pushes the plugins into the configured processor's own arrays (the renderer reads those). */
function registerMarkdown(
  config: AstroConfig,
  getState: () => FluxState,
  logger: AstroIntegrationLogger,
): void {
  const processor = config.markdown.processor as
    | { name?: string; options?: Record<string, unknown> }
    | undefined
  const options = processor?.options
  if (processor?.name === 'satteri' && options) {
    const plugins = satteriPlugins(getState)
    pluginList(options, 'mdastPlugins').push(...plugins.mdast)
    pluginList(options, 'hastPlugins').push(...plugins.hast)
  } else if (processor?.name === 'unified' && options) {
    pluginList(options, 'remarkPlugins').push(remarkFlux(getState))
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

function toLogger(logger: AstroIntegrationLogger): Logger {
  // Astro labels the lines itself: core's own "[flux] " prefix would say it twice.
  const plain = (message: string) => message.replace(/^\[flux\] /, '')
  return {
    info: (m) => logger.info(plain(m)),
    warn: (m) => logger.warn(plain(m)),
    error: (m) => logger.error(plain(m)),
    debug: (m) => logger.debug(plain(m)),
  }
}

const withSlash = (base: string) => (base.endsWith('/') ? base : `${base}/`)

export type { FluxOptions } from '@flux-images/core'
export type { FluxImageData } from './flux-state.js'
