import { directiveFields, imageFile, isDirectiveField } from '@flux-images/core/dev'
import { FluxError } from '@flux-images/core/runtime'
import { z } from 'astro/zod'
import { type FluxImageData, getFluxState, withoutFiles } from './flux-state.js'

/** A directive's image file, or why there is none. */
type Resolved = { file: string } | { error: string }

/** A field's value in a message: a string as it is, an object form by its `flux`. */
const describe = (value: unknown, flux = (value as { flux?: unknown } | null)?.flux) =>
  JSON.stringify(typeof flux === 'string' ? `flux:${flux}` : value) ?? String(value)
const notADirective = (value: unknown) =>
  `expected an image directive "flux: <prompt>?size=...", got ${describe(value)}`
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
  return z.unknown().transform(async (value, ctx): Promise<FluxImageData> => {
    // Looked up in the session's scan by value (read from the value only where no scan saw it).
    const input = await getFluxState().fieldDirective(value)
    try {
      if (input?.prompt) return withoutFiles(await getFluxState().image(input))
      ctx.addIssue({ code: 'custom', message: notADirective(value) })
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: failure(input?.prompt ?? '', err) })
    }
    return z.NEVER
  })
}

/** Astro's `image()` helper, as a collection's schema function receives it. */
export type AstroImageHelper = () => z.ZodType
type SchemaContext = { image: AstroImageHelper }

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
    // By value: a string as written, an object form as the entry's data holds it.
    const files = new Map<unknown, Resolved>()
    const inner = schema({ ...context, image: () => fluxOrImage(context.image, files) })
    // Every directive of the entry is made into its file first, looked up by its field's path, so
    // that image() then runs synchronously: a union takes the first option that succeeds at once,
    // and an asynchronous image() lost to `z.string()` in `image().or(z.string())`.
    return z
      .preprocess(
        async (data) => {
          const fields = new Map(directiveFields(data))
          await Promise.all(
            [...fields].map(async ([value, path]) => files.set(value, await fileOf(value, path))),
          )
          return data
        },
        inner as unknown as z.ZodType,
      )
      .superRefine((data, ctx) => {
        // A directive left as text: its image failed (a union's `z.string()` then took it), or no image() took it.
        for (const [value, path] of directiveFields(data)) {
          const failed = files.get(value)
          const message =
            failed && 'error' in failed
              ? failed.error
              : `${describe(value)} is a flux: directive, but this field's schema passed it on as text, not as an image: type the field with image(), first in a union (\`image().or(z.string())\`, not \`z.string().or(image())\`); for a default directive write \`.prefault('flux: ...')\` (zod 4's \`.default()\` skips the schema), or fluxImage() for <FluxImage>.`
          ctx.addIssue({ code: 'custom', path, message })
        }
      }) as unknown as Schema
  }
}

/** The image file of a field's directive, looked up in the session's scan by value and path (where the entry holds it, when known). */
async function fileOf(value: unknown, path?: (string | number)[]): Promise<Resolved> {
  const input = await getFluxState().fieldDirective(value, path)
  if (!input?.prompt) return { error: notADirective(value) }
  return imageFile(getFluxState(), input).then(
    (file) => ({ file }),
    (err: unknown) => ({ error: failure(input.prompt, err) }),
  )
}

/**
 * Astro's `image()`, with `flux:` values first turned into the path of their image file: found in
 * `files` (synchronous, as Astro's own image() is), else made now (a default zod parses).
 */
function fluxOrImage(image: AstroImageHelper, files: Map<unknown, Resolved>) {
  // Astro's own helper then records the file as the entry's image, as for a path the user wrote.
  return z
    .unknown()
    .transform((value, ctx) => {
      if (!isDirectiveField(value)) return value
      const settle = (resolved: Resolved) => {
        if ('file' in resolved) return resolved.file
        ctx.addIssue({ code: 'custom', message: resolved.error })
        return z.NEVER
      }
      const known = files.get(value)
      return known ? settle(known) : fileOf(value).then(settle)
    })
    .pipe(image() as z.ZodType<unknown, unknown>)
}
