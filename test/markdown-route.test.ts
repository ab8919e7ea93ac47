import { FluxError, fluxError } from '@flux-images/core'
import { beforeAll, describe, expect, it } from 'vitest'
import { createPipelines, type Pipeline } from './helpers/markdown-processors.js'

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
