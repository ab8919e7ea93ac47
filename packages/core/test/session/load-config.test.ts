import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FluxError } from '../../src/errors.js'
import { loadConfig } from '../../src/session/load-config.js'

let root: string
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-config-'))
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

/** The error loading a config file of this text throws. */
async function failureOf(name: string, text: string): Promise<FluxError> {
  await writeFile(join(root, name), text)
  const err = await loadConfig(root).catch((e: unknown) => e)
  if (!FluxError.is(err, 'FLUX_INVALID_OPTIONS')) throw new Error(`expected FLUX_INVALID_OPTIONS, got ${err}`)
  return err
}

describe('loadConfig: where a config file that fails to load is wrong (issue 16, item 12)', () => {
  it('locates a syntax error in flux.config.mjs at its line and column, not 1:1', async () => {
    const err = await failureOf(
      'flux.config.mjs',
      "export default {\n  mode: 'auto',\n  concurrency: 4,,\n}\n",
    )
    expect(err.location).toEqual({ file: 'flux.config.mjs', line: 3, column: 18 })
    // Node's message; a module runner (vitest) reports its parser's.
    expect(err.message).toMatch(/^\[flux\] flux\.config\.mjs:3:18: Could not load flux\.config\.mjs: /)
  })

  it('locates a missing comma at the next name', async () => {
    const err = await failureOf(
      'flux.config.js',
      "export default {\n  mode: 'auto'\n  model: 'flux-dev',\n}\n",
    )
    expect(err.location).toEqual({ file: 'flux.config.js', line: 3, column: 3 })
  })

  it('locates an error thrown while the file runs', async () => {
    const err = await failureOf('flux.config.mjs', 'const size = 1\nexport default {\n  mode: auto,\n}\n')
    expect(err.location).toEqual({ file: 'flux.config.mjs', line: 3, column: 9 })
    expect(err.detail).toBe('Could not load flux.config.mjs: auto is not defined')
  })

  it.runIf((process.features as { typescript?: unknown }).typescript)(
    'locates a syntax error in flux.config.ts',
    async () => {
      const err = await failureOf(
        'flux.config.ts',
        "const mode: string = 'auto'\nexport default { mode,, }\n",
      )
      expect(err.location).toEqual({ file: 'flux.config.ts', line: 2, column: 23 })
    },
  )
})
