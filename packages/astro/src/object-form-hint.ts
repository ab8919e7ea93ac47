import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Directive } from '@flux-images/core'
import { fieldName } from '@flux-images/core/dev'

/** Where Astro looks for the content config, under `srcDir`. */
const CONTENT_CONFIGS = ['content.config', 'content/config'].flatMap((name) =>
  ['ts', 'mts', 'js', 'mjs'].map((ext) => `${name}.${ext}`),
)

/**
 * A located warning for each frontmatter directive in the object form when the content config
 * uses nothing of ours: Astro's `image()` (or `z.string()`) then refuses the object with a bare
 * "expected string, received object" at the field, which says nothing of fluxSchema(). Read before
 * the content sync, so that the warning comes before Astro's error. None without a content config
 * (a page's frontmatter has no schema) or when it imports `@flux-images/astro`.
 */
export async function objectFormHints(directives: readonly Directive[], srcDir: string): Promise<string[]> {
  const objects = directives.filter((d) => d.field?.form === 'object')
  if (objects.length === 0) return []
  const texts = await Promise.all(
    CONTENT_CONFIGS.map((name) => readFile(join(srcDir, name), 'utf8').catch(() => undefined)),
  )
  const found = texts.findIndex((text) => text !== undefined)
  const name = CONTENT_CONFIGS[found]
  if (!name || texts[found]?.includes('@flux-images/astro')) return []
  return objects.map((directive) => {
    const { file, line, column } = directive.location
    const field = fieldName(directive) ?? 'a field'
    return (
      `[flux] ${file}:${line}:${column}: frontmatter field "${field}" holds a directive in the object form ({ flux, size, ... }), and the content config (${name}) imports nothing from @flux-images/astro: its schema will refuse the object ("expected string, received object").\n` +
      "  hint: wrap the collection's schema function in fluxSchema() (`schema: fluxSchema(({ image }) => z.object({ ... }))`, from '@flux-images/astro/schema'), so that image() fields take it, or type the field fluxImage() and render it with <FluxImage image={...} />."
    )
  })
}
