import { FluxError } from '@flux-images/core/runtime'
import { z } from 'astro/zod'
import { fieldDirective, type ObjectForm } from './field-directive.js'
import { type FluxImageData, getFluxState, withoutFiles } from './flux-state.js'
import { imageFile } from './image-file.js'

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

/**
 * Lets Astro's own `image()` take `flux:` values: wrap a collection's schema function, and a field
 * typed `image()` accepts a local image as before, or a directive (`"flux: prompt?size=..."` or
 * `{ flux, size, ... }`) whose generated image enters Astro's pipeline as a local image. The entry
 * then holds Astro's `ImageMetadata`, for `<Image>`, `<Picture>` and `getImage()` with all their
 * options, and Astro's image service and cache.
 *
 * ```js
 * schema: fluxSchema(({ image }) => z.object({ heroImage: z.optional(image()) })),
 * ```
 */
export function fluxSchema<Context extends SchemaContext, Schema>(
  schema: (context: Context) => Schema,
): (context: Context) => Schema {
  return (context) => schema({ ...context, image: () => fluxOrImage(context.image) })
}

/** Astro's `image()`, with `flux:` values first turned into the path of their image file. */
function fluxOrImage(image: AstroImageHelper) {
  // One transform, not a union with image(): a union takes image()'s synchronous success over
  // this asynchronous one.
  return z.union([z.string(), objectForm()]).transform(async (value, ctx) => {
    if (typeof value === 'string' && !/^\s*flux:/.test(value)) return astroImage(image, value, ctx)
    const input = fieldDirective(value)
    if (!input) {
      ctx.addIssue({
        code: 'custom',
        message: `expected an image directive "flux: <prompt>?size=...", got ${describe(value)}`,
      })
      return z.NEVER
    }
    let file: string
    try {
      file = await imageFile(getFluxState(), input)
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: failure(input.prompt, err) })
      return z.NEVER
    }
    // Astro's own helper records the file as the entry's image, as for a path the user wrote.
    return astroImage(image, file, ctx)
  })
}

/** Astro's `image()` on a path, its issues passed on to the field. */
async function astroImage(image: AstroImageHelper, path: string, ctx: z.RefinementCtx): Promise<unknown> {
  const parsed = await image().safeParseAsync(path)
  if (parsed.success) return parsed.data
  for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message })
  return z.NEVER
}
