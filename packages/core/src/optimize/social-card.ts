import { createHash } from 'node:crypto'
import { mkdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../cache/atomic-write.js'
import { CACHE_LAYOUT } from '../cache/cache-layout.js'
import { fluxError } from '../errors.js'
import { decodeOptions, loadSharp, readImageHeader, sharpVersion } from '../sharp.js'
import { publicUrl } from './image-result.js'
import { slugify } from './slugify.js'

/** Open Graph's recommended card: 1.91:1, large enough for every crawler's large preview. */
export const SOCIAL_CARD = { width: 1200, height: 630 } as const

/** JPEG, as crawlers read it (none reads AVIF); q82 keeps text-free photos clean at ~100-200 KB. */
const CARD_JPEG = { quality: 82, mozjpeg: true } as const

/** Bump when the card's crop or encoding changes: older cards are then made again. */
const CARD_VERSION = 1

/** A card's content hash by its settings and its input file's identity (path, size, times, inode). */
const cardHashes = new Map<string, string>()

/** Where the crop is centred: the subject (sharp's `attention` strategy), or a point as fractions of the image. */
export type CardFocus = 'attention' | { x: number; y: number }

export interface SocialCardOptions {
  /** The image file to crop (a cached original, or any local image). */
  input: string
  /** The cache directory: cards live in its `variants/cards/`, beside the other derived files. */
  cacheDir: string
  /** @default 'attention' */
  focus?: CardFocus | undefined
  /** Names the file (slugified), e.g. the prompt. @default 'card' */
  name?: string | undefined
  /** Where variants are served, for the card's URL. */
  serve: { publicPath: string; base: string }
  /** Counts decodes begun and real encodes (tests, benchmarks): a cached or refused card adds nothing. */
  counters?: { encodes: number; decodes?: number }
}

export interface SocialCard {
  /** Absolute path of the JPEG in the cache. */
  path: string
  /** Public URL: `base` + `publicPath` + `<slug>-card-<hash>.jpg` (content-hashed, safe to serve as immutable). */
  url: string
  width: number
  height: number
  type: 'image/jpeg'
  bytes: number
}

/**
 * A page's social card: the image cropped to 1200x630 and encoded as JPEG, centred on the subject
 * or on `focus`. Cached like the variants, under a hash of the input's bytes, the crop and the
 * encoder (sharp's version): a second call reads nothing while the input file is unchanged, and encodes nothing.
 * The input's header is checked as every other decode's is (`readImageHeader`): anything but a
 * PNG, JPEG or WebP within MAX_INPUT_PIXELS, whatever its name, is FLUX_BAD_CARD_INPUT, never decoded.
 */
export async function makeSocialCard({
  input,
  cacheDir,
  focus = 'attention',
  name = 'card',
  serve,
  counters,
}: SocialCardOptions): Promise<SocialCard> {
  const checked = checkFocus(focus)
  const settings = JSON.stringify([CARD_VERSION, SOCIAL_CARD, CARD_JPEG, checked, sharpVersion()])
  // Pages ask for the same card again (a post and the list): its input is read and hashed once
  // per process while the file keeps its identity.
  const { size, mtimeMs, ctimeMs, ino } = await stat(input)
  const identity = [settings, input, size, mtimeMs, ctimeMs, ino].join('\0')
  let bytes: Buffer | undefined
  let hash = cardHashes.get(identity)
  if (hash === undefined) {
    bytes = await readFile(input)
    hash = createHash('sha256').update(settings).update(bytes).digest('hex').slice(0, 16)
    cardHashes.set(identity, hash)
  }
  const fileName = `${slugify(name)}-card-${hash}.jpg`
  const dir = join(cacheDir, CACHE_LAYOUT.variants.dir, 'cards')
  const path = join(dir, fileName)
  const card = { path, url: publicUrl(fileName, serve), ...SOCIAL_CARD, type: 'image/jpeg' as const }
  const cached = await stat(path).catch(() => undefined)
  if (cached?.isFile()) return { ...card, bytes: cached.size }

  bytes ??= await readFile(input)
  // The bytes that are decoded are the ones checked: an SVG named .png costs seconds of CPU per
  // filter whatever its pixel count, and a PNG bomb gigabytes.
  const header = await readImageHeader(bytes).catch((err: unknown) => {
    const reason = err instanceof Error ? err.message.trim() : String(err)
    throw fluxError('FLUX_BAD_CARD_INPUT', { path: input, reason }, { cause: err })
  })
  const sharp = await loadSharp()
  if (counters) counters.decodes = (counters.decodes ?? 0) + 1
  const image = sharp(bytes, decodeOptions('error')).autoOrient()
  let cropped: typeof image
  if (checked === 'attention') {
    cropped = image.resize(SOCIAL_CARD.width, SOCIAL_CARD.height, {
      fit: 'cover',
      position: sharp.strategy.attention,
    })
  } else {
    // The header's dimensions are the displayed ones (EXIF orientation applied), as autoOrient() gives.
    const scaled = scaledToCover(header.width, header.height)
    cropped = image.resize(scaled).extract(cropAround(checked, scaled))
  }
  const data = await cropped.flatten({ background: '#ffffff' }).jpeg(CARD_JPEG).toBuffer()
  if (counters) counters.encodes++
  await mkdir(dir, { recursive: true })
  await mkdir(join(cacheDir, CACHE_LAYOUT.tmp.dir), { recursive: true })
  await writeFileAtomic(path, data, join(cacheDir, CACHE_LAYOUT.tmp.dir))
  return { ...card, bytes: data.length }
}

function checkFocus(focus: CardFocus): CardFocus {
  if (focus === 'attention') return focus
  const ok = (n: unknown) => typeof n === 'number' && n >= 0 && n <= 1
  if (typeof focus !== 'object' || focus === null || !ok(focus.x) || !ok(focus.y)) {
    throw new TypeError(
      `[flux] Expected the social card's \`focus\` to be 'attention' or { x, y } with each from 0 to 1 (fractions of the image's width and height), got ${JSON.stringify(focus)}.`,
    )
  }
  return { x: focus.x, y: focus.y }
}

/** The image's size once scaled so that it covers the card (up or down). */
function scaledToCover(width: number, height: number): { width: number; height: number } {
  const scale = Math.max(SOCIAL_CARD.width / width, SOCIAL_CARD.height / height)
  return {
    width: Math.max(SOCIAL_CARD.width, Math.round(width * scale)),
    height: Math.max(SOCIAL_CARD.height, Math.round(height * scale)),
  }
}

/** The card's rectangle in the scaled image, centred on the focal point as far as the edges allow. */
export function cropAround(
  focus: { x: number; y: number },
  scaled: { width: number; height: number },
): { left: number; top: number; width: number; height: number } {
  const clamp = (value: number, max: number) => Math.min(Math.max(0, Math.round(value)), max)
  return {
    left: clamp(focus.x * scaled.width - SOCIAL_CARD.width / 2, scaled.width - SOCIAL_CARD.width),
    top: clamp(focus.y * scaled.height - SOCIAL_CARD.height / 2, scaled.height - SOCIAL_CARD.height),
    ...SOCIAL_CARD,
  }
}
