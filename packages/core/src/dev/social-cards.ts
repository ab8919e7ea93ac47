import type { ObjectForm } from '../directives/frontmatter/field-directive.js'
import type { ImageResult } from '../optimize/index.js'
import { type CardFocus, makeSocialCard } from '../optimize/social-card.js'
import type { Session } from '../session/create-session.js'
import type { ParsedDirective } from '../types.js'
import { imageFile } from './image-file.js'

/** A page's social card, as a host hands it to the page: for `og:image` and `twitter:image`. */
export interface SocialCardData {
  /** The card's URL (`base` + the variants' public path + a content-hashed name); make it absolute with the site's URL. */
  src: string
  width: number
  height: number
  /** `image/jpeg`, for `og:image:type`. */
  type: string
}

/**
 * What a card is cropped from: a local image (`fsPath`, as Astro's `ImageMetadata` has it), an
 * image the session made (its metadata), or a directive (`"flux:..."`, a frontmatter object form,
 * or its parsed form), found in the project's scan as the schema finds it.
 */
export type CardInput =
  | { fsPath?: string; src: string }
  | Omit<ImageResult, 'files'>
  | string
  | ObjectForm
  | ParsedDirective

export interface CardOptions {
  /** Where the crop is centred: `'attention'` (the subject, found by sharp) or `{ x, y }` fractions of the image. @default 'attention' */
  focus?: CardFocus
}

/** A session's social cards: made in the cache, served in dev, written to the build's output. */
export interface SocialCards {
  card(input: CardInput, options?: CardOptions): Promise<SocialCardData>
  /** Every card handed out so far: public URL -> file in the cache (dev serves them, builds write them). */
  readonly files: ReadonlyMap<string, string>
}

/**
 * Social cards from the session's images: core crops and caches them (`makeSocialCard`); this
 * keeps their URLs (under the variants' public path and base), so dev serves them and the build
 * writes them.
 */
export function createSocialCards(
  session: Session,
  counters?: { encodes: number; decodes?: number },
): SocialCards {
  const files = new Map<string, string>()
  return {
    files,
    async card(input, { focus } = {}) {
      const { file, name } = await sourceOf(session, input)
      const made = await makeSocialCard({
        input: file,
        cacheDir: session.options.cacheDir,
        focus,
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
  // A local image: Astro reads its `fsPath` through a proxy (`in` does not see it).
  const fsPath = typeof input === 'object' ? (input as { fsPath?: unknown }).fsPath : undefined
  if (typeof fsPath === 'string') {
    return { file: fsPath, name: fsPath.replace(/^.*[\\/]/, '').replace(/\.[^.]*$/, '') }
  }
  if (typeof input === 'object' && 'key' in input && 'sources' in input) {
    // An image the session made: its largest fallback variant, handed out when it was made.
    const file = session.files.get(input.src)
    if (file) return { file, name: input.prompt }
  }
  const parsed = typeof input === 'object' && 'params' in input ? input : await session.fieldDirective(input)
  if (!parsed || parsed.prompt.trim() === '') {
    throw new Error(
      `[flux] socialCard() takes a local image (an image() field or an image import), an image's metadata (a fluxImage() field) or a "flux:" directive, got ${JSON.stringify(input).slice(0, 120)}.`,
    )
  }
  return { file: await imageFile(session, parsed), name: parsed.prompt }
}
