import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { FluxError } from '../errors.js'
import type { FluxOptions } from '../options.js'

export const CONFIG_FILE = 'flux.config.mjs'

/** The optional `flux.config.mjs` at the root (its default export), or `{}` when there is none. */
export async function loadConfig(root: string): Promise<FluxOptions> {
  const file = join(root, CONFIG_FILE)
  try {
    await access(file)
  } catch {
    return {}
  }
  try {
    const mod = (await import(pathToFileURL(file).href)) as { default?: unknown }
    const config = mod.default ?? {}
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      throw new Error('its default export is not an options object')
    }
    return config as FluxOptions
  } catch (cause) {
    throw new FluxError(
      'FLUX_INVALID_OPTIONS',
      `Could not load ${CONFIG_FILE}: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        location: { file: CONFIG_FILE, line: 1, column: 1 },
        hint: `Make ${CONFIG_FILE} export default an options object: export default { concurrency: 4 }`,
        cause,
      },
    )
  }
}
