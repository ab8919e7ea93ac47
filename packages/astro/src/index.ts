import { constants } from 'node:fs'
import { copyFile, mkdir } from 'node:fs/promises'
import { basename, isAbsolute, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  createSession,
  type FluxError,
  type FluxOptions,
  type Logger,
  type ScanReport,
  type Session,
  serveVariants,
} from '@flux-images/core'
import { DEV_CLIENT, fluxImports, fluxStudio, reloadPages } from '@flux-images/core/dev'
import type { AstroIntegration, AstroIntegrationLogger } from 'astro'
import { contentDigest } from './content-digest.js'
import { devPageCheck } from './dev-page-check.js'
import { withLoc } from './error-location.js'
import { getFluxState, getSocialCards, lastFluxState, setFluxState, setSocialCards } from './flux-state.js'
import { checkAstroVersion } from './host-version.js'
import { imageModule } from './image-module.js'
import { markContent, registerMarkdown } from './markdown-processor.js'
import { objectFormHints } from './object-form-hint.js'
import { createReferences, readOutput } from './read-output.js'
import { createSocialCards } from './social-cards.js'
import { checkOutput, unresolvedError } from './unresolved-output.js'

export const INTEGRATION_NAME = '@flux-images/astro'

/**
 * The Astro integration: `integrations: [flux()]` (or `astro add @flux-images/astro`). It
 * translates Astro's hooks into core's session, which reads the configuration (these options, the
 * environment, `.env`, `flux.config.*`), generates every directive before pages render, and owns
 * the dev policy. Markdown images become `<picture>` markup under Sätteri (the default processor)
 * or unified, with MDX; `<FluxImage>` and `fluxImage()` read the same session; the variants used
 * are written under `/_flux/` in the output.
 */
export function flux(options: FluxOptions = {}): AstroIntegration {
  let command: string | undefined
  // This instance's session (a dev restart makes a new instance); pages' code reaches it through getFluxState().
  let session: Session | undefined
  let refresh: ((files: string[]) => void) | undefined
  // The project's directives after generation: the content digest and the output check read them.
  let scanned: ScanReport | undefined
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
        checkAstroVersion(config.root)
        command = current
        siteBase = withSlash(config.base)
        // A dev server restart sets up again: let the previous session finish and release its sockets.
        void lastFluxState()?.close()
        const root = fileURLToPath(config.root)
        session = await createSession(options, {
          // `astro sync`, and `astro check` which syncs first, are told apart from builds here.
          command: command === 'dev' ? 'dev' : command === 'sync' ? 'sync' : 'build',
          root,
          logger: toLogger(logger.fork('flux')),
          image: { base: withSlash(config.base), publicPath: '/_flux/' },
          serverHost: config.server.host,
          onRefresh: (files) => refresh?.(files),
        })
        setFluxState(session)
        setSocialCards(createSocialCards(session))
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
        server.watcher.on('all', (_event, file) => own.changed(file))
        server.middlewares.use(own.middleware)
        server.middlewares.use(serveVariants(getSocialCards().files, { base: own.options.image.base }))
        server.middlewares.use(devPageCheck(own, { base: siteBase, logger: toLogger(logger.fork('flux')) }))
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
        scanned = await session.scan()
        // Before the content sync, whose error for an object form under a plain schema is bare.
        const where = { root: session.options.root, srcDir: fileURLToPath(config.srcDir) }
        for (const hint of await objectFormHints(scanned.directives, where))
          toLogger(logger.fork('flux')).warn(hint)
        markContent(config.markdown, contentDigest(session.flux, scanned))
      },
      async 'astro:build:done'({ dir, logger }) {
        const session = current()
        const clientDir = fileURLToPath(dir)
        // Every image the build made or rendered, the scanned ones included (pages restored from
        // Astro's content cache never ran the plugins): the session listed their files as they
        // resolved. Written are those the output references: a `flux:` hero shown by Astro's
        // <Image> has its own files in `_astro/`, and ours would be dead weight.
        const made = [...session.files.values(), ...getSocialCards().files.values()]
        const byName = new Map(made.map((path) => [basename(path), path]))
        const references = createReferences(new Set(byName.keys()))
        // The whole output read once (a server build's `dist/`: its bundle's code may hold a URL
        // too), for the references and the output check: a `flux:` left where a URL goes.
        const check = {
          directives: (scanned ?? (await session.scan())).directives,
          root: session.options.root,
        }
        const unresolved: FluxError[] = []
        const publicDir = new URL(session.options.image.publicPath, 'http://x').pathname
        let used: [string, string][] = []
        try {
          await readOutput(outDir && contains(outDir, clientDir) ? outDir : clientDir, async (file) => {
            references.read(file.text)
            unresolved.push(...(await checkOutput(clientDir, file, check)))
          })
          const out = join(clientDir, publicDir)
          await mkdir(out, { recursive: true })
          // By name: content-hashed, so one name is one file. A copy-on-write clone where the file
          // system has them (btrfs, XFS, APFS), else a copy.
          used = [...byName].filter(([name]) => references.referenced.has(name))
          await Promise.all(
            used.map(([name, path]) => copyFile(path, join(out, name), constants.COPYFILE_FICLONE)),
          )
        } finally {
          await session.close()
        }
        const unused = byName.size - used.length
        logger.info(
          `${used.length} image files written to ${publicDir}` +
            (unused > 0
              ? `, ${unused} left out (no page, feed or script of the output references them)`
              : ''),
        )
        // Never a silent broken image.
        if (unresolved.length > 0) throw unresolvedError(unresolved)
      },
    },
  }
}

export default flux

const IMPORT_TYPES = `declare module 'flux:*' {
  /**
   * Astro's image of the original (src, width, height, format), for <Image>, <Picture> and
   * getImage(); and the optimized image (srcsets, <source>s, placeholder, alt; whole in \`flux\`)
   * for <FluxImage image={...}>.
   */
  const image: import('astro').ImageMetadata &
    Omit<import('@flux-images/astro').FluxImageData, 'src' | 'width' | 'height'> & {
      flux: import('@flux-images/astro').FluxImageData
    }
  export default image
}
`

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

/** The studio in Astro's dev toolbar (`studio-app.js`, run in the page). */
const STUDIO_APP = {
  id: 'flux-images-studio',
  name: 'flux-images studio',
  icon: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.6"><rect x="3" y="5" width="18" height="14" rx="2"/><path d="m3 16 5-5 4 4 3-3 6 6"/><circle cx="16" cy="9" r="1.5"/></svg>',
  entrypoint: new URL('../studio-app.js', import.meta.url),
}

const withSlash = (base: string) => (base.endsWith('/') ? base : `${base}/`)

/** Whether `path` is `dir` or inside it (`build.client` may be set outside `outDir`). */
function contains(dir: string, path: string): boolean {
  const rest = relative(dir, path)
  return !rest.startsWith('..') && !isAbsolute(rest)
}

export type { FluxOptions } from '@flux-images/core'
export type { FluxImageData } from './flux-state.js'
