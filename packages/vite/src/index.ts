import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import {
  createSession,
  type FluxOptions,
  type ImageResult,
  renderPicture,
  replaceHtmlImages,
  type Session,
} from '@flux-images/core'
import {
  DEV_CLIENT,
  fluxImports,
  fluxStudio,
  hostError,
  hostVersionError,
  reloadPages,
} from '@flux-images/core/dev'
import type { Plugin, ResolvedConfig, ViteDevServer } from 'vite'
import { fluxUrls } from './flux-urls.js'
import { registerSession } from './session-registry.js'

export const PLUGIN_NAME = 'flux-images'

/**
 * The Vite plugin: `import img from 'flux:...'` (the image's metadata as default export) and
 * `<img src="flux:...">` in HTML entry points (a `<picture>`). It translates Vite's hooks into
 * core's session, which reads the configuration (these options, the environment, `.env`,
 * `flux.config.*`), generates every directive before a build, and owns the dev policy.
 */
export function flux(options: FluxOptions = {}): Plugin[] {
  let config: ResolvedConfig
  let session: Session
  let server: ViteDevServer | undefined
  let unregister = () => {}
  let closed = false

  const open = async (resolved: ResolvedConfig) => {
    // A dev server restart resolves the config again: the previous session stops its background run.
    unregister()
    void session?.close()
    session = await createSession(options, {
      command: resolved.command === 'serve' ? 'dev' : 'build',
      root: resolved.root,
      envMode: resolved.mode,
      logger: {
        info: (m) => resolved.logger.info(m),
        warn: (m) => resolved.logger.warn(m),
        error: (m) => resolved.logger.error(m),
      },
      image: { base: resolved.base, publicPath: `/${resolved.build.assetsDir}/_flux/` },
      serverHost: resolved.server.host,
      onRefresh: refresh,
    })
    closed = false
    // For the markdown plugins (mdsvex, VitePress), configured apart from this one.
    unregister = registerSession(session)
  }

  /** Pending images arrived: modules compiled with placeholders' data are dropped, the page reloads. */
  const refresh = (files: string[]) => {
    if (server) reloadPages(server, files)
  }

  const main: Plugin = {
    name: PLUGIN_NAME,
    async config() {
      // The project's own Vite; it prints only an error's message, so `hostError` puts the hint there.
      const { version } = await import('vite')
      const refused = hostVersionError(new URL('../package.json', import.meta.url), 'vite', version)
      if (refused) throw hostError(refused, process.cwd())
    },
    async configResolved(resolved) {
      config = resolved
      await open(resolved)
    },
    configureServer(devServer) {
      server = devServer
      const own = session
      devServer.middlewares.use(own.middleware)
      devServer.httpServer?.once('close', () => void own.close())
      // A change to `flux.config.*` or a `.env` file means a new session. (Vite also restarts for
      // its own `.env` files while HMR is on: it coalesces restarts asked for at once.)
      const restartOn = new Set(own.watchFiles)
      devServer.watcher.add([...restartOn])
      // The cache is written while pages load: none of it is source.
      devServer.watcher.unwatch(own.options.cacheDir)
      devServer.watcher.on('all', (_event, file) => {
        if (restartOn.has(file)) void devServer.restart()
        else own.changed(file)
      })
      own.prepare()
    },
    async buildStart() {
      if (config.command !== 'build') return
      // One build of several environments (SvelteKit's server, then its client) closed it after the first.
      if (closed) await open(config)
      try {
        await session.build()
      } catch (err) {
        this.error(hostError(err, config.root))
      }
    },
    transformIndexHtml: {
      order: 'pre',
      async handler(html, ctx) {
        const pictures = await replaceHtmlImages(
          html,
          ctx.filename,
          async ({ prompt, params, location }, attrs) => {
            const image = await session.image({ prompt, params, location }, ctx.filename)
            // The URLs are final: Vite must not try to resolve them as source assets.
            return renderPicture(image, attrs).replace(/<(source|img) /g, '<$1 vite-ignore ')
          },
        )
        if (config.command !== 'serve') return pictures
        const client = { tag: 'script', attrs: { type: 'module' }, children: `import '${DEV_CLIENT}'` }
        return { html: pictures, tags: [{ ...client, injectTo: 'head' as const }] }
      },
    },
    async generateBundle() {
      if (config.command !== 'build') return
      const folder = new URL(session.options.image.publicPath, 'http://x').pathname.slice(1)
      for (const path of new Set(session.files.values())) {
        this.emitFile({ type: 'asset', fileName: `${folder}${basename(path)}`, source: await readFile(path) })
      }
    },
    async closeBundle() {
      // A dev server's session is closed with its HTTP server (a restart makes the next one first).
      if (config.command === 'build') {
        closed = true
        unregister()
        await session.close()
      }
    },
  }
  const imports = fluxImports({
    image: (input, importer) => session.image(input, importer),
    guard: () => session.guard,
  })
  return [main, imports, fluxUrls(() => session), fluxStudio({ session: () => session })]
}

export default flux

export type { FluxOptions, ImageResult } from '@flux-images/core'
/** The default export of a `flux:` import: the image's metadata, without the cache's file paths. */
export type FluxImage = Omit<ImageResult, 'files'>
export { markdownItFlux } from './markdown-it-flux.js'
export { remarkFlux } from './remark-flux.js'
