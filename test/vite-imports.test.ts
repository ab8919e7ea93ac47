import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FluxError, type ImageResult } from '@flux-images/core'
import { type FluxImport, fluxImports } from '@flux-images/core/dev'
import { build, type Plugin } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fluxError } from '../packages/core/src/errors.js'

// `import x from 'flux:...'` is located where the importer writes it, in the importer's source as
// Vite hands it to plugins (before the TypeScript transform moves lines): the importer here exists
// on no disk, so a position can only come from that source.

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-imports-'))
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

// Types first: stripped by the transform, they would shift every line after them.
const SOURCE = [
  'interface Caption {',
  '  text: string',
  '}',
  '',
  "import kite from 'flux:a red kite'",
  "const fox = await import('flux:a fox in the snow?size=1536x1024')",
  'export const caption: Caption = { text: kite.alt + fox.default.alt }',
  '',
].join('\n')

/** Serves the importer from memory, under a path where no file is. */
function ghost(path: string): Plugin {
  return {
    name: 'ghost',
    resolveId: (id) => (id === 'ghost' ? path : undefined),
    load: (id) => (id === path ? SOURCE : undefined),
  }
}

function fakeImage(prompt: string): ImageResult {
  return {
    src: '/a.jpg',
    width: 1,
    height: 1,
    alt: prompt,
    prompt,
    key: 'k',
    placeholder: undefined,
    dominantColor: '#000000',
    hasAlpha: false,
    sources: [],
    srcset: '/a.jpg 1w',
    files: [],
  }
}

const run = (image: (input: FluxImport) => Promise<ImageResult>) =>
  build({
    root,
    configFile: false,
    logLevel: 'silent',
    build: { write: false, rollupOptions: { input: 'ghost' } },
    plugins: [ghost(join(root, 'src/ghost.ts')), fluxImports({ root: () => root, image })],
  })

describe('flux: imports are located in the importer as written', () => {
  it('hands each import its line and column (static and dynamic)', async () => {
    const inputs: FluxImport[] = []
    await run(async (input) => {
      inputs.push(input)
      return fakeImage(input.prompt)
    })
    expect(
      inputs
        .map(({ prompt, location }) => ({ prompt, location }))
        .sort((a, b) => a.location.line - b.location.line),
    ).toEqual([
      { prompt: 'a red kite', location: { file: 'src/ghost.ts', line: 5, column: 19 } },
      { prompt: 'a fox in the snow', location: { file: 'src/ghost.ts', line: 6, column: 27 } },
    ])
  })

  it('fails the build at the import, as Rollup reads a location', async () => {
    const failure = run(async (input) => {
      if (input.prompt !== 'a red kite') return fakeImage(input.prompt)
      throw fluxError('FLUX_MODERATED', { detail: 'refused' }, { location: input.location })
    })
    const err = (await failure.then(
      () => undefined,
      (e: unknown) => e,
    )) as (Error & { id?: string; loc?: unknown }) | undefined
    expect(err?.message).toContain('src/ghost.ts:5:19: The gateway refused this prompt (moderation): refused')
    expect(FluxError.is(err)).toBe(false)
  })
})
