import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { createSession, type FluxOptions, type Session, serveVariants } from '@flux-images/core'
import {
  contentDigest,
  createSocialCards,
  DEV_CLIENT,
  devPageCheck,
  fluxImports,
  fluxStudio,
  hostVersionError,
  plainLogger,
  reloadPages,
  withLoc,
  writeOutput,
} from '@flux-images/core/dev'
import type { AstroIntegration } from 'astro'
import { getFluxState, getSocialCards, lastFluxState, setFluxState } from './flux-state.js'
import { imageModule } from './image-module.js'
import { IMPORT_TYPES, STUDIO_APP } from './injected.js'
import { markContent, registerMarkdown } from './markdown-processor.js'
import { objectFormHints } from './object-form-hint.js'

export const INTEGRATION_NAME = '@flux-images/astro'

/**
 * The Astro integration: `integrations: [flux()]` (or `astro add @flux-images/astro`). It
 * translates Astro's hooks into core's session, which reads the configuration (these options, the
 * environment, `.env`, `flux.config.*`), generates every directive before pages render, and owns
 * the dev policy. Markdown images become `<picture>` markup under Sätteri (the default processor)
 * or unified, with MDX; `<FluxImage>` and `fluxImage()` read the same session; the variants our
 * markup showed are written under `/_flux/` in the output.
 */
export function flux(options: FluxOptions = {}): AstroIntegration {
  let command: string | undefined
  // This instance's session (a dev restart makes a new instance); pages' code reaches it through getFluxState().
  let session: Session | undefined
  let refresh: ((files: string[]) => void) | undefined
  let siteBase = '/'
  // The whole build output (a server build's `dist/`, client and server): what the images' files are written for.
  let outDir: string | undefined

  const current = (): Session => session ?? getFluxState()

  return {
    name: INTEGRATION_NAME,
    hooks: {
      async 'astro:config:setup'({
        config,
        logger,
        command: current,
        updateConfig,
        addWatchFile,
        injectScript,
        addDevToolbarApp,
      }) {
        // The Astro that builds the site: the project's own, where its CLI comes from.
        const astro = createRequire(new URL('package.json', config.root))('astro/package.json')
        const refused = hostVersionError(new URL('../package.json', import.meta.url), 'astro', astro.version)
        if (refused) throw refused
        command = current
        siteBase = withSlash(config.base)
        // A dev server restart sets up again: let the previous session finish and release its sockets.
        void lastFluxState()?.close()
        const root = fileURLToPath(config.root)
        session = await createSession(options, {
          // `astro sync`, and `astro check` which syncs first, are told apart from builds here.
          command: command === 'dev' ? 'dev' : command === 'sync' ? 'sync' : 'build',
          root,
          logger: plainLogger(logger.fork('flux')),
          image: { base: withSlash(config.base), publicPath: '/_flux/' },
          serverHost: config.server.host,
          onRefresh: (files) => refresh?.(files),
        })
        setFluxState(session, createSocialCards(session))
        // A change to `flux.config.*` or `.env*` restarts the dev server, with a new session.
        for (const file of session.watchFiles) addWatchFile(file)
        registerMarkdown(config, getFluxState, logger)
        // `import image from 'flux:...'` in components and scripts, from the same session.
        const imports = fluxImports({
          root: () => root,
          image: (input, importer) => getFluxState().image(input, importer),
          guard: () => getFluxState().guard,
          code: (data, input) => imageModule(getFluxState(), data, input),
        })
        const studio = fluxStudio({ session: getFluxState, button: false })
        updateConfig({ vite: { plugins: [imports, studio] } })
        // Pages recover pending images whose reload they missed while loading.
        if (command === 'dev') injectScript('page', `import '${DEV_CLIENT}'`)
        if (command === 'dev') addDevToolbarApp(STUDIO_APP)
      },
      'astro:server:setup'({ server, logger }) {
        const own = current()
        // A `.env*` or `flux.config.*` change restarts Astro (a new session, then Vite's restart).
        // Vite restarts at once for a `.env*` itself, with the old session, racing Astro's: skipped.
        let restartsAstro = false
        server.watcher.on('all', (_event, file) => {
          own.changed(file)
          if (own.watchFiles.includes(file)) restartsAstro = true
        })
        const restart = server.restart.bind(server)
        server.restart = async (force) => {
          if (!restartsAstro || lastFluxState() !== own) return restart(force)
          restartsAstro = false
        }
        server.middlewares.use(own.middleware)
        server.middlewares.use(serveVariants(getSocialCards().files, { base: own.options.image.base }))
        server.middlewares.use(
          devPageCheck(own, { base: siteBase, logger: plainLogger(logger.fork('flux')) }),
        )
        refresh = (files) => reloadPages(server, files)
        own.prepare()
      },
      async 'astro:server:done'() {
        await current().close()
      },
      // Before the content sync, whose schemas (fluxImage()) and markdown plugins then only read
      // the cache.
      async 'astro:config:done'({ config, injectTypes, logger }) {
        injectTypes({ filename: 'flux-images.d.ts', content: IMPORT_TYPES })
        outDir = fileURLToPath(config.outDir)
        const session = current()
        if (command === 'build') {
          await session.build().catch(async (err: unknown) => {
            await session.close()
            throw withLoc(err, session.options.root)
          })
        }
        const scanned = await session.scan()
        // Before the content sync, whose error for an object form under a plain schema is bare.
        for (const hint of await objectFormHints(scanned.directives, fileURLToPath(config.srcDir)))
          plainLogger(logger.fork('flux')).warn(hint)
        markContent(config.markdown, contentDigest(session.flux, scanned))
      },
      async 'astro:build:done'({ dir, logger }) {
        const session = current()
        const cards = getSocialCards().files
        const done = await writeOutput(session, {
          clientDir: fileURLToPath(dir),
          outDir,
          extra: cards,
        }).finally(() => session.close())
        logger.info(`${done.written} image files written to ${done.folder}`)
        if (done.error) throw done.error
      },
    },
  }
}

export default flux

const withSlash = (base: string) => (base.endsWith('/') ? base : `${base}/`)

export type { FluxOptions } from '@flux-images/core'
export type { FluxImageData } from './flux-state.js'
