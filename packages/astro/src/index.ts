import { copyFile, mkdir } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createFlux, type FluxOptions, type Logger, resolveOptions, serveVariants } from '@flux-images/core'
import type { AstroConfig, AstroIntegration, AstroIntegrationLogger } from 'astro'
import { type FluxState, getFluxState, setFluxState, track } from './flux-state.js'
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
  let command: string | undefined
  const getState = () => state ?? getFluxState()

  return {
    name: INTEGRATION_NAME,
    hooks: {
      'astro:config:setup'({ config, logger, command: current }) {
        command = current
        // A dev server restart sets up again: let the previous engine finish and release its sockets.
        void state?.flux.close()
        state = {
          flux: createFlux({
            ...options,
            root: options.root ?? fileURLToPath(config.root),
            logger: options.logger ?? toLogger(logger.fork('flux')),
            image: {
              ...options.image,
              base: options.image?.base ?? withSlash(config.base),
              publicPath: options.image?.publicPath ?? '/_flux/',
            },
          }),
          files: new Map(),
        }
        setFluxState(state)
        registerMarkdown(config, getState, logger)
      },
      'astro:server:setup'({ server, logger }) {
        const current = getState()
        server.middlewares.use(serveVariants(current.files, { base: withSlash(server.config.base) }))
        // In the background: pages render meanwhile, sharing the in-flight generations.
        current.flux.generate({ optimize: true }).then(
          (summary) => {
            for (const failure of summary.failed) logger.error(failure.toString())
          },
          (err) => logger.error(String(err)),
        )
      },
      async 'astro:server:done'() {
        await getState().flux.close()
      },
      // Before the content sync, whose schemas (fluxImage()) and markdown plugins then only read
      // the cache: the whole project in one bounded pool, every failure located.
      async 'astro:config:done'({ logger }) {
        if (command !== 'build') return
        const { flux: engine } = getState()
        const summary = await engine.generate({ optimize: true })
        if (summary.failed.length > 0) {
          throw new Error(
            `[flux] ${summary.failed.length} image(s) failed:\n${summary.failed.map((e) => e.toString()).join('\n')}`,
          )
        }
        logger.info(
          `${summary.total} images: ${summary.cached} cached, ${summary.generated} generated, ${summary.placeholders} placeholders`,
        )
      },
      async 'astro:build:done'({ dir, logger }) {
        const current = getState()
        // Pages restored from Astro's content cache never ran the plugins: what the scan found
        // is what the content uses, whichever way it rendered.
        const report = await current.flux.scan()
        for (const item of report.items) track(current, await current.flux.image({ request: item.request }))
        const publicDir = new URL(current.flux.options.image.publicPath, 'http://x').pathname
        const out = join(fileURLToPath(dir), publicDir)
        await mkdir(out, { recursive: true })
        const copied = new Set<string>()
        for (const path of current.files.values()) {
          const name = basename(path)
          if (copied.has(name)) continue
          copied.add(name)
          await copyFile(path, join(out, name))
        }
        logger.info(`${copied.size} image files written to ${publicDir}`)
        await current.flux.close()
      },
    },
  }
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
  return {
    info: (m) => logger.info(m),
    warn: (m) => logger.warn(m),
    error: (m) => logger.error(m),
    debug: (m) => logger.debug(m),
  }
}

const withSlash = (base: string) => (base.endsWith('/') ? base : `${base}/`)

export type { FluxOptions } from '@flux-images/core'
export type { FluxImageData } from './flux-state.js'
export { fluxImage } from './schema.js'
