import type { DirectiveParams } from '@flux-images/core'
import { FluxError, parseDirective } from '@flux-images/core/runtime'
import { z } from 'astro/zod'
import { type FluxImageData, getFluxState, withoutFiles } from './flux-state.js'

const KEYS = ['model', 'size', 'quality', 'seed', 'alt'] as const

/**
 * A content-collection field holding an image directive: the string `"flux: prompt?size=..."` or
 * the object `{ flux, size, model, quality, seed, alt }` (the object's fields win over the query),
 * as core's frontmatter scanner reads them. Parses to the image's metadata (`FluxImageData`), for
 * `<FluxImage image={entry.data.cover} />`; a bad value or a failed image is an issue on the field,
 * which Astro reports with the entry's name.
 */
export function fluxImage() {
  const objectForm = z.object({
    flux: z.string(),
    model: z.string().optional(),
    size: z.string().optional(),
    quality: z.string().optional(),
    seed: z.union([z.string(), z.number()]).optional(),
    alt: z.string().optional(),
  })
  return z.union([z.string(), objectForm]).transform(async (value, ctx): Promise<FluxImageData> => {
    const text = typeof value === 'string' ? value : `flux:${value.flux.replace(/^flux:/, '')}`
    const parsed = parseDirective(text)
    if (!parsed || parsed.prompt === '') {
      ctx.addIssue({
        code: 'custom',
        message: `expected an image directive "flux: <prompt>?size=...", got ${JSON.stringify(text)}`,
      })
      return z.NEVER
    }
    const params: DirectiveParams = { ...parsed.params }
    if (typeof value !== 'string') {
      for (const key of KEYS) if (value[key] !== undefined) params[key] = String(value[key])
    }
    try {
      return withoutFiles(await getFluxState().image({ prompt: parsed.prompt, params }))
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: `image "${parsed.prompt}" failed: ${FluxError.is(err) ? err.toString() : String(err)}`,
      })
      return z.NEVER
    }
  })
}
