import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Directive } from '@flux-images/core'
import { fieldAt } from '@flux-images/core/dev'

/** Where Astro looks for the content config, under `srcDir`. */
const CONTENT_CONFIGS = ['content.config', 'content/config'].flatMap((name) =>
  ['ts', 'mts', 'js', 'mjs'].map((ext) => `${name}.${ext}`),
)

/** A frontmatter directive written as an object (`{ flux: ..., size }` or a block map), not a string. */
const isObjectForm = ({ kind, raw }: Directive) => kind === 'frontmatter' && /^(?:\{|flux\s*:\s)/.test(raw)

/**
 * A located warning for each frontmatter directive in the object form when the content config
 * uses nothing of ours: Astro's `image()` (or `z.string()`) then refuses the object with a bare
 * "expected string, received object" at the field, which says nothing of fluxSchema(). Read before
 * the content sync, so that the warning comes before Astro's error. None without a content config
 * (a page's frontmatter has no schema) or when it imports `@flux-images/astro`.
 */
export async function objectFormHints(
  directives: readonly Directive[],
  { root, srcDir }: { root: string; srcDir: string },
): Promise<string[]> {
  const objects = directives.filter(isObjectForm)
  if (objects.length === 0) return []
  const configs = await Promise.all(
    CONTENT_CONFIGS.map(async (name) => ({
      name,
      text: await readFile(join(srcDir, name), 'utf8').catch(() => undefined),
    })),
  )
  const config = configs.find((c) => c.text !== undefined)
  if (!config || config.text?.includes('@flux-images/astro')) return []
  return Promise.all(
    objects.map(async (directive) => {
      const { file, line, column } = directive.location
      const field = (await fieldAt(root, directive)) ?? 'a field'
      return (
        `[flux] ${file}:${line}:${column}: frontmatter field "${field}" holds a directive in the object form ({ flux, size, ... }), and the content config (${config.name}) imports nothing from @flux-images/astro: its schema will refuse the object ("expected string, received object").\n` +
        "  hint: wrap the collection's schema function in fluxSchema() (`schema: fluxSchema(({ image }) => z.object({ ... }))`, from '@flux-images/astro/schema'), so that image() fields take it, or type the field fluxImage() and render it with <FluxImage image={...} />."
      )
    }),
  )
}
