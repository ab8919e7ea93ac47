import type { Session } from '@flux-images/core'
import { z } from 'astro/zod'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { fieldDirective } from '../../core/src/directives/frontmatter/field-directive.js'
import { setFluxState } from '../src/flux-state.js'
import { fluxSchema } from '../src/schema.js'

// Astro's image() as its content layer hands it to a schema function: synchronous, the path
// marked for Astro's later import (astro/dist/content/utils.js).
const image = () => z.string().transform((path) => `__ASTRO_IMAGE_${path}`)
const ASTRO = { image }

/** The prompts the fake session was asked for, in order. */
let resolved: string[] = []

// A session whose every image is cached: its original's path names the prompt; "fails" fails. It
// has no scan: a field's directive is read from its value, as for one no scan saw.
const session = {
  fieldDirective: async (value: unknown) => fieldDirective(value),
  options: { size: '1024x1024', cacheDir: '/cache' },
  flux: {
    status: async () => 'cached',
    resolve: async (input: { prompt: string; params: Record<string, string> }) => {
      resolved.push(input.prompt)
      if (input.prompt === 'fails') throw new Error('the gateway said no')
      const size = input.params.size ? `-${input.params.size}` : ''
      return { entry: { path: `/cache/${input.prompt.replaceAll(' ', '-')}${size}.png` } }
    },
  },
} as unknown as Session

setFluxState(session)
beforeEach(() => {
  resolved = []
})
afterAll(() => setFluxState(undefined))

/** Parses `data` as Astro does (asynchronously) with the schema `fluxSchema(schema)` makes. */
async function parse(schema: (context: typeof ASTRO) => z.ZodType, data: unknown) {
  return fluxSchema(schema)(ASTRO).safeParseAsync(data)
}

const LAKE = 'flux: A mountain lake?size=1536x1024'
const LAKE_FILE = '__ASTRO_IMAGE_/cache/A-mountain-lake-1536x1024.png'

describe('fluxSchema: image() wherever a schema puts it', () => {
  it("AstroPaper's ogImage, image().or(z.string()): a directive becomes Astro's image, other text stays Astro's", async () => {
    const paper = ({ image }: typeof ASTRO) => z.object({ ogImage: image().or(z.string()).optional() })
    expect(await parse(paper, { ogImage: LAKE })).toEqual({ success: true, data: { ogImage: LAKE_FILE } })
    // Without a directive, exactly what Astro's own image() gives.
    const local = await parse(paper, { ogImage: '../../assets/og.png' })
    expect(local.data).toEqual({ ogImage: '__ASTRO_IMAGE_../../assets/og.png' })
    expect((await parse(paper, {})).data).toEqual({})
    expect(resolved).toEqual(['A mountain lake'])
  })

  it('z.union, .nullable(), .optional(), the object form, arrays and nested objects', async () => {
    const schema = ({ image }: typeof ASTRO) =>
      z.object({
        cover: z.union([image(), z.string()]),
        thumb: image().nullable(),
        banner: z.optional(image()),
        gallery: z.array(image()),
        hero: z.object({ image: image(), alt: z.string() }),
      })
    const data = {
      cover: { flux: 'A red kite', size: '1344x768', alt: 'A kite' },
      thumb: null,
      gallery: [LAKE, 'flux: A heron', './local.jpg'],
      hero: { image: 'flux: A heron', alt: 'A heron' },
    }
    expect(await parse(schema, data)).toEqual({
      success: true,
      data: {
        cover: '__ASTRO_IMAGE_/cache/A-red-kite-1344x768.png',
        thumb: null,
        gallery: [LAKE_FILE, '__ASTRO_IMAGE_/cache/A-heron.png', '__ASTRO_IMAGE_./local.jpg'],
        hero: { image: '__ASTRO_IMAGE_/cache/A-heron.png', alt: 'A heron' },
      },
    })
    // Each distinct directive once, the heron written twice.
    expect(resolved.sort()).toEqual(['A heron', 'A mountain lake', 'A red kite'])
  })

  it("Starlight's docsSchema() shape: fluxSchema(docsSchema())", async () => {
    // Starlight's hero image: { alt, file } or { dark, light } or { html }, under an optional hero.
    const docsSchema =
      () =>
      ({ image }: typeof ASTRO) =>
        z.object({
          title: z.string(),
          hero: z
            .object({
              image: z
                .union([
                  z.object({ alt: z.string().default(''), file: image() }),
                  z.object({ dark: image(), light: image() }),
                  z.object({ html: z.string() }),
                ])
                .optional(),
            })
            .optional(),
        })
    const light = await parse(docsSchema(), { title: 'Home', hero: { image: { file: LAKE } } })
    expect(light.data).toEqual({ title: 'Home', hero: { image: { alt: '', file: LAKE_FILE } } })
    const both = await parse(docsSchema(), {
      title: 'Home',
      hero: { image: { dark: 'flux: A lake at night', light: LAKE } },
    })
    expect(both.data).toEqual({
      title: 'Home',
      hero: { image: { dark: '__ASTRO_IMAGE_/cache/A-lake-at-night.png', light: LAKE_FILE } },
    })
  })

  it("zod 4's .prefault() parses its directive: the image is made then", async () => {
    const schema = ({ image }: typeof ASTRO) => z.object({ og: image().prefault(LAKE) })
    expect((await parse(schema, {})).data).toEqual({ og: LAKE_FILE })
    expect(resolved).toEqual(['A mountain lake'])
  })
})

describe('fluxSchema: where image() cannot take the directive, the issue says what to write', () => {
  it('z.string() first in a union passes the directive on as text: the field says to put image() first', async () => {
    const schema = ({ image }: typeof ASTRO) => z.object({ og: z.string().or(image()) })
    const parsed = await parse(schema, { og: LAKE })
    expect(parsed.success).toBe(false)
    expect(parsed.error?.issues).toHaveLength(1)
    expect(parsed.error?.issues[0]?.path).toEqual(['og'])
    expect(parsed.error?.issues[0]?.message).toContain('`image().or(z.string())`')
  })

  it("zod 4's .default() skips the schema: the field says to write .prefault()", async () => {
    const schema = ({ image }: typeof ASTRO) => z.object({ nested: z.object({ og: image().default(LAKE) }) })
    const parsed = await parse(schema, { nested: {} })
    expect(parsed.error?.issues.map((i) => [i.path, i.message.includes(".prefault('flux: ...')")])).toEqual([
      [['nested', 'og'], true],
    ])
  })

  it.each([
    ['image().or(z.string())', ({ image }: typeof ASTRO) => z.object({ og: image().or(z.string()) })],
    ['image()', ({ image }: typeof ASTRO) => z.object({ og: image() })],
  ])(
    'a failed image under %s is one issue on its field, with the prompt and the reason',
    async (_, schema) => {
      const parsed = await parse(schema, { og: 'flux: fails' })
      expect(parsed.error?.issues).toEqual([
        expect.objectContaining({
          path: ['og'],
          message: 'image "fails" failed: Error: the gateway said no',
        }),
      ])
    },
  )

  it('an object form without a prompt is refused', async () => {
    const schema = ({ image }: typeof ASTRO) => z.object({ og: image() })
    const parsed = await parse(schema, { og: { flux: '' } })
    expect(parsed.error?.issues[0]?.message).toContain('expected an image directive')
    expect(resolved).toEqual([])
  })
})
