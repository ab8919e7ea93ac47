import { makeSocialCard, type Session } from '@flux-images/core'
import { imageFile } from '@flux-images/core/dev'
import type { CardInput, SocialCards } from './flux-state.js'

/**
 * Social cards from the session's images: core crops and caches them; this keeps their URLs
 * (under the variants' public path and base), so dev serves them and the build writes them.
 */
export function createSocialCards(
  session: Session,
  counters?: { encodes: number; decodes?: number },
): SocialCards {
  const files = new Map<string, string>()
  return {
    files,
    async card(input, options = {}) {
      const { file, name } = await sourceOf(session, input)
      const made = await makeSocialCard({
        input: file,
        cacheDir: session.options.cacheDir,
        focus: options.focus,
        name,
        serve: session.options.image,
        ...(counters && { counters }),
      })
      files.set(made.url, made.path)
      return { src: made.url, width: made.width, height: made.height, type: made.type }
    },
  }
}

/** The image file a card is cropped from, and a name for it. */
async function sourceOf(session: Session, input: CardInput): Promise<{ file: string; name: string }> {
  // Astro's image: its `fsPath` is read through a proxy (`in` does not see it).
  const fsPath = typeof input === 'object' ? (input as { fsPath?: unknown }).fsPath : undefined
  if (typeof fsPath === 'string') {
    return { file: fsPath, name: fsPath.replace(/^.*[\\/]/, '').replace(/\.[^.]*$/, '') }
  }
  if (typeof input === 'object' && 'key' in input && 'sources' in input) {
    // A fluxImage() field: its largest fallback variant, handed out when the field was parsed.
    const file = session.files.get(input.src)
    if (file) return { file, name: input.prompt }
  }
  const directive = await session.fieldDirective(input)
  if (!directive) {
    throw new Error(
      `[flux] socialCard() takes Astro's image (an image() field or an image import), a fluxImage() field or a "flux:" directive, got ${JSON.stringify(input).slice(0, 120)}.`,
    )
  }
  return { file: await imageFile(session, directive), name: directive.prompt }
}
