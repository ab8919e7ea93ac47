import { FluxError } from '@flux-images/core'
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { fluxError } from '../packages/core/src/errors.js'
import { createPipelines, type Pipeline } from './helpers/markdown-processors.js'

// What the adapters call of core on the way, counted: scans of markdown text, markup serialized
// to a string (none: the picture reaches the processor as a tree), trees made into hast.
const calls = vi.hoisted(() => ({ scanMarkdown: 0, renderPicture: 0, toHtml: 0, toHast: 0 }))
// Core's markdown plugins call these inside core: counted where each lives.
const counting = vi.hoisted(
  () =>
    (name: 'renderPicture' | 'toHtml' | 'toHast') =>
    async (importOriginal: () => Promise<Record<string, unknown>>) => {
      const real = await importOriginal()
      const f = real[name] as (...args: unknown[]) => unknown
      const counted = (...args: unknown[]) => {
        calls[name]++
        return f(...args)
      }
      return { ...real, [name]: counted }
    },
)
vi.mock('../packages/core/dist/markup/render-picture.js', counting('renderPicture'))
vi.mock('../packages/core/dist/markup/to-html.js', counting('toHtml'))
vi.mock('../packages/core/dist/markup/to-hast.js', counting('toHast'))
// Core's markdown handling scans inside core: counted where the scanner lives.
vi.mock('../packages/core/dist/directives/markdown/scan-markdown.js', async (importOriginal) => {
  const real =
    await importOriginal<typeof import('../packages/core/dist/directives/markdown/scan-markdown.js')>()
  return {
    ...real,
    scanMarkdown: (...args: Parameters<typeof real.scanMarkdown>) => {
      calls.scanMarkdown++
      return real.scanMarkdown(...args)
    },
  }
})
beforeEach(() => {
  for (const name of Object.keys(calls) as (keyof typeof calls)[]) calls[name] = 0
})

// One markdown image's way through each processor (Sätteri and unified, `.md` and MDX): the
// session is asked once per image with the request and where the parser's node put the image;
// a failure is located there. The page's file does not exist (`test/fixtures/page.md`): nothing
// reads it to find a position.

let pipelines: Pipeline[]
let failing: Pipeline[]
beforeAll(async () => {
  pipelines = await createPipelines()
  failing = await createPipelines({
    failure: () => fluxError('FLUX_MODERATED', { detail: 'refused by the mock' }),
  })
})

const file = (pipeline: Pipeline) => (pipeline.mdx ? 'page.mdx' : 'page.md')

describe('the session is asked once per image, with the position of the parser node', () => {
  it.each([
    ['the angle-bracket form', 'Intro\n\n![A lamp](<flux:a lamp on a desk>)\n', 3, 1],
    ['the percent-encoded form, mid-line', 'Intro\n\nSee ![A lamp](flux:a%20lamp) here.\n', 3, 5],
    ['the typed form, mid-line', 'Intro\n\nSee ![A lamp](flux:a lamp on a desk) here.\n', 3, 5],
    ['the typed form on a later line of its paragraph', 'Intro\n\nOne\nand ![x](flux:a b) two\n', 4, 5],
    ['an empty prompt (the alt fills it)', '# Title\n\n![A lamp](flux:)\n', 3, 1],
    ['the typed form in a heading', 'Intro\n\n## See ![x](flux:a b)\n', 3, 8],
  ])('%s', async (_, source, line, column) => {
    for (const pipeline of pipelines) {
      expect(await pipeline.run(source), pipeline.name).toHaveLength(1)
      const inputs = pipeline.inputs()
      expect(inputs, pipeline.name).toHaveLength(1)
      expect(inputs[0], pipeline.name).toMatchObject({ location: { file: file(pipeline), line, column } })
    }
  })
})

describe('a failed image is located at its node, in the message and for the overlay', () => {
  it.each([
    ['the angle-bracket form', 'Intro\n\n![A lamp](<flux:a lamp on a desk>)\n', 3, 1],
    ['the typed form, mid-line', 'Intro\n\nSee ![A lamp](flux:a lamp on a desk) here.\n', 3, 5],
  ])('%s', async (_, source, line, column) => {
    for (const pipeline of failing) {
      const err = await pipeline.run(source).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(FluxError.is(err), `${pipeline.name}: ${String(err)}`).toBe(true)
      const located = err as FluxError & { loc?: unknown }
      expect(located.location, pipeline.name).toEqual({ file: file(pipeline), line, column })
      expect(located.message, pipeline.name).toContain(`${file(pipeline)}:${line}:${column}:`)
      expect(located.loc, pipeline.name).toMatchObject({ line, column })
      expect(pipeline.inputs(), pipeline.name).toHaveLength(1)
    }
  })
})

describe('the work on the way, per image (counted in the adapters)', () => {
  // Scans: no session index here (no build ran), so each processor's plugin scans the document's
  // source once, whatever form its images take, and finds each image there by its offsets (a
  // build's index makes it 0: test/astro-walks.test.ts). No file is read (the page's file does not
  // exist), no paragraph is rewritten and parsed again.
  it.each([
    ['the angle-bracket form', 'Intro\n\n![A lamp](<flux:a lamp on a desk>)\n', { satteri: 1, unified: 1 }],
    ['the typed form', 'Intro\n\nSee ![A lamp](flux:a lamp on a desk) here.\n', { satteri: 1, unified: 1 }],
    ['an empty prompt', 'Intro\n\n![A lamp](flux:)\n', { satteri: 1, unified: 1 }],
  ])('%s: scans, and no markup string', async (_, source, scans) => {
    for (const pipeline of pipelines) {
      expect(await pipeline.run(source), pipeline.name).toHaveLength(1)
      const processor = pipeline.name.startsWith('satteri') ? 'satteri' : 'unified'
      expect({ ...calls }, pipeline.name).toEqual({
        scanMarkdown: scans[processor],
        renderPicture: 0,
        toHtml: 0,
        toHast: 1,
      })
      for (const name of Object.keys(calls) as (keyof typeof calls)[]) calls[name] = 0
    }
  })
})

describe('unified: the text around a typed image whose text node shows other images than its source', () => {
  it('is the source decoded, the image a <picture> where the source has it', async () => {
    const source = 'Intro\n\n![x](flux:\\) and ![x](flux:a lighthouse at dawn)\n'
    const unified = pipelines.find((p) => p.name === 'unified .md')
    expect(await unified?.run(source)).toHaveLength(1)
    expect(unified?.output()).toMatch(
      /<p>!\[x\]\(flux:\) and <picture><img src="\/_flux\/[0-9a-f]+\.jpg"[^>]*><\/picture><\/p>/,
    )
  })
})
