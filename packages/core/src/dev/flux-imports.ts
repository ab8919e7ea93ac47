import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { isAbsolute, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseDirective, scanSource } from '../directives/index.js'
import { FluxError } from '../errors.js'
import type { ImageResult } from '../optimize/index.js'
import type { DirectiveParams, SourceLocation } from '../types.js'
import type { DevPlugin, DevServer, HostError, Middleware } from './host.js'

/** The virtual module id of a `flux:` import: hashed, since a prompt makes an awkward URL in dev. */
export const FLUX_MODULE_PREFIX = '\0flux:'

/** What a dev page imports to recover pending images whose reload it missed (`dev-client.js`). */
export const DEV_CLIENT = 'virtual:flux-images/dev-client'
const DEV_CLIENT_FILE = fileURLToPath(new URL('../../dev-client.js', import.meta.url))

/** Code that imports a `flux:` module (`from 'flux:...'`, `import 'flux:...'`, `import('flux:...')`). */
const FLUX_IMPORT = /\b(?:from|import)\s*\(?\s*['"`]flux:/

export interface FluxImport {
  prompt: string
  params: DirectiveParams
  location: SourceLocation
}

export interface FluxImportsOptions {
  /** The project root, for naming the importer in messages. @default the Vite root */
  root?: () => string
  /** The image of an import; `importer` is the file that imports it. */
  image: (input: FluxImport, importer: string | undefined) => Promise<ImageResult>
  /**
   * The module's code, for a host whose own pipeline should take the image too (Astro: its
   * `ImageMetadata`). @default `export default <the image's metadata>`
   */
  code?: (image: Omit<ImageResult, 'files'>, input: FluxImport) => Promise<string>
  /**
   * The session's dev guard (`Session.guard`), installed before every other middleware, Vite's
   * own included: a `flux:` id that another site's page requests is refused before `load`.
   */
  guard?: () => Middleware
}

/**
 * `import image from 'flux:...'`: a virtual module whose default export is the image's metadata
 * (without the cache's file paths). Shared by the Vite plugin and the Astro integration, each
 * answering `image` from its session. A failure is a Rollup error at the import, so Vite prints
 * where it is and the dev overlay shows it: where each importer writes its imports is read by
 * core's scanner from the importer's own source as it passes through `transform` (first, before
 * any compiler), so no file is read again to find a position.
 */
export function fluxImports({ root, image, code, guard }: FluxImportsOptions): DevPlugin {
  const specs = new Map<string, { spec: string; importer: string | undefined }>()
  // Per importer (its path), where it writes each `flux:` import, by the import's text.
  const written = new Map<string, Map<string, SourceLocation>>()
  let viteRoot = process.cwd()
  const base = () => root?.() ?? viteRoot
  const fileName = (path: string) => relative(base(), path).split('\\').join('/')
  return {
    name: 'flux-images:imports',
    configResolved(config) {
      viteRoot = config.root
    },
    configureServer: {
      order: 'pre',
      handler(server) {
        if (guard) server.middlewares.use((req, res, next) => guard()(req, res, next))
      },
    },
    transform: {
      // Before compilers (Astro, MDX, Vue) turn the source into code with other positions;
      // dependencies hold no `flux:` imports (their own code may hold the word). Only a module
      // that imports one is scanned: markdown images and the rest are the session's scan's.
      order: 'pre',
      filter: { id: { exclude: [/^\0/, /\?/, /[\\/]node_modules[\\/]/] }, code: FLUX_IMPORT },
      handler(code, id) {
        const places = new Map<string, SourceLocation>()
        for (const directive of scanSource(fileName(id), code).directives) {
          if (directive.kind === 'import' && !places.has(directive.raw))
            places.set(directive.raw, directive.location)
        }
        written.set(id, places)
        return undefined
      },
    },
    resolveId: {
      filter: { id: /^(flux:|virtual:flux-images\/)/ },
      handler(spec, importer) {
        // A virtual id, so that a project outside node_modules' reach (and Vite's fs.allow) loads it.
        if (spec === DEV_CLIENT) return `\0${DEV_CLIENT}`
        if (!spec.startsWith('flux:')) return undefined
        const hash = createHash('sha256').update(spec).digest('hex').slice(0, 16)
        specs.set(hash, { spec, importer: importer?.split('?')[0] })
        return FLUX_MODULE_PREFIX + hash
      },
    },
    load: {
      filter: { id: /^\0(flux:|virtual:flux-images\/)/ },
      async handler(id) {
        if (id === `\0${DEV_CLIENT}`) return readFile(DEV_CLIENT_FILE, 'utf8')
        const found = specs.get(id.slice(FLUX_MODULE_PREFIX.length))
        const parsed = found && parseDirective(found.spec)
        if (!found || !parsed) return undefined
        const { importer } = found
        const location = importer
          ? (written.get(importer)?.get(found.spec) ?? { file: fileName(importer), line: 1, column: 1 })
          : { file: '(unknown importer)', line: 1, column: 1 }
        try {
          const input = { ...parsed, location }
          const { files: _files, ...result } = await image(input, importer)
          return code ? await code(result, input) : `export default ${JSON.stringify(result)}`
        } catch (err) {
          this.error(hostError(err, base()))
        }
      },
    },
  }
}

/**
 * A failure in Rollup's form: the message with its hint, and the first located directive as `id`
 * and `loc` (Rollup's columns count from 0), so Vite prints the place and its overlay points at it.
 * A build's aggregate keeps every failure in `errors`.
 */
export function hostError(err: unknown, root: string): HostError {
  const failures = err instanceof AggregateError ? err.errors : [err]
  const first = failures.find((e): e is FluxError => FluxError.is(e) && e.location !== undefined)
  const message =
    err instanceof AggregateError ? err.message : FluxError.is(err) ? err.toString() : String(err)
  const result: HostError = Object.assign(new Error(message), { errors: failures })
  if (first?.location) {
    const { file, line, column } = first.location
    const id = isAbsolute(file) ? file : join(root, file)
    result.id = id
    result.loc = { file: id, line, column: column - 1 }
  }
  return result
}

/**
 * Pending images arrived: the modules compiled with placeholders (`files`, MDX pages, `flux:`
 * imports) are dropped in every environment, and the browser reloads.
 */
export function reloadPages(server: DevServer, files: string[]): void {
  for (const environment of Object.values(server.environments)) {
    const graph = environment.moduleGraph
    const stale = files.flatMap((file) => [...(graph.getModulesByFile(file) ?? [])])
    for (const [id, mod] of graph.idToModuleMap) if (id.startsWith(FLUX_MODULE_PREFIX)) stale.push(mod)
    for (const mod of stale) graph.invalidateModule(mod)
  }
  server.environments.client.hot.send({ type: 'full-reload' })
}
