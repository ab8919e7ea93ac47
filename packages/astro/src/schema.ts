import type { DirectiveParams } from '@flux-images/core'
import { imageFile } from '@flux-images/core/dev'
import { FluxError } from '@flux-images/core/runtime'
import { z } from 'astro/zod'
import { fieldDirective, type ObjectForm } from './field-directive.js'
import { type FluxImageData, getFluxState, withoutFiles } from './flux-state.js'

/** The object form of a frontmatter directive: `{ flux, size, model, quality, seed, alt, preset }`. */
const objectForm = () =>
  z.object({
    flux: z.string(),
    model: z.string().optional(),
    size: z.string().optional(),
    quality: z.string().optional(),
    seed: z.union([z.string(), z.number()]).optional(),
    alt: z.string().optional(),
    preset: z.string().optional(),
  })

const describe = (value: string | ObjectForm) =>
  JSON.stringify(typeof value === 'string' ? value : `flux:${value.flux}`)

const failure = (prompt: string, err: unknown) =>
  `image "${prompt}" failed: ${FluxError.is(err) ? err.toString() : String(err)}`

/**
 * A content-collection field holding an image directive: the string `"flux: prompt?size=..."` or
 * the object `{ flux, size, model, quality, seed, alt }` (the object's fields win over the query),
 * as core's frontmatter scanner reads them. Parses to the image's metadata (`FluxImageData`), for
 * `<FluxImage image={entry.data.cover} />`; a bad value or a failed image is an issue on the field,
 * which Astro reports with the entry's name.
 */
export function fluxImage() {
  return z.union([z.string(), objectForm()]).transform(async (value, ctx): Promise<FluxImageData> => {
    const input = fieldDirective(value)
    if (!input) {
      ctx.addIssue({
        code: 'custom',
        message: `expected an image directive "flux: <prompt>?size=...", got ${describe(value)}`,
      })
      return z.NEVER
    }
    try {
      return withoutFiles(await getFluxState().image(input))
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: failure(input.prompt, err) })
      return z.NEVER
    }
  })
}

/** Astro's `image()` helper, as a collection's schema function receives it. */
export type AstroImageHelper = () => z.ZodType
type SchemaContext = { image: AstroImageHelper }

/** A directive's image file, or why there is none: found before the schema runs. */
type Resolved = { file: string } | { error: string }

/**
 * Lets Astro's own `image()` take `flux:` values: wrap a collection's schema function (yours, or
 * Starlight's `docsSchema()`), and a field typed `image()` accepts a local image as before, or a
 * directive (`"flux: prompt?size=..."` or `{ flux, size, ... }`) whose generated image enters
 * Astro's pipeline as a local image. The entry then holds Astro's `ImageMetadata`, for `<Image>`,
 * `<Picture>` and `getImage()` with all their options, and Astro's image service and cache.
 * `image()` may sit anywhere: `image().or(z.string())`, `z.union`, `.optional()`, `.nullable()`,
 * arrays, nested objects. A directive the schema passes on as text (a union that tries
 * `z.string()` first, a zod 4 `.default()`) is an issue on its field that says what to write.
 *
 * ```js
 * schema: fluxSchema(({ image }) => z.object({ heroImage: z.optional(image()) })),
 * schema: fluxSchema(docsSchema()),
 * ```
 */
export function fluxSchema<Context extends SchemaContext, Schema>(
  schema: (context: Context) => Schema,
): (context: Context) => Schema {
  return (context) => {
    // Astro calls the schema function for each entry; in dev a pending image's file changes later.
    const files = new Map<string, Resolved>()
    const inner = schema({ ...context, image: () => fluxOrImage(context.image, files) })
    // Every directive of the entry is made into its file first, so that image() then runs
    // synchronously: a union takes the first option that succeeds at once, and an asynchronous
    // image() lost to `z.string()` in `image().or(z.string())`.
    return z
      .preprocess(
        async (data) => {
          await resolveFiles(data, files)
          return data
        },
        inner as unknown as z.ZodType,
      )
      .superRefine((data, ctx) => passedAsText(data, ctx, files)) as unknown as Schema
  }
}

/** A directive's identity in the files map. */
const keyOf = (input: { prompt: string; params: object }) => JSON.stringify([input.prompt, input.params])

/** The file of every directive in an entry's data (any depth), into `files`. */
async function resolveFiles(data: unknown, files: Map<string, Resolved>): Promise<void> {
  const inputs = new Map<string, { prompt: string; params: DirectiveParams }>()
  visit(data, [], (value) => {
    const input = fieldDirective(value)
    if (input && !files.has(keyOf(input))) inputs.set(keyOf(input), input)
  })
  if (inputs.size === 0) return
  const state = getFluxState()
  await Promise.all(
    [...inputs].map(async ([key, input]) => {
      const resolved = await imageFile(state, input).then(
        (file) => ({ file }),
        (err: unknown) => ({ error: failure(input.prompt, err) }),
      )
      files.set(key, resolved)
    }),
  )
}

/** Calls `found` on each string directive and object form in `data`, with its path. */
function visit(
  data: unknown,
  path: (string | number)[],
  found: (value: ObjectForm | string, path: (string | number)[]) => void,
) {
  if (typeof data === 'string') {
    if (DIRECTIVE.test(data)) found(data, path)
  } else if (Array.isArray(data)) {
    for (const [i, item] of data.entries()) visit(item, [...path, i], found)
  } else if (isPlainObject(data)) {
    if (typeof data.flux === 'string' && !('src' in data)) found(data as unknown as ObjectForm, path)
    else for (const [key, value] of Object.entries(data)) visit(value, [...path, key], found)
  }
}

const DIRECTIVE = /^\s*flux:/

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * An issue on each directive the schema passed on as text: its image failed (a union's
 * `z.string()` then took it), or no image() took it.
 */
function passedAsText(data: unknown, ctx: z.RefinementCtx, files: Map<string, Resolved>) {
  visit(data, [], (value, path) => {
    const input = fieldDirective(value)
    const known = input && files.get(keyOf(input))
    const message =
      known && 'error' in known
        ? known.error
        : `${describe(value)} is a flux: directive, but this field's schema passed it on as text, not as an image: type the field with image(), first in a union (\`image().or(z.string())\`, not \`z.string().or(image())\`); for a default directive write \`.prefault('flux: ...')\` (zod 4's \`.default()\` skips the schema), or fluxImage() for <FluxImage>.`
    ctx.addIssue({ code: 'custom', path, message })
  })
}

/**
 * Astro's `image()`, with `flux:` values first turned into the path of their image file: found in
 * `files` (synchronous, as Astro's own image() is), else made now (a default zod parses).
 */
function fluxOrImage(image: AstroImageHelper, files: Map<string, Resolved>) {
  return (
    z
      .union([z.string(), objectForm()])
      .transform((value, ctx): string | Promise<string> => {
        if (typeof value === 'string' && !DIRECTIVE.test(value)) return value
        const input = fieldDirective(value)
        if (!input) {
          ctx.addIssue({
            code: 'custom',
            message: `expected an image directive "flux: <prompt>?size=...", got ${describe(value)}`,
          })
          return z.NEVER
        }
        const known = files.get(keyOf(input))
        const fileOf = (resolved: Resolved) => {
          if ('file' in resolved) return resolved.file
          ctx.addIssue({ code: 'custom', message: resolved.error })
          return z.NEVER
        }
        if (known) return fileOf(known)
        return imageFile(getFluxState(), input).then(
          (file) => file,
          (err: unknown) => fileOf({ error: failure(input.prompt, err) }),
        )
      })
      // Astro's own helper records the file as the entry's image, as for a path the user wrote.
      .pipe(image() as z.ZodType<unknown, string>)
  )
}
