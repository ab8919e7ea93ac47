import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { FluxError } from '../errors.js'
import type { FluxOptions } from '../options.js'

/** The configuration files looked for at the root, first found wins. */
export const CONFIG_FILES = ['flux.config.mjs', 'flux.config.js', 'flux.config.ts'] as const

/**
 * The root's `flux.config.{mjs,js,ts}` (its default export), or `{}` when there is none. Each call
 * imports the file as it is now (a dev server reloads it after an edit). A `.ts` file needs a Node
 * that strips types (22.18 and later).
 */
export async function loadConfig(root: string): Promise<{ config: FluxOptions; file?: string }> {
  for (const name of CONFIG_FILES) {
    const file = join(root, name)
    const stamp = await stat(file).then(
      (s) => (s.isFile() ? s.mtimeMs : undefined),
      () => undefined,
    )
    if (stamp === undefined) continue
    try {
      // The stamp in the URL: a file edited since the last import is imported anew.
      const mod = (await import(`${pathToFileURL(file).href}?t=${stamp}`)) as { default?: unknown }
      const config = mod.default ?? {}
      if (typeof config !== 'object' || config === null || Array.isArray(config)) {
        throw new Error('its default export is not an options object')
      }
      return { config: config as FluxOptions, file }
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause)
      const typescript = name.endsWith('.ts') && !(process.features as { typescript?: unknown }).typescript
      throw new FluxError('FLUX_INVALID_OPTIONS', `Could not load ${name}: ${reason}`, {
        location: { file: name, line: 1, column: 1 },
        hint: typescript
          ? `This Node (${process.version}) cannot import TypeScript: use Node 22.18 or later, or rename it flux.config.mjs.`
          : `Make ${name} export default an options object: export default { concurrency: 4 }`,
        cause,
      })
    }
  }
  return { config: {} }
}
