import type { DirectiveParams, Session } from '@flux-images/core'
import { imageFile } from '@flux-images/core/dev'
import type { FluxImageData } from './flux-state.js'

/**
 * The module of a `flux:` import in Astro: the image's metadata (for `<FluxImage image={...}>`), and
 * at once Astro's own image of its original file (imported, so Astro emits, transforms and caches
 * it), so that `<Image>`, `<Picture>` and `getImage()` take it as they take a local image. `src`,
 * `width`, `height`, `format` and `fsPath` are Astro's (the original's); `srcset`, `sources`,
 * `placeholder`... are the variants', and `flux` holds the variants' metadata whole.
 */
export async function imageModule(
  session: Session,
  data: FluxImageData,
  input: { prompt: string; params: DirectiveParams },
): Promise<string> {
  const file = await imageFile(session, input)
  return [
    `import original from ${JSON.stringify(file)}`,
    `const flux = ${JSON.stringify(data)}`,
    'const { src, width, height, format } = original',
    'const image = { ...flux, src, width, height, format, flux }',
    // Astro reads the original's path through its own image's getter (server side only).
    `Object.defineProperty(image, 'fsPath', { get: () => original.fsPath })`,
    'export default image',
  ].join('\n')
}
