import { createHash } from 'node:crypto'
import {
  type DirectiveParams,
  FluxError,
  type ImageResult,
  locateDirective,
  parseDirective,
  type SourceLocation,
} from '@flux-images/core'
import type { Plugin } from 'vite'

/** The virtual module id of a `flux:` import: hashed, since a prompt makes an awkward URL in dev. */
export const FLUX_MODULE_PREFIX = '\0flux:'

export interface FluxImport {
  prompt: string
  params: DirectiveParams
  location: SourceLocation
}

export interface FluxImportsOptions {
  /** The project root, for locating an import in its file. */
  root: () => string
  /** The image of an import; `id` is its module, `importer` the file that imports it. */
  image: (input: FluxImport, module: { id: string; importer: string | undefined }) => Promise<ImageResult>
}

/**
 * `import image from 'flux:...'`: a virtual module whose default export is the image's metadata
 * (without the cache's file paths). Shared by the Vite plugin and the Astro integration, each
 * answering `image` from its own engine.
 */
export function fluxImports({ root, image }: FluxImportsOptions): Plugin {
  const specs = new Map<string, { spec: string; importer: string | undefined }>()
  return {
    name: 'flux-images:imports',
    resolveId: {
      filter: { id: /^flux:/ },
      handler(spec, importer) {
        const hash = createHash('sha256').update(spec).digest('hex').slice(0, 16)
        specs.set(hash, { spec, importer: importer?.split('?')[0] })
        return FLUX_MODULE_PREFIX + hash
      },
    },
    load: {
      filter: { id: /^\0flux:/ },
      async handler(id) {
        const found = specs.get(id.slice(FLUX_MODULE_PREFIX.length))
        const parsed = found && parseDirective(found.spec)
        if (!found || !parsed) return undefined
        const location = found.importer
          ? await locateDirective(root(), found.importer, (d) => d.raw === found.spec)
          : { file: '(unknown importer)', line: 1, column: 1 }
        try {
          const { files: _files, ...result } = await image(
            { ...parsed, location },
            { id, importer: found.importer },
          )
          return `export default ${JSON.stringify(result)}`
        } catch (err) {
          this.error(FluxError.is(err) ? err.toString() : String(err))
        }
      },
    },
  }
}
